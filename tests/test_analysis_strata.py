"""Difficulty-stratified Pass@k (paper 000 Fig. 3 middle): labels first, else a reference's solve rate."""
from __future__ import annotations

import numpy as np
import polars as pl
import pytest

from analysis import problem_tiers, stratified_pass_at_k
from analysis.strata import stratified_from_counts, tiers_from_counts
from analysis_fixtures import outcomes, write_shards


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


def reference_rows(sampler: str, pid: str, n: int, wins: int, odd_wins: int = 0) -> pl.DataFrame:
    """n even seeds (the tier half) with the first ``wins`` correct, n odd seeds with ``odd_wins``."""
    return pl.DataFrame({"sampler": sampler, "problem_id": pid, "seed": list(range(0, 2 * n, 2)) + list(range(1, 2 * n, 2)),
                         "correct": [i < wins for i in range(n)] + [i < odd_wins for i in range(n)]})


def test_a_requested_reference_sampler_rates_on_its_even_seeds_only():
    # confidence even-seed solve rates: q1 1 (easy), q2 0.5 (medium), q3 1/4 (hard), q4 0 (unsolved);
    # its odd seeds say the opposite, and must not change the tiers.
    ref = pl.concat([reference_rows("confidence", "q1", 4, 4, 0), reference_rows("confidence", "q2", 4, 2, 4),
                     reference_rows("confidence", "q3", 4, 1, 4), reference_rows("confidence", "q4", 4, 0, 4)])
    imh = outcomes([("imh", "q1", 4, 4), ("imh", "q2", 4, 1), ("imh", "q3", 4, 1), ("imh", "q4", 4, 1)])
    df = pl.concat([ref, imh.select(ref.columns)])
    tiers = problem_tiers(df, reference="confidence").sort("problem_id")
    assert tiers["tier"].to_list() == ["easy", "medium", "hard", "unsolved"]
    assert tiers["solve_rate"].to_list() == [1.0, 0.5, 0.25, 0.0]
    out = stratified_pass_at_k(df, k=4, by=["sampler"], reference="confidence")
    assert out.filter(pl.col("sampler") == "imh").select(["tier", "pass@4"]).rows() == [
        ("easy", 1.0), ("medium", 1.0), ("hard", 1.0), ("unsolved", 1.0)]
    # the reference is scored on its odd seeds only, with the n that is left (4 of 8)
    conf = out.filter(pl.col("sampler") == "confidence")
    assert conf.select(["tier", "samples", "n_min", "pass@4"]).rows() == [
        ("easy", 4, 4, 0.0), ("medium", 4, 4, 1.0), ("hard", 4, 4, 1.0), ("unsolved", 4, 4, 1.0)]


def test_cut_points_at_the_edges():
    # 2/3 is easy, just below is medium; 1/3 is medium, just below is hard (even seeds only).
    df = pl.concat([reference_rows("confidence", "a", 3, 2), reference_rows("confidence", "b", 300, 199),
                    reference_rows("confidence", "c", 3, 1), reference_rows("confidence", "d", 300, 99)])
    assert problem_tiers(df).sort("problem_id")["tier"].to_list() == ["easy", "medium", "medium", "hard"]


def test_all_null_difficulty_counts_as_missing_and_reference_is_configurable():
    df = outcomes([("random", "q1", 2, 0), ("random", "q2", 2, 2), ("entropy", "q1", 2, 2), ("entropy", "q2", 2, 0)],
                  difficulty=None)
    by_random = problem_tiers(df, reference="random").sort("problem_id")["tier"].to_list()
    by_entropy = problem_tiers(df, reference={"sampler": "entropy"}).sort("problem_id")["tier"].to_list()
    assert by_random == ["unsolved", "easy"] and by_entropy == ["easy", "unsolved"]


def test_by_default_every_configuration_rates_with_equal_weight_on_even_seeds_and_odd_seeds_are_scored():
    # even seeds: margin 2/2 solved, random 0/1 → (1 + 0)/2 = 0.5 (medium), whatever each one's n
    df = outcomes([("margin", "q1", 4, 4), ("random", "q1", 2, 0)])
    tiers = problem_tiers(df)
    assert tiers["tier"].to_list() == ["medium"] and tiers["solve_rate"].to_list() == [0.5]
    out = stratified_pass_at_k(df, k=1, by=["sampler"])
    assert out.select(["sampler", "samples"]).rows() == [("margin", 2), ("random", 1)]   # odd seeds only


def test_problems_the_reference_never_ran_are_unrated_and_unlabelled_ones_say_so():
    df = outcomes([("confidence", "q1", 2, 2), ("imh", "q1", 2, 2), ("imh", "q2", 2, 0)])
    assert problem_tiers(df, reference="confidence").sort("problem_id")["tier"].to_list() == ["easy", "unrated"]
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


# ------------------------------------------------- strata not rated on the samples they score
def identical_rate_samples(seed: int = 0) -> pl.DataFrame:
    """Two samplers, 64 seeds each, drawn from the SAME per-problem success rates (many near 0)."""
    rng = np.random.default_rng(seed)
    rates = np.concatenate([rng.uniform(0.005, 0.05, 30), rng.uniform(0.1, 0.3, 20), rng.uniform(0.4, 0.95, 20)])
    frames = []
    for sampler in ("confidence", "max_prob"):
        wins = rng.random((len(rates), 64)) < rates[:, None]
        frames.append(pl.DataFrame({
            "sampler": sampler,
            "problem_id": np.repeat([f"p{i:02d}" for i in range(len(rates))], 64),
            "seed": np.tile(np.arange(64), len(rates)),
            "correct": wins.ravel(),
        }))
    return pl.concat(frames)


