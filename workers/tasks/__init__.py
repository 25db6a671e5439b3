"""Tasks: fixed, versioned test problems plus exact graders (DESIGN.md §3).

    from workers.tasks import load_task
    task = load_task("countdown")            # split="test" (default) or "train"
    pr = task.problems[0]                    # Problem(problem_id, prompt, reference, difficulty, meta)
    task.grade(pr, "3*5+7=22")               # Grade(correct, extracted, error); never raises
    task.train_examples(1000, seed=0)        # [(prompt, completion)], disjoint from the test set
    task.gen_length, task.block_length, task.version, task.tiers

Registered tasks live in ``TASKS`` (name -> factory accepting ``split``, ``path`` and keywords).
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


TASKS: dict[str, TaskFactory] = {
    "countdown": _countdown,
    "arith": _arith,
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
