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


def test_early_exit_cis_are_over_problems_so_identical_copies_do_not_narrow_them():
    """The problem is the unit: four identical greedy copies of every sample give the same
    accuracy change and CI as one sample per problem."""
    import random

    rng = random.Random(0)
    one = []
    for i in range(30):
        base, exited = rng.random() < 0.7, rng.random() < 0.6
        for gamma, correct in ((0.0, base), (1.0, base and exited)):
            one.append(dict(problem_id=f"p{i}", sampler="entropy", params="[]", gamma=gamma, seed=0,
                            correct=correct, nfe=10 if gamma == 0 else 6, exit_step=None if gamma == 0 else 3))
    four = [{**r, "seed": s} for r in one for s in range(4)]
    a, b = early_exit.summarize(pl.DataFrame(one)), early_exit.summarize(pl.DataFrame(four))
    assert a.select("acc_change", "ci_low", "ci_high", "problems").equals(
        b.select("acc_change", "ci_low", "ci_high", "problems"))
    row = a.filter(pl.col("gamma") == 1.0).row(0, named=True)
    assert row["problems"] == 30 and row["ci_low"] < row["acc_change"] < 0


class _CharTokenizer:
    unk_token_id = None

    def encode(self, text, add_special_tokens=False):
        return [ord(c) for c in text]

    def decode(self, ids):
        return "".join(chr(i) for i in ids)


class _CharModel:
    mask_id = 0
    tokenizer = _CharTokenizer()


def test_004_table2_templates_total_the_no_exit_rows_length_256():
    """004 §5.1: L = 256 with the template, as the NO-TEMPLATE / NO-EXIT rows: the reasoning gets
    what the delimiter and the 10 answer tokens leave, whatever the tokenizer."""
    from sweeps.engine.infill_common import template_for

    model = _CharModel()
    for task in ("gsm8k", "math500"):
        tpl = template_for(task, None, None, model)
        assert tpl.gen_length(model) == 256 and tpl.answer_length == 10
        assert template_for(task, 100, None, model).reasoning_length == 100   # an explicit budget wins
