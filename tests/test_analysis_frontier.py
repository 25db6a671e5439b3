"""Pareto frontier of (Pass@1, Pass@k) per configuration (paper 000 Fig. 3 left)."""
from __future__ import annotations

import json

import numpy as np
import polars as pl
import pytest

from analysis import KNOBS, knob_of, non_dominated, pareto_frontier
from analysis_fixtures import outcomes


def config(sampler: str, **params) -> dict:
    """Flattened knob columns plus the sorted-key params JSON, as workers write them."""
    return {"params": json.dumps(params, sort_keys=True), **params}


def test_non_dominated_keeps_ties_and_drops_dominated_points():
    x = [0.5, 0.6, 0.4, 0.6, 0.2]
    y = [0.9, 0.8, 0.7, 0.8, 0.9]
    # (0.4, 0.7) is beaten by (0.5, 0.9); (0.2, 0.9) by (0.5, 0.9); the two (0.6, 0.8) tie.
    assert non_dominated(x, y).tolist() == [True, True, False, True, False]
    assert non_dominated([], []).tolist() == []
    assert non_dominated([0.3], [0.3]).tolist() == [True]


def test_knob_mapping_is_a_documented_dict_with_override():
    assert KNOBS["imh"] == "alpha" and KNOBS["factor"] == "factor" and KNOBS["eb"] == "gamma"
    assert KNOBS["med"] == "lam" and KNOBS["threshold"] == "threshold"
    assert knob_of("confidence") == "temperature"      # one-token samplers: τ
    assert knob_of("imh", {"imh": "chain_length"}) == "chain_length"


@pytest.fixture()
def two_samplers() -> pl.DataFrame:
    # n = 2 per (config, problem), problems p1 and p2.  pass@2 = 1 if c ≥ 1, else 0.
    return pl.concat([
        outcomes([("confidence", "p1", 2, 2), ("confidence", "p2", 2, 0)], **config("confidence", temperature=0.0)),
        outcomes([("confidence", "p1", 2, 1), ("confidence", "p2", 2, 1)], **config("confidence", temperature=1.0)),
        outcomes([("imh", "p1", 2, 1), ("imh", "p2", 2, 0)], **config("imh", alpha=2.0)),
    ], how="diagonal")


def test_points_and_frontier_flags_by_hand(two_samplers):
    out = pareto_frontier(two_samplers, k=2, n_boot=200)
    got = {(r["sampler"], r["knob"]): r for r in out.iter_rows(named=True)}
    # confidence τ=0: pass@1 (1 + 0)/2 = 0.5, pass@2 (1 + 0)/2 = 0.5
    # confidence τ=1: pass@1 (0.5 + 0.5)/2 = 0.5, pass@2 (1 + 1)/2 = 1.0
    # imh α=2: pass@1 (0.5 + 0)/2 = 0.25, pass@2 (1 + 0)/2 = 0.5
    assert (got["confidence", 0.0]["pass@1"], got["confidence", 0.0]["pass@2"]) == (0.5, 0.5)
    assert (got["confidence", 1.0]["pass@1"], got["confidence", 1.0]["pass@2"]) == (0.5, 1.0)
    assert (got["imh", 2.0]["pass@1"], got["imh", 2.0]["pass@2"]) == (0.25, 0.5)
    assert got["confidence", 0.0]["knob_name"] == "temperature" and got["imh", 2.0]["knob_name"] == "alpha"
    # τ=1 dominates τ=0 (equal Pass@1, better Pass@2) and the IMH point.
    assert [got[c]["on_sampler_frontier"] for c in (("confidence", 0.0), ("confidence", 1.0), ("imh", 2.0))] == [False, True, True]
    assert [got[c]["on_frontier"] for c in (("confidence", 0.0), ("confidence", 1.0), ("imh", 2.0))] == [False, True, False]


def test_bootstrap_intervals_bracket_the_estimate(two_samplers):
    out = pareto_frontier(two_samplers, k=2, n_boot=300, seed=1)
    for col in ("pass@1", "pass@2"):
        assert (out[f"{col}_lo"] <= out[col] + 1e-12).all() and (out[col] <= out[f"{col}_hi"] + 1e-12).all()
    # τ=1 scores 0.5/1.0 on both problems: every resample gives the same value.
    row = out.filter(pl.col("knob") == 1.0).row(0, named=True)
    assert row["pass@1_lo"] == row["pass@1_hi"] == 0.5


def test_single_problem_one_sampler_gives_degenerate_intervals():
    df = outcomes([("margin", "p1", 4, 1)], **config("margin", temperature=0.5))
    out = pareto_frontier(df, k=4, n_boot=50)
    row = out.row(0, named=True)
    assert row["pass@1"] == row["pass@1_lo"] == row["pass@1_hi"] == 0.25
    assert row["pass@4"] == 1.0
    assert row["on_frontier"] and row["on_sampler_frontier"]


def test_series_separate_configs_that_differ_beyond_the_knob():
    df = pl.concat([
        outcomes([("imh", "p1", 2, 1)], **config("imh", alpha=2.0, chain_length=2)),
        outcomes([("imh", "p1", 2, 2)], **config("imh", alpha=2.0, chain_length=4)),
        outcomes([("imh", "p1", 2, 0)], **config("imh", alpha=4.0, chain_length=4)),
    ])
    out = pareto_frontier(df, k=2, n_boot=10)
    assert sorted(set(out["series"])) == ["imh chain_length=2", "imh chain_length=4"]


def test_knob_override_and_frontiers_per_task():
    df = pl.concat([outcomes([("imh", "p1", 2, 1)], task="math", **config("imh", alpha=2.0, chain_length=2)),
                    outcomes([("imh", "p1", 2, 2)], task="code", **config("imh", alpha=2.0, chain_length=4))])
    out = pareto_frontier(df, k=2, knobs={"imh": "chain_length"}, n_boot=10)
    assert out.select(["task", "knob_name", "knob"]).sort("task").rows() == [("code", "chain_length", 4.0),
                                                                             ("math", "chain_length", 2.0)]
    assert out["on_frontier"].all()  # each task is its own frontier


def test_k_above_n_is_refused(two_samplers):
    with pytest.raises(ValueError, match="pass@4 needs at least 4"):
        pareto_frontier(two_samplers, k=4)


def test_missing_knob_column_leaves_knob_null():
    df = outcomes([("confidence", "p1", 2, 1)])
    out = pareto_frontier(df, k=2, n_boot=10)
    assert out["knob"].to_list() == [None]
    assert np.isfinite(out["pass@2"][0])
