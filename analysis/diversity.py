"""Diversity of completions (a cheap stand-in for 000 Fig. 3 right).

000 judged trajectory similarity with an LLM.  We use word n-gram Jaccard similarity instead:
completions are lower-cased and split into words and punctuation marks, each becomes the set of
its word trigrams (shorter texts: the set holding their whole token sequence), and the
similarity of two completions is |A ∩ B| / |A ∪ B| (two empty texts count as identical).  Per
problem we average over pairs — distinct pairs within one sampler for the diagonal, all
cross pairs for two samplers — then average over problems.  Pairwise work grows quadratically,
so a fixed, seeded subset of problems and of completions per (problem, sampler) is used.

"Distinct correct answers" counts the different ``extracted`` answers among a configuration's
correct samples of a problem: exploration made visible on tasks with several valid answers.
"""
from __future__ import annotations

import itertools
import re
from typing import Sequence

import numpy as np
import polars as pl

from .aggregate import aggregate
from .configs import config_columns, problem_key
from .load import SweepDataError, as_lazy, require_columns

__all__ = ["NGRAM", "tokens", "ngrams", "jaccard", "diversity_sample", "similarity_from_sample",
           "similarity_matrix", "distinct_correct_answers", "distinct_from_counts"]

NGRAM = 3
_TOKEN = re.compile(r"\w+|[^\w\s]")


def tokens(text: str | None) -> list[str]:
    """Lower-cased words and single punctuation marks."""
    return _TOKEN.findall(text.lower()) if text else []


def ngrams(text: str | None, n: int = NGRAM) -> frozenset[tuple[str, ...]]:
    """The set of word n-grams of ``text`` (the whole token tuple when shorter than n)."""
    toks = tokens(text)
    if len(toks) < n:
        return frozenset([tuple(toks)]) if toks else frozenset()
    return frozenset(zip(*(toks[i:] for i in range(n))))


def jaccard(a: frozenset, b: frozenset) -> float:
    """|A ∩ B| / |A ∪ B|; 1.0 for two empty sets."""
    if not a and not b:
        return 1.0
    return len(a & b) / len(a | b)


def diversity_sample(samples, by: Sequence[str] = ("sampler",), max_problems: int = 40,
                     per_group: int = 8, seed: int = 0) -> pl.DataFrame:
    """Up to ``per_group`` completions per (problem, group) on up to ``max_problems`` problems.

    The problems are the first ``max_problems`` in a seeded hash order of their ids and, within a
    group, the lowest seeds are kept: a rerun on the same data compares the same completions.
    """
    lf = as_lazy(samples)
    names = lf.collect_schema().names()
    by = list(by)
    require_columns(names, ["completion", "problem_id", *by], "completion similarity")
    problems = problem_key(names, by)
    chosen = (lf.select(problems).unique().collect()
              .with_columns(_h=pl.struct(problems).hash(seed)).sort("_h").head(max_problems).drop("_h"))
    order = [c for c in ("seed", "job_id") if c in names]
    return (lf.filter(pl.col("problem_id").is_in(chosen["problem_id"].implode()))
            .select(list(dict.fromkeys([*problems, *by, *order, "completion"])))
            .collect()
            .join(chosen, on=problems, nulls_equal=True)
            .sort([*problems, *by, *order], nulls_last=True)
            .group_by([*problems, *by], maintain_order=True).head(per_group))


def similarity_from_sample(sample: pl.DataFrame, by: Sequence[str] = ("sampler",), n: int = NGRAM) -> pl.DataFrame:
    """Group × group mean similarity from a :func:`diversity_sample` frame (long format)."""
    by = list(by)
    problems = [c for c in ("task", "problem_id") if c in sample.columns and c not in by]
    label = (pl.concat_str([pl.col(c).cast(pl.String).fill_null("∅") for c in by], separator=" ")
             if len(by) > 1 else pl.col(by[0]).cast(pl.String))
    sample = sample.with_columns(_g=label)
    groups = sorted(sample["_g"].unique().to_list())
    index = {g: i for i, g in enumerate(groups)}
    total = np.zeros((len(groups), len(groups)))
    count = np.zeros((len(groups), len(groups)))
    for _, part in sample.group_by(problems, maintain_order=True):
        sets: dict[int, list[frozenset]] = {}
        for g, text in zip(part["_g"].to_list(), part["completion"].to_list()):
            sets.setdefault(index[g], []).append(ngrams(text, n))
        for i, j in itertools.combinations_with_replacement(sorted(sets), 2):
            a, b = sets[i], sets[j]
            pairs = itertools.combinations(a, 2) if i == j else itertools.product(a, b)
            sims = [jaccard(x, y) for x, y in pairs]
            if sims:  # a group with one completion has no within-group pair on this problem
                m = float(np.mean(sims))
                total[i, j] += m
                count[i, j] += 1
                if i != j:
                    total[j, i] += m
                    count[j, i] += 1
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = total / count
    rows = [{"a": ga, "b": gb, "similarity": None if np.isnan(mean[i, j]) else float(mean[i, j]),
             "problems": int(count[i, j])}
            for (i, ga), (j, gb) in itertools.product(enumerate(groups), repeat=2)]
    return pl.DataFrame(rows, schema={"a": pl.String, "b": pl.String, "similarity": pl.Float64, "problems": pl.Int64})


def similarity_matrix(samples, by: Sequence[str] = ("sampler",), max_problems: int = 40, per_group: int = 8,
                      n: int = NGRAM, seed: int = 0) -> pl.DataFrame:
    """Mean pairwise n-gram Jaccard similarity of completions, group × group (long format).

    Columns ``a``, ``b`` (group labels), ``similarity`` (null when no pair exists) and
    ``problems`` (how many problems contributed).  The diagonal is within-group similarity: high
    means the sampler keeps producing the same text.
    """
    sample = diversity_sample(samples, by, max_problems, per_group, seed)
    if sample.height == 0:
        raise SweepDataError("completion similarity: no completions")
    return similarity_from_sample(sample, by, n)


def distinct_correct_answers(samples, by: Sequence[str] | None = None) -> pl.DataFrame:
    """Per group: mean distinct correct answers per problem and share of problems with ≥ 2."""
    lf = as_lazy(samples)
    names = lf.collect_schema().names()
    require_columns(names, ("problem_id", "correct", "extracted"), "distinct correct answers")
    by = config_columns(names) if by is None else list(by)
    keys = list(dict.fromkeys([*by, *problem_key(names, by)]))
    per = aggregate(lf, keys, ["distinct"]).collect(engine="streaming")
    return distinct_from_counts(per, by)


def distinct_from_counts(per: pl.DataFrame, by: Sequence[str]) -> pl.DataFrame:
    """Average the per-problem distinct-correct counts over problems."""
    aggs = [pl.len().alias("problems"),
            pl.col("_distinct_correct").mean().alias("distinct_correct"),
            (pl.col("_distinct_correct") >= 2).mean().alias("share_multi_correct")]
    out = per.group_by(list(by)).agg(aggs) if by else per.select(aggs)
    return out.sort(list(by), nulls_last=True) if by else out
