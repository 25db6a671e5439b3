"""Difficulty-stratified Pass@k (paper 000 Fig. 3 middle): labels first, else a reference's solve rate."""
from __future__ import annotations

import polars as pl
import pytest

from analysis import problem_tiers, stratified_pass_at_k
from analysis_fixtures import outcomes


def labelled(spec, label_of):
    return outcomes(spec).with_columns(difficulty=pl.col("problem_id").replace_strict(label_of))


def test_tiers_come_from_difficulty_labels_when_present():
    df = labelled([("a", "e1", 2, 2), ("a", "e2", 2, 0), ("a", "h1", 2, 1), ("b", "e1", 2, 1), ("b", "e2", 2, 1),
                   ("b", "h1", 2, 0)], {"e1": "easy", "e2": "easy", "h1": "hard"})
    out = stratified_pass_at_k(df, k=2, by=["sampler"])
    assert out.select(["tier", "sampler", "problems", "pass@2"]).rows() == [
        ("easy", "a", 2, 0.5),   # e1 solved (c=2), e2 never (c=0)
        ("easy", "b", 2, 1.0),   # c=1 of n=2 → pass@2 = 1 on both
        ("hard", "a", 1, 1.0),
        ("hard", "b", 1, 0.0),
    ]


def test_missing_difficulty_uses_the_reference_solve_rate_with_documented_cuts():
    # confidence solve rates: q1 4/4 = 1 (easy), q2 2/4 = 0.5 (medium), q3 1/4 (hard), q4 0 (unsolved)
    ref = [("confidence", "q1", 4, 4), ("confidence", "q2", 4, 2), ("confidence", "q3", 4, 1), ("confidence", "q4", 4, 0)]
    imh = [("imh", "q1", 4, 4), ("imh", "q2", 4, 1), ("imh", "q3", 4, 1), ("imh", "q4", 4, 1)]
    df = outcomes(ref + imh)
    tiers = problem_tiers(df).sort("problem_id")
    assert tiers["tier"].to_list() == ["easy", "medium", "hard", "unsolved"]
    assert tiers["solve_rate"].to_list() == [1.0, 0.5, 0.25, 0.0]
    out = stratified_pass_at_k(df, k=4, by=["sampler"]).filter(pl.col("sampler") == "imh")
    assert out.select(["tier", "pass@4"]).rows() == [("easy", 1.0), ("medium", 1.0), ("hard", 1.0), ("unsolved", 1.0)]


def test_cut_points_at_the_edges():
    # 2/3 is easy, just below is medium; 1/3 is medium, just below is hard.
    df = outcomes([("confidence", "a", 3, 2), ("confidence", "b", 300, 199), ("confidence", "c", 3, 1),
                   ("confidence", "d", 300, 99)])
    assert problem_tiers(df).sort("problem_id")["tier"].to_list() == ["easy", "medium", "medium", "hard"]


def test_all_null_difficulty_counts_as_missing_and_reference_is_configurable():
    df = outcomes([("random", "q1", 2, 0), ("random", "q2", 2, 2), ("entropy", "q1", 2, 2), ("entropy", "q2", 2, 0)],
                  difficulty=None)
    by_random = problem_tiers(df, reference="random").sort("problem_id")["tier"].to_list()
    by_entropy = problem_tiers(df, reference={"sampler": "entropy"}).sort("problem_id")["tier"].to_list()
    assert by_random == ["unsolved", "easy"] and by_entropy == ["easy", "unsolved"]


def test_without_confidence_the_most_sampled_sampler_is_the_reference():
    df = outcomes([("margin", "q1", 4, 4), ("random", "q1", 2, 0)])
    assert problem_tiers(df)["tier"].to_list() == ["easy"]


def test_problems_the_reference_never_ran_are_unrated_and_unlabelled_ones_say_so():
    df = outcomes([("confidence", "q1", 2, 2), ("imh", "q1", 2, 2), ("imh", "q2", 2, 0)])
    assert problem_tiers(df).sort("problem_id")["tier"].to_list() == ["easy", "unrated"]
    partly = labelled([("imh", "q1", 2, 2), ("imh", "q2", 2, 0)], {"q1": "hard", "q2": None})
    assert problem_tiers(partly).sort("problem_id")["tier"].to_list() == ["hard", "unlabelled"]


def test_one_sampler_single_problem():
    out = stratified_pass_at_k(labelled([("imh", "q1", 32, 1)], {"q1": "hard"}), by=["sampler"])
    assert out.rows() == [("hard", "imh", 1, 32, 32, 1.0)]
    assert out.columns == ["tier", "sampler", "problems", "samples", "n_min", "pass@32"]


def test_errors():
    df = outcomes([("confidence", "q1", 4, 1)])
    with pytest.raises(ValueError, match="pass@32 needs at least 32"):
        stratified_pass_at_k(df)
    with pytest.raises(ValueError, match="reference .*sampler=nobody.* has no samples"):
        stratified_pass_at_k(df, k=2, reference="nobody")
