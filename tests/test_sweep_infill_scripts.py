"""The reasoning-as-infilling scripts run end to end on the embedded default (smoke sizes)."""
from __future__ import annotations

import polars as pl

from sweeps import early_exit, posterior


def test_posterior_writes_a_dataset_whose_answers_are_the_references(tmp_path):
    from workers.tasks import load_task

    assert posterior.main(["--smoke", "--out", str(tmp_path)]) == 0
    df = pl.read_parquet(tmp_path / "posterior.parquet")
    assert df.columns == ["problem_id", "prompt", "answer", "trace", "seed", "nfe", "reasoning_valid"]
    assert df.schema["reasoning_valid"] == pl.Boolean and df["reasoning_valid"].null_count() == 0
    refs = {p.problem_id: p.reference for p in load_task("arith").problems}
    for row in df.iter_rows(named=True):
        assert row["answer"] == refs[row["problem_id"]]
        assert row["trace"].endswith(f"\\boxed{{{int(row['answer']):02d}}}")  # the pre-filled block, unchanged


def test_bad_template_parameters_are_one_line_errors(tmp_path, capsys):
    assert early_exit.main(["--smoke", "--answer-length", "0", "--out", str(tmp_path)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error:") and "\n" not in err
