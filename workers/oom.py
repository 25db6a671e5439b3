"""Out-of-memory on the accelerator: halve the batch, not drop to one job at a time.

A batch of 32 that does not fit on a 24 GB GPU usually fits at 16; running it job by job would
cost a 32x slowdown for the rest of the night.  ``BatchFitter`` runs a batch in chunks of the
largest size that has fitted so far, halves the chunk on an out-of-memory error (down to one
job, after which the error is the job's), remembers the size for later batches, and says so
once.  Splitting never changes results: each sample is seeded by its own job, and a sample
never depends on its batch (workers/samplers/base.py).
"""
from __future__ import annotations

from typing import Any, Callable, Optional


def is_oom(e: BaseException) -> bool:
    """An accelerator (or allocator) out-of-memory error."""
    import torch

    oom = getattr(torch.cuda, "OutOfMemoryError", None)
    return (oom is not None and isinstance(e, oom)) or (
        isinstance(e, RuntimeError) and "out of memory" in str(e).lower())


class BatchFitter:
    """Runs ``generate(indices) -> output`` (``.tokens`` / ``.traces`` per index) in chunks."""

    def __init__(self, log: Callable[[str], None] = lambda s: print(s, flush=True)) -> None:
        self.limit: Optional[int] = None  # largest chunk known to fit; None: untested
        self.log = log
        self.logged = False

    def run(self, generate: Callable[[list[int]], Any], idx: list[int]) -> list[tuple[Any, Any]]:
        """(tokens, trace) of every index, in order."""
        size = len(idx) if self.limit is None else min(self.limit, len(idx))
        out: list[tuple[Any, Any]] = []
        i = 0
        while i < len(idx):
            chunk = idx[i:i + size]
            try:
                o = generate(chunk)
            except Exception as e:
                if not is_oom(e) or size == 1:
                    raise
                self._free()
                size = max(1, size // 2)
                self.limit = size
                if not self.logged:
                    self.logged = True
                    self.log(f"out of memory at a batch of {len(chunk)}: running at most {size} jobs "
                             "per generate from now on (halved again if needed)")
                continue
            out += [(o.tokens[k], o.traces[k]) for k in range(len(chunk))]
            i += len(chunk)
        return out

    @staticmethod
    def _free() -> None:
        import torch

        if torch.cuda.is_available():
            torch.cuda.empty_cache()
