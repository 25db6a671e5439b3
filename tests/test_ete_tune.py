"""sweeps/ete_tune.py: ETE's knobs (and threshold / factor) chosen on a task's train split, then
run from a written spec on its test split (002 §5.4's protocol)."""
from __future__ import annotations

import json

import polars as pl
import pytest

from sweeps import ete_tune
from sweeps.engine.spec import load_spec


def test_the_choice_is_the_cheapest_configuration_within_tolerance_of_the_best():
    res = pl.DataFrame({
        "sampler": ["ete", "ete", "ete", "threshold", "threshold"],
        "params": ['{"threshold":0.9}', '{"threshold":0.7}', '{"threshold":0.5}',
                   '{"threshold":0.9}', '{"threshold":0.5}'],
        "accuracy": [0.80, 0.79, 0.50, 0.70, 0.70],
        "mean_nfe": [9.0, 6.0, 3.0, 8.0, 4.0],
        "problems": [24] * 5})
    chosen = ete_tune.choose(res, tolerance=0.02)
    assert chosen["ete"]["params"] == {"threshold": 0.7}          # 0.79 ≥ 0.80 − 0.02, fewer NFE
    assert chosen["threshold"]["params"] == {"threshold": 0.5}    # same accuracy, fewer NFE
    assert ete_tune.choose(res, tolerance=0.0)["ete"]["params"] == {"threshold": 0.9}
    assert ete_tune.choose(res, tolerance=0.5)["ete"]["params"] == {"threshold": 0.5}


def test_trials_start_from_the_defaults_and_are_distinct_seeded_draws():
    trials = ete_tune.draw_trials(8, seed=3)
    from workers.samplers import make_sampler

    defaults = make_sampler("ete").params
    assert trials[0] == {k: defaults[k] for k in ete_tune.SPACE}
    assert len({json.dumps(t, sort_keys=True) for t in trials}) == 8
    assert trials == ete_tune.draw_trials(8, seed=3) and trials != ete_tune.draw_trials(8, seed=4)
    assert all(t["beam"] <= 4 for t in trials)                  # 002 §5.2's free-lunch batch


@pytest.mark.slow   # two small sweeps through Ray (~90 s on 2 busy cores)
def test_smoke_tunes_on_train_and_runs_the_written_spec_on_test(ray_session, small_model_dir, tmp_path, capsys):
    out = tmp_path / "tune"
    assert ete_tune.main(["--smoke", "--model", small_model_dir, "--out", str(out), "--workers", "1",
                          "--no-report", "--no-progress"]) == 0
    printed = capsys.readouterr().out
    assert "tuned on train, scored on test" in printed
    tuning = json.loads((out / "tuning.json").read_text())
    chosen = tuning["chosen"]
    assert set(chosen) == {"threshold", "factor", "ete"}
    assert {r["params"] for r in tuning["train"]} >= {json.dumps(c["params"], sort_keys=True, separators=(",", ":"))
                                                       for c in chosen.values()}
    spec = load_spec(out / "test-spec.yaml")              # an ordinary spec, on the test split
    assert spec.samples == 1 and all("split" not in t.args for t in spec.tasks)
    ete = next(s for s in spec.samplers if s.name == "ete")
    assert ete.params == {k: v for k, v in chosen["ete"]["params"].items() if k != "threshold"}
    assert chosen["ete"]["params"]["threshold"] in ete.grid["threshold"]
    assert chosen["ete"]["params"]["temperature"] == 0.0 and chosen["ete"]["params"]["final_round"] is False
    train = pl.read_parquet(out / "train" / "shards" / "*.parquet")
    test = pl.read_parquet(out / "test" / "shards" / "*.parquet")
    assert not set(train["problem_id"]) & set(test["problem_id"])      # disjoint splits
    assert sum(r["tuned"] for r in tuning["test"]) == 3


def test_tables_take_cis_over_problems_so_copies_do_not_narrow_them():
    one = pl.DataFrame({"sampler": ["ete"] * 20, "params": ["{}"] * 20,
                        "problem_id": [f"p{i}" for i in range(20)],
                        "correct": [i % 3 == 0 for i in range(20)], "nfe": [4 + i % 2 for i in range(20)]})
    copies = pl.concat([one] * 4)
    a = ete_tune.problem_ci_table(one, ["sampler", "params"])
    b = ete_tune.problem_ci_table(copies.sample(fraction=1.0, shuffle=True, seed=1), ["sampler", "params"])
    assert a.equals(b) and a["problems"].to_list() == [20]
    assert a["acc_low"][0] < a["accuracy"][0] < a["acc_high"][0]
