"""sweeps/tiny_quality.py: the unbiased pass@k estimator and a miniature run of the table."""
from __future__ import annotations

import itertools
import math

import pytest
import torch

from sweeps import tiny_quality


@pytest.mark.parametrize("n,c,k", [(16, 0, 1), (16, 3, 1), (16, 3, 16), (10, 4, 3), (5, 5, 2)])
def test_pass_at_k_matches_enumeration(n, c, k):
    outcomes = [1] * c + [0] * (n - c)
    subsets = list(itertools.combinations(range(n), k))
    expect = sum(any(outcomes[i] for i in s) for s in subsets) / len(subsets)
    assert tiny_quality.pass_at_k(n, c, k) == pytest.approx(expect)
    assert tiny_quality.pass_at_k(n, c, 1) == pytest.approx(c / n)


def test_pass_at_k_refuses_k_above_n():
    with pytest.raises(ValueError):
        tiny_quality.pass_at_k(4, 1, 5)


def test_miniature_table_runs(small_model_dir, capsys):
    threads = torch.get_num_threads()
    tiny_quality.main(["--model", small_model_dir, "--tasks", "countdown", "--problems", "2",
                       "--samples", "2", "--k", "2", "--speed-batch", "2", "--threads", "1"])
    torch.set_num_threads(threads)
    out = capsys.readouterr().out
    rows = [l for l in out.splitlines() if l.startswith("| countdown |")]
    assert len(rows) == 3 + 1 + 1  # three tiers, "all", the speed row
    assert math.isfinite(float(rows[-1].split("|")[-2]))


def test_model_speed_benchmark_compares_models_side_by_side(small_model_dir, capsys):
    from benchmarks import bench_model_speed

    threads = torch.get_num_threads()
    bench_model_speed.main(["--models", f"{small_model_dir},{small_model_dir}", "--tasks", "countdown",
                            "--batch", "2", "--rounds", "1", "--threads", "1"])
    torch.set_num_threads(threads)
    rows = [l.split("|") for l in capsys.readouterr().out.splitlines() if l.startswith("| countdown |")]
    assert len(rows) == 2  # one row per model
    assert float(rows[0][-2]) == 1.0  # the first model is the reference
    assert all(float(r[-3]) > 0 for r in rows)