def overlaps(table: pl.DataFrame, k: int) -> dict[str, bool]:
    out = {}
    for tier in table["tier"].unique().to_list():
        a, b = table.filter(pl.col("tier") == tier).sort("sampler").select([f"pass@{k}_lo", f"pass@{k}_hi"]).rows()
        out[tier] = a[0] <= b[1] + 1e-6 and b[0] <= a[1] + 1e-6   # (bootstrap means round)
    return out


def test_identical_success_rates_give_per_tier_pass32_equal_within_cis():
    """Issue 16 point 1: tiers rated on even seeds, scores on the rest, so two samplers with
    identical per-problem rates agree on every tier (95% bootstrap CIs overlap)."""
    df = identical_rate_samples()
    table = stratified_pass_at_k(df, k=32, by=["sampler"], n_boot=1000, reference="confidence")
    assert set(table["tier"]) == {"easy", "medium", "hard", "unsolved"}
    assert all(overlaps(table, 32).values()), table


def test_the_circular_strata_fail_the_same_check():
    """Guard: tiers rated on the very samples they score (the old default) put the reference at
    exactly 0 on "unsolved" and the other sampler well above it — the check above catches it."""
    df = identical_rate_samples()
    counts = df.group_by(["sampler", "problem_id"]).agg(n=pl.len(), c=pl.col("correct").sum().cast(pl.Int64))
    tiers, _ = tiers_from_counts(counts, ["problem_id"], "confidence")
    table = stratified_from_counts(counts, tiers, 32, ["sampler"], ["problem_id"], n_boot=1000)
    unsolved = table.filter(pl.col("tier") == "unsolved").sort("sampler")
    assert unsolved["pass@32"].to_list()[0] == 0.0 and unsolved["pass@32"].to_list()[1] > 0.1
    assert not overlaps(table, 32)["unsolved"]


def test_a_reference_sweep_rates_tiers_and_every_scored_sample_counts(tmp_path):
    ref_dir = write_shards(tmp_path / "ref", outcomes([("confidence", "q1", 4, 4), ("confidence", "q2", 4, 0),
                                                       ("random", "q1", 8, 0), ("random", "q2", 8, 8)]))
    df = outcomes([("confidence", "q1", 2, 0), ("confidence", "q2", 2, 2), ("imh", "q1", 2, 1), ("imh", "q3", 2, 1)])
    tiers = problem_tiers(df, reference=str(ref_dir)).sort("problem_id")
    assert tiers["tier"].to_list() == ["easy", "unsolved", "unrated"]       # q3 not in the reference
    assert problem_tiers(df, reference=ref_dir, reference_sampler="random").sort("problem_id")["tier"].to_list() == [
        "unsolved", "easy", "unrated"]
    out = stratified_pass_at_k(df, k=2, by=["sampler"], reference=str(ref_dir))
    assert out.select(["tier", "sampler", "samples", "pass@2"]).rows() == [   # all seeds of the scored sweep
        ("easy", "confidence", 2, 0.0), ("easy", "imh", 2, 1.0), ("unsolved", "confidence", 2, 1.0),
        ("unrated", "imh", 2, 1.0)]
    labelled_df = labelled([("imh", "q1", 2, 1)], {"q1": "hard"})
    assert problem_tiers(labelled_df, reference=str(ref_dir))["tier"].to_list() == ["hard"]   # labels win


def test_split_errors_are_one_line():
    no_seed = outcomes([("confidence", "q1", 4, 1)]).drop("seed")
    with pytest.raises(ValueError, match="seed") as e:
        problem_tiers(no_seed)
    assert "\n" not in str(e.value)
    with pytest.raises(ValueError, match="reference_sampler is for a reference sweep"):
        problem_tiers(outcomes([("confidence", "q1", 4, 1)]), reference_sampler="random")
    with pytest.raises(ValueError, match="even seeds rate the tiers"):
        stratified_pass_at_k(outcomes([("confidence", "q1", 4, 1)]), k=4, by=["sampler"])
    with pytest.raises(ValueError, match="even seeds rate the tiers"):
        stratified_pass_at_k(outcomes([("confidence", "q1", 4, 1)]), k=4, by=["sampler"], reference="confidence")


def test_command_line_takes_a_reference_dir(tmp_path, capsys):
    from analysis.strata import main

    ref = write_shards(tmp_path / "ref", outcomes([("confidence", "q1", 4, 4), ("confidence", "q2", 4, 0)]))
    sweep = write_shards(tmp_path / "sweep", outcomes([("imh", "q1", 2, 1), ("imh", "q2", 2, 0)]))
    assert main([str(sweep), "--reference", str(ref), "--k", "2"]) == 0
    out = capsys.readouterr().out
    assert f"reference sweep {ref}" in out and "unsolved" in out and "easy" in out
    assert main([str(sweep), "--k", "2"]) == 2   # in-sweep: imh rates tiers on seed 0, leaving n = 1 < k
