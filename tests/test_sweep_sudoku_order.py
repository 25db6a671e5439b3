"""sweeps/sudoku_order.py: 004's decoding-order comparison runs and reports what it measured."""
from __future__ import annotations

import polars as pl
import pytest

from sweeps import sudoku_order


def test_configs_follow_004_table_7_and_table_1():
    labels = [c[0] for c in sudoku_order.configs(16, 0.1)]
    assert labels[0] == "left-to-right" and "any-order entropy" in labels
    assert {"block any-order (4) entropy", "entropy, 2 tokens/step", "entropy, 4 tokens/step"} <= set(labels)
    assert all(p["temperature"] == 0.0 for _, _, p, _ in sudoku_order.configs(16, 0.1))  # greedy, as 004


def test_smoke_run_writes_rows_and_a_table(tmp_path, capsys):
    assert sudoku_order.main(["--smoke", "--text-model", "", "--out", str(tmp_path), "--n-boot", "200"]) == 0
    df = pl.read_parquet(tmp_path / "sudoku_order.parquet")
    assert df.height == 18 * len(sudoku_order.configs(16, 0.1)) and set(df["task"]) == {"sudoku"}
    # one token per step: 16 rounds; k tokens per step: 16 / k rounds
    nfe = dict(df.group_by("config").agg(pl.col("nfe").mean()).iter_rows())
    assert nfe["left-to-right"] == 16 and nfe["entropy, 4 tokens/step"] == 4
    md = (tmp_path / "sudoku_order.md").read_text()
    assert "| left-to-right |" in md and "paired 95% CI" in md


@pytest.mark.parametrize("argv", [["--problems", "0"], ["--lam", "-1"]])
def test_bad_counts_are_refused(argv, tmp_path):
    with pytest.raises(SystemExit) as e:
        sudoku_order.parse_args([*argv, "--out", str(tmp_path)])
    assert e.value.code == 2
