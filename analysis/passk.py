"""Unbiased pass@k (Chen et al. 2021, as used throughout paper 000 §5; docs/design.md §6).

For a problem with n samples of which c are correct, pass@k = 1 − C(n−c, k) / C(n, k): the
chance that k samples drawn without replacement from the n contain a correct one.  It is
averaged over problems, so each problem weighs the same whatever its n.  The ratio of binomials
is evaluated as the product Π_{i=n−c+1}^{n} (1 − k/i), which never forms a large binomial and
stays exact to ~1e-15 for n in the thousands.
"""
from __future__ import annotations

import numbers
from typing import Iterable, Sequence

import numpy as np
import polars as pl

from .aggregate import aggregate
from .configs import config_columns, problem_key
from .load import SweepDataError, as_lazy, require_columns

__all__ = ["estimate_pass_at_k", "problem_counts", "pass_at_k", "pass_at_k_from_counts",
           "per_problem_pass_at_k", "k_grid", "normalise_k"]


def normalise_k(k: int | Iterable[int]) -> list[int]:
    """``k`` as a sorted list of distinct positive ints (one-line ValueError otherwise)."""
    ks = [k] if isinstance(k, numbers.Integral) or not isinstance(k, Iterable) else list(k)
    if not ks:
        raise SweepDataError("k must be a positive int or a non-empty list of them")
    for v in ks:
        if isinstance(v, bool) or not isinstance(v, numbers.Integral) or v < 1:
            raise SweepDataError(f"k must be a positive int, got {v!r}")
    return sorted({int(v) for v in ks})


def estimate_pass_at_k(n: np.ndarray | Sequence[int] | int, c: np.ndarray | Sequence[int] | int,
                       k: int) -> np.ndarray:
    """Per-problem unbiased pass@k for arrays of sample counts ``n`` and correct counts ``c``."""
    (k,) = normalise_k(k)
    n = np.atleast_1d(np.asarray(n, dtype=np.int64))
    c = np.atleast_1d(np.asarray(c, dtype=np.int64))
    if n.shape != c.shape:
        raise SweepDataError(f"n and c must have the same shape, got {n.shape} and {c.shape}")
    if ((c < 0) | (c > n)).any():
        raise SweepDataError("correct counts must satisfy 0 <= c <= n")
    if (n < k).any():
        raise SweepDataError(f"pass@{k} needs at least {k} samples per problem, some problem has n={int(n.min())}")
    out = np.empty(n.shape, dtype=np.float64)
    for nv in np.unique(n):
        sel = n == nv
        # ratio[c] = C(n−c,k)/C(n,k) = Π_{i=n−c+1}^{n} (1 − k/i), for every c = 0..n at once.
        # The factor at i = k is exactly 0, so every c > n − k gets pass@k = 1 exactly.
        ratio = np.concatenate(([1.0], np.cumprod(1.0 - k / np.arange(nv, 0, -1, dtype=np.float64))))
        out[sel] = 1.0 - ratio[c[sel]]
    return out


def problem_counts(samples, by: Sequence[str] | None = None) -> pl.LazyFrame:
    """Per (group, problem): ``n`` samples and ``c`` correct.  A null ``correct`` counts as wrong
    (a sample whose generation or grading failed is a failed attempt, docs/design.md §4)."""
    lf = as_lazy(samples)
    names = lf.collect_schema().names()
    require_columns(names, ("problem_id", "correct"), "pass@k")
    by = config_columns(names) if by is None else list(by)
    require_columns(names, by, "pass@k grouping")
    return aggregate(lf, by + problem_key(names, by), ["counts"])


def _describe(row: dict, keys: Sequence[str]) -> str:
    return ", ".join(f"{k}={row[k]!r}" for k in keys)


def per_problem_pass_at_k(counts: pl.DataFrame, k: int | Iterable[int],
                          by: Sequence[str] = ()) -> pl.DataFrame:
    """Add one ``pass@k`` column per k to a table of per-problem ``n``/``c`` counts."""
    ks = normalise_k(k)
    if counts.height:
        n_min = counts["n"].min()
        if n_min < ks[-1]:
            bad = counts.filter(pl.col("n") < ks[-1]).row(0, named=True)
            keys = [c for c in counts.columns if c not in ("n", "c") and not c.startswith(("pass@", "_"))]
            raise SweepDataError(
                f"pass@{ks[-1]} needs at least {ks[-1]} samples per problem, but {_describe(bad, keys)} has n={bad['n']}"
            )
    n, c = counts["n"].to_numpy(), counts["c"].to_numpy()
    return counts.with_columns(
        pl.Series(f"pass@{kv}", estimate_pass_at_k(n, c, kv) if counts.height else np.empty(0))
        for kv in ks
    )


def pass_at_k_from_counts(counts: pl.DataFrame, k: int | Iterable[int], by: Sequence[str]) -> pl.DataFrame:
    """Average per-problem pass@k within each group of ``by`` (see :func:`pass_at_k`)."""
    ks = normalise_k(k)
    per = per_problem_pass_at_k(counts, ks, by)
    aggs = [pl.len().alias("problems"), pl.col("n").sum().alias("samples"), pl.col("n").min().alias("n_min"),
            *(pl.col(f"pass@{kv}").mean() for kv in ks)]
    if not by:
        return per.select(aggs)
    return per.group_by(list(by)).agg(aggs).sort(list(by), nulls_last=True)


def pass_at_k(samples, k: int | Iterable[int], by: Sequence[str] | None = None) -> pl.DataFrame:
    """Pass@k averaged over problems, one row per group of ``by``.

    ``samples`` is a Polars DataFrame/LazyFrame of sample rows (or a sweep path); ``k`` an int or
    a list of ints (one ``pass@k`` column each); ``by`` defaults to the configuration columns
    (model, task, sampler, params, gen_length, block_length — those present), ``[]`` pools
    everything.  Problems may have different n; any k > n is a :class:`SweepDataError`.
    Extra columns: ``problems``, ``samples`` and ``n_min`` (smallest per-problem n).
    """
    lf = as_lazy(samples)
    names = lf.collect_schema().names()
    by = config_columns(names) if by is None else list(by)
    counts = problem_counts(lf, by).collect(engine="streaming")
    if counts.height == 0:
        raise SweepDataError("pass@k of an empty set of samples")
    return pass_at_k_from_counts(counts, k, by)


def k_grid(n: int, cap: int | None = None) -> list[int]:
    """k = 1, 2, 4, … ≤ n (and ≤ cap): the points of a pass@k curve."""
    top = n if cap is None else min(n, cap)
    out, kv = [], 1
    while kv <= top:
        out.append(kv)
        kv *= 2
    return out
