"""Bits vs rounds (paper 002 §5.1): the budget B(f), the per-sample bound, OLS, explore/exploit shares."""
from __future__ import annotations

import math

import numpy as np
import polars as pl
import pytest

from analysis import bits_budget, bits_vs_rounds, rounds_bound


@pytest.mark.parametrize(("f", "expected"), [(0.5, 0.5), (1.0, 1.0), (1.5, 1.5), (1.9, math.log(20))])
def test_budget_values_from_design_section_5(f, expected):
    assert bits_budget(f) == pytest.approx(expected, abs=1e-12)


def test_budget_is_the_supremum_over_round_sizes():
    k = np.arange(1, 100_001, dtype=np.float64)
    for f in (0.1, 0.5, 1.0, 1.3, 1.5, 1.7, 1.9, 1.99):
        terms = -k * np.log1p(-f / (k + 1))
        assert bits_budget(f) >= terms.max() - 1e-12
        assert bits_budget(f) == pytest.approx(max(terms.max(), f), abs=1e-4)


def test_budget_edges():
    assert bits_budget(2.0) == math.inf and bits_budget(3.0) == math.inf   # rank 1 passes anything
    assert bits_budget(0.0) == 0.0
    assert round(bits_budget(1.9), 1) == 3.0
    assert rounds_bound(10.0, 1.0) == pytest.approx(10 * math.log(2))      # bits·ln2/B(f)
    assert rounds_bound(10.0, 2.5) == 0.0


def test_ols_of_rounds_on_bits_by_hand():
    # x = bits = [0, 1, 2], y = nfe = [1, 3, 2]: x̄ = 1, ȳ = 2, Sxy = 1, Sxx = 2, Syy = 2
    # → slope 1/2, intercept 3/2, R² = 1²/(2·2) = 1/4.
    df = pl.DataFrame({"sampler": ["factor"] * 3, "factor": [1.0] * 3, "bits": [0.0, 1.0, 2.0], "nfe": [1, 3, 2]})
    row = bits_vs_rounds(df, by=["sampler"]).row(0, named=True)
    assert row["samples"] == 3
    assert (row["slope"], row["intercept"], row["r2"]) == pytest.approx((0.5, 1.5, 0.25))
    assert row["mean_bits"] == 1.0 and row["mean_nfe"] == 2.0
    assert row["bits_per_round"] == pytest.approx(3 / 6)
    assert row["budget_nats"] == 1.0 and row["bound_slope"] == pytest.approx(math.log(2))


def test_exact_line_and_constant_rounds():
    bits = np.linspace(10, 50, 9)
    df = pl.DataFrame({"sampler": ["a"] * 9 + ["b"] * 9, "bits": np.concatenate([bits, bits]),
                       "nfe": np.concatenate([2 + 0.5 * bits, np.full(9, 64.0)])})
    out = {r["sampler"]: r for r in bits_vs_rounds(df, by=["sampler"]).iter_rows(named=True)}
    assert (out["a"]["slope"], out["a"]["intercept"], out["a"]["r2"]) == pytest.approx((0.5, 2.0, 1.0))
    # One-token samplers: rounds = gen_length whatever the bits → slope 0, R² undefined.
    assert out["b"]["slope"] == 0.0 and out["b"]["r2"] is None


def test_bound_violations_are_counted_per_sample():
    # f = 1 → B = 1 nat per round.  10 exploitation bits need ≥ 10·ln2 ≈ 6.93 rounds.
    df = pl.DataFrame({
        "sampler": ["factor"] * 3 + ["threshold"],
        "factor": [1.0, 1.0, 1.0, None],
        "bits": [20.0, 20.0, 20.0, 20.0], "nfe": [12, 13, 20, 5],
        "exploit_bits": [10.0, 10.0, 0.0, 10.0], "exploit_rounds": [6, 7, 0, 1],
        "explore_bits": [10.0, 10.0, 20.0, 10.0], "explore_rounds": [6, 6, 20, 4],
    })
    out = {r["sampler"]: r for r in bits_vs_rounds(df, by=["sampler"]).iter_rows(named=True)}
    assert out["factor"]["bound_checked"] == 3
    assert out["factor"]["bound_violations"] == 1                          # the 6-round sample
    assert out["threshold"]["bound_checked"] is None                       # no factor: no bound
    # Shares are ratios of sums (002 Fig. 2): explore bits 40 of 60, explore rounds 32 of 45.
    assert out["factor"]["explore_bit_share"] == pytest.approx(40 / 60)
    assert out["factor"]["explore_round_share"] == pytest.approx(32 / 45)
    assert out["factor"]["exploit_bits_per_round"] == pytest.approx(20 / 13)


def test_columns_absent_means_sections_absent_not_errors():
    df = pl.DataFrame({"sampler": ["random"] * 2, "bits": [1.0, 2.0], "nfe": [3, 5]})
    out = bits_vs_rounds(df, by=["sampler"])
    assert "bound_violations" not in out.columns and "explore_bit_share" not in out.columns
    assert out["slope"][0] == pytest.approx(2.0)


def test_missing_bits_is_a_one_line_error():
    with pytest.raises(ValueError, match="bits vs rounds needs column.*bits"):
        bits_vs_rounds(pl.DataFrame({"sampler": ["a"], "nfe": [3]}))


def test_the_l2r_fit_regresses_rounds_on_the_rescored_bits_and_the_trajectory_fit_is_separate():
    # bits_l2r = [0, 1, 2] (+ one row without it), nfe = [1, 3, 2, 9]: slope 1/2, intercept 3/2,
    # R² 1/4 on the three rescored rows (002 §5.1); trajectory bits make a different line.
    df = pl.DataFrame({"sampler": ["factor"] * 4, "factor": [1.0] * 4, "nfe": [1, 3, 2, 9],
                       "bits": [5.0, 1.0, 3.0, 7.0], "bits_l2r": [0.0, 1.0, 2.0, None]})
    row = bits_vs_rounds(df, by=["sampler"]).row(0, named=True)
    assert row["l2r_samples"] == 3 and row["samples"] == 4
    assert (row["l2r_slope"], row["l2r_intercept"], row["l2r_r2"]) == pytest.approx((0.5, 1.5, 0.25))
    assert row["mean_bits_l2r"] == pytest.approx(1.0)
    # trajectory fit on all four rows: x̄ = 4, ȳ = 3.75, Sxy = 17, Sxx = 20 → slope 0.85
    assert row["slope"] == pytest.approx(0.85) and row["mean_bits"] == pytest.approx(4.0)


def test_without_bits_l2r_the_l2r_fit_is_absent_or_null():
    df = pl.DataFrame({"sampler": ["a"] * 2 + ["b"] * 2, "bits": [1.0, 2.0, 1.0, 2.0], "nfe": [3, 5, 3, 5],
                       "bits_l2r": [None, None, 1.0, 3.0]})
    out = {r["sampler"]: r for r in bits_vs_rounds(df, by=["sampler"]).iter_rows(named=True)}
    assert out["a"]["l2r_samples"] == 0 and out["a"]["l2r_slope"] is None and out["a"]["mean_bits_l2r"] is None
    assert out["b"]["l2r_slope"] == pytest.approx(1.0)
    assert "l2r_slope" not in bits_vs_rounds(df.drop("bits_l2r"), by=["sampler"]).columns
