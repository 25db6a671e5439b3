"""sweeps/sampler_effects.py: pairwise paired-bootstrap differences, marked only when the CI excludes 0."""
from __future__ import annotations

import random

import polars as pl

from sweeps.sampler_effects import effects


def rows(sampler: str, p_correct: dict[str, float], n: int, tau: float = 1.0, seed: int = 0) -> list[dict]:
    rng = random.Random(f"{sampler}/{seed}")
    return [{"task": "t", "problem_id": pid, "sampler": sampler, "temperature": tau,
             "correct": rng.random() < p} for pid, p in p_correct.items() for _ in range(n)]


def test_a_real_gap_is_significant_and_identical_samplers_are_not():
    probs = {f"p{i}": 0.5 for i in range(60)}
    better = {f"p{i}": 0.9 for i in range(60)}
    data = pl.DataFrame(rows("confidence", better, 16) + rows("random", probs, 16)
                        + rows("entropy", probs, 16, seed=1)).lazy()
    t = effects(data, ["random", "confidence", "entropy"], k=4, n_boot=500)
    get = lambda a, b, k: t.filter((pl.col("a") == a) & (pl.col("b") == b) & (pl.col("k") == k)).row(0, named=True)  # noqa: E731
    gap = get("random", "confidence", 1)
    assert gap["problems"] == 60 and gap["significant"] and gap["hi"] < 0
    assert abs(gap["diff"] - (gap["pass_a"] - gap["pass_b"])) < 1e-12
    same = get("random", "entropy", 1)
    assert not same["significant"] and same["lo"] < 0 < same["hi"]
    assert set(t["k"]) == {1, 4} and set(t["task"]) == {"t"}


def test_pairs_are_only_formed_at_the_same_temperature():
    probs = {f"p{i}": 0.5 for i in range(10)}
    data = pl.DataFrame(rows("random", probs, 4, tau=0.5) + rows("confidence", probs, 4, tau=1.0)).lazy()
    assert effects(data, ["random", "confidence"], k=2).height == 0


def test_by_default_every_sampler_takes_part_and_imh_stands_at_one_over_alpha():
    """IMH rows carry α, not τ: IMH at α = 2 is compared with max_prob at τ = 0.5 (000 §4.3)."""
    probs = {f"p{i}": 0.5 for i in range(10)}
    imh = [{**r, "temperature": None, "alpha": 2.0} for r in rows("imh", probs, 4, seed=2)]
    plain = rows("max_prob", probs, 4, tau=0.5) + rows("confidence", probs, 4, tau=1.0)
    data = pl.DataFrame([{**r, "alpha": None} for r in plain] + imh,
                        schema_overrides={"temperature": pl.Float64, "alpha": pl.Float64}).lazy()
    t = effects(data, None, k=2, n_boot=100)
    assert set(zip(t["temperature"], t["a"], t["b"])) == {(0.5, "imh", "max_prob")}
    assert set(t["problems"]) == {10}


def test_samplers_that_ran_different_tasks_are_not_paired():
    data = pl.DataFrame(rows("random", {"p1": 0.5}, 4) + [{**r, "task": "u"} for r in rows("confidence", {"p2": 0.5}, 4)]).lazy()
    assert effects(data, None, k=2, n_boot=50).height == 0
