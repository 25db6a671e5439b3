"""Cost, paired significance, IMH acceptance, and the n-gram diversity proxy."""
from __future__ import annotations

import polars as pl
import pytest

from analysis import (acceptance_by_chain_length, cost_table, distinct_correct_answers, paired_bootstrap,
                      similarity_matrix)
from analysis.diversity import jaccard, ngrams, tokens
from analysis_fixtures import outcomes


def test_cost_table_by_hand():
    df = outcomes([("imh", "p1", 2, 1), ("imh", "p2", 2, 2)]).with_columns(
        nfe=pl.Series([10, 20, 30, 40]), forward_rows=pl.Series([50, 100, 150, 200]),
        wall_s=pl.Series([1.0, 2.0, 3.0, 4.0]), error=pl.Series([None, "timeout", None, None]))
    row = cost_table(df, k=[1, 2], by=["sampler"]).row(0, named=True)
    assert row["pass@1"] == pytest.approx(0.75) and row["pass@2"] == 1.0
    assert (row["mean_nfe"], row["mean_forward_rows"], row["mean_wall_s"]) == (25.0, 125.0, 2.5)
    assert row["wall_s_per_problem"] == 5.0   # 10 s over 2 problems
    assert row["errors"] == 1


def test_paired_bootstrap_identical_and_uniformly_better():
    same = pl.concat([outcomes([("a", f"p{i}", 2, i % 3 > 0) for i in range(6)]),
                      outcomes([("b", f"p{i}", 2, i % 3 > 0) for i in range(6)])])
    res = paired_bootstrap(same, "a", "b", k=1, n_boot=200)
    assert (res["diff"], res["lo"], res["hi"], res["p_value"]) == (0.0, 0.0, 0.0, 1.0)
    better = pl.concat([outcomes([("a", f"p{i}", 2, 2) for i in range(6)]),
                        outcomes([("b", f"p{i}", 2, 1) for i in range(6)])])
    res = paired_bootstrap(better, "a", {"sampler": "b"}, k=1, n_boot=200)
    assert res["problems"] == 6 and res["diff"] == 0.5 and res["lo"] == res["hi"] == 0.5
    assert res["a"] == "sampler=a" and res["b"] == "sampler=b"


def test_paired_bootstrap_uses_only_shared_problems():
    df = outcomes([("a", "p1", 1, 1), ("a", "p2", 1, 1), ("b", "p1", 1, 0)])
    res = paired_bootstrap(df, "a", "b", k=1, n_boot=50)
    assert res["problems"] == 1 and res["pass_a"] == 1.0 and res["pass_b"] == 0.0
    with pytest.raises(ValueError, match="share no problem"):
        paired_bootstrap(outcomes([("a", "p1", 1, 1), ("b", "p2", 1, 1)]), "a", "b")


def test_acceptance_by_chain_length_by_hand():
    df = pl.DataFrame({"sampler": ["imh"] * 4 + ["confidence"], "problem_id": ["p"] * 5, "correct": [True] * 5,
                       "alpha": [2.0, 2.0, 2.0, 2.0, None], "chain_length": [2, 2, 4, 4, None],
                       "acceptance_rate": [0.9, 0.7, 0.6, 0.4, None]})
    out = acceptance_by_chain_length(df)
    assert out.rows() == [(2.0, 2, 2, pytest.approx(0.8)), (2.0, 4, 2, pytest.approx(0.5))]


def test_ngram_jaccard_by_hand():
    assert tokens("Let x = 2.") == ["let", "x", "=", "2", "."]
    a, b = ngrams("a b c d"), ngrams("a b c e")        # {abc, bcd} vs {abc, bce}
    assert jaccard(a, b) == pytest.approx(1 / 3)
    assert jaccard(ngrams(""), ngrams(None)) == 1.0    # two empty texts are the same text
    assert jaccard(ngrams("x y"), ngrams("x y")) == 1.0  # shorter than a trigram: compared whole
    assert jaccard(ngrams("x y"), ngrams("x z")) == 0.0


def test_similarity_matrix_diagonal_and_cross_pairs():
    rows = []
    for pid in ("p1", "p2"):
        rows += [{"sampler": "greedy", "problem_id": pid, "seed": s, "correct": True,
                  "completion": "the answer is four"} for s in range(3)]
        rows += [{"sampler": "wild", "problem_id": pid, "seed": s, "correct": True,
                  "completion": ["the answer is four", "try x then y", "so it is nine"][s]} for s in range(3)]
    m = {(r["a"], r["b"]): r for r in similarity_matrix(pl.DataFrame(rows)).iter_rows(named=True)}
    assert m["greedy", "greedy"]["similarity"] == 1.0      # identical completions
    # wild's 3 pairs: texts share no trigram → 0 within.
    assert m["wild", "wild"]["similarity"] == 0.0
    # greedy × wild: 9 pairs per problem, 3 of them identical → 1/3.
    assert m["greedy", "wild"]["similarity"] == pytest.approx(1 / 3) == m["wild", "greedy"]["similarity"]
    assert m["greedy", "wild"]["problems"] == 2


def test_similarity_caps_the_work():
    rows = [{"sampler": "s", "problem_id": f"p{p}", "seed": s, "correct": True, "completion": f"t {s}"}
            for p in range(10) for s in range(10)]
    m = similarity_matrix(pl.DataFrame(rows), max_problems=3, per_group=2)
    assert m.row(0, named=True)["problems"] == 3


def test_distinct_correct_answers_by_hand():
    df = pl.DataFrame({"sampler": ["a"] * 5, "problem_id": ["p1", "p1", "p1", "p2", "p2"],
                       "correct": [True, True, False, True, True], "extracted": ["3", "4", "5", "7", "7"]})
    row = distinct_correct_answers(df, by=["sampler"]).row(0, named=True)
    assert row["distinct_correct"] == 1.5     # p1: {3, 4}, p2: {7}; the wrong "5" does not count
    assert row["share_multi_correct"] == 0.5


def test_failed_jobs_count_as_wrong_but_not_as_cost_or_trajectories():
    # A job that failed after its retries is written with error and zero counters (docs/design.md §4).
    from analysis import bits_vs_rounds

    df = outcomes([("factor", "p1", 3, 1)]).with_columns(
        error=pl.Series([None, None, "CUDA OOM"]), nfe=pl.Series([10, 20, 0]), bits=pl.Series([5.0, 15.0, 0.0]),
        wall_s=pl.Series([1.0, 3.0, 0.0]))
    row = cost_table(df, by=["sampler"]).row(0, named=True)
    assert row["pass@1"] == pytest.approx(1 / 3)
    assert (row["mean_nfe"], row["mean_wall_s"], row["errors"]) == (15.0, 2.0, 1)
    fit = bits_vs_rounds(df, by=["sampler"]).row(0, named=True)
    assert fit["samples"] == 2 and fit["slope"] == pytest.approx(1.0)
