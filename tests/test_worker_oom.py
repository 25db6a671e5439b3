"""Out-of-memory halves the batch (workers/oom.py): 32 -> 16 -> 8, said once, remembered for
the next batches, results in order; other errors and a single job's OOM still raise."""
from __future__ import annotations

from types import SimpleNamespace

import pytest
import torch

from workers.oom import BatchFitter


def _fake_gpu(fits: int, calls: list[int]):
    def generate(idx: list[int]):
        calls.append(len(idx))
        if len(idx) > fits:
            raise torch.cuda.OutOfMemoryError("CUDA out of memory. Tried to allocate 7.00 GiB")
        return SimpleNamespace(tokens=[f"tok{i}" for i in idx], traces=[f"tr{i}" for i in idx])
    return generate


def test_an_oom_halves_the_batch_logs_once_and_is_remembered():
    lines: list[str] = []
    calls: list[int] = []
    f = BatchFitter(lines.append)
    out = f.run(_fake_gpu(8, calls), list(range(32)))
    assert out == [(f"tok{i}", f"tr{i}") for i in range(32)]
    assert calls == [32, 16, 8, 8, 8, 8]             # halved, not dropped to one job at a time
    assert len(lines) == 1 and "at most 16" in lines[0]
    calls.clear()
    f.run(_fake_gpu(8, calls), list(range(20)))      # the next batch starts at the size that fits
    assert calls == [8, 8, 4] and len(lines) == 1


def test_other_errors_and_a_single_job_oom_are_the_callers():
    f = BatchFitter(lambda s: None)
    with pytest.raises(ValueError):
        f.run(lambda idx: (_ for _ in ()).throw(ValueError("bad")), [0, 1])
    with pytest.raises(torch.cuda.OutOfMemoryError):
        f.run(_fake_gpu(0, []), [0, 1, 2])
    assert f.limit == 1
