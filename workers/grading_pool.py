"""Grading off the device's critical path (docs/design.md §4).

A HumanEval sample takes about a second in the code sandbox and a bad math answer can keep
sympy / math-verify busy for seconds; graded in the GPU actor's thread, that time would leave the
device idle.  ``GradingPool`` grades a batch's samples concurrently on CPU threads, one per CPU of
the node by default: each code grade runs in its own sandboxed process (``workers/sandbox.py``,
whose memory, process and time limits stay the task's), so the threads mostly wait; the actor's
device lock lets the next batch generate meanwhile (``SweepWorker.run``).
"""
from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Optional, Sequence


def node_cpus() -> int:
    """CPUs this process may use (cgroup/affinity aware where the OS says)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - not Linux
        return max(1, os.cpu_count() or 1)


class GradingPool:
    """``grade(task, problems, texts)`` -> grades in order, computed ``workers`` at a time."""

    def __init__(self, workers: Optional[int] = None) -> None:
        self.workers = workers or node_cpus()
        self._pool: Optional[ThreadPoolExecutor] = None   # started on first use (actors pickle lazily)

    def grade(self, task: Any, problems: Sequence[Any], texts: Sequence[str]) -> list[Any]:
        if len(problems) <= 1 or self.workers == 1:
            return [task.grade(p, t) for p, t in zip(problems, texts)]
        if self._pool is None:
            self._pool = ThreadPoolExecutor(max_workers=self.workers, thread_name_prefix="grade")
        return list(self._pool.map(task.grade, problems, texts))
