"""Cost and significance (beyond the papers).

* What a configuration's accuracy costs: mean sequential forwards (``nfe``, the latency-bound
  quantity 002 §5.3 uses), total forwarded rows (compute: IMH forwards T+1 rows per step,
  000 §4.3), wall-clock per sample and per problem.
* Whether a difference in Pass@k between two configurations is real: a paired bootstrap over
  the problems both ran (docs/design.md §6: problems are the unit of replication).
* IMH acceptance rate by chain length T (000 Table 3).
"""
from __future__ import annotations

from typing import Iterable, Mapping, Sequence

import polars as pl

from .aggregate import COST_COLUMNS, aggregate
from .configs import config_columns, problem_key, selector
from .load import SweepDataError, as_lazy, require_columns
from .passk import normalise_k, per_problem_pass_at_k
from .stats import bootstrap_means, percentile_ci

__all__ = ["cost_from_counts", "cost_table", "paired_from_counts",
           "paired_bootstrap", "acceptance_by_chain_length"]


def cost_from_counts(counts: pl.DataFrame, by: Sequence[str], k: int | Iterable[int] = 1) -> pl.DataFrame:
    """Per ``by`` group: pass@k, mean cost per sample and wall-clock per problem."""
    ks = normalise_k(k)
    per = per_problem_pass_at_k(counts, ks)
    aggs = [pl.len().alias("problems"), pl.col("n").sum().alias("samples"),
            *(pl.col(f"pass@{kv}").mean() for kv in ks)]
    # Means over the samples that were generated (failed jobs carry zero counters, docs/design.md §4).
    generated = pl.col("_gen_n").sum() if "_gen_n" in per.columns else pl.col("n").sum()
    for c in COST_COLUMNS:
        if f"_sum_{c}" in per.columns:
            aggs.append(pl.when(generated > 0).then(pl.col(f"_sum_{c}").sum() / generated).alias(f"mean_{c}"))
    if "_sum_wall_s" in per.columns:
        aggs.append((pl.col("_sum_wall_s").sum() / pl.len()).alias("wall_s_per_problem"))
    if "_errors" in per.columns:
        aggs.append(pl.col("_errors").sum().alias("errors"))
    table = per.group_by(list(by)).agg(aggs) if by else per.select(aggs)
    return table.sort(list(by), nulls_last=True) if by else table


def cost_table(samples, k: int | Iterable[int] = 1, by: Sequence[str] | None = None) -> pl.DataFrame:
    """Pass@k next to mean ``nfe``, ``forward_rows``, ``wall_s``, ``tokens`` per configuration."""
    lf = as_lazy(samples)
    names = lf.collect_schema().names()
    require_columns(names, ("problem_id", "correct"), "the cost table")
    by = config_columns(names) if by is None else list(by)
    keys = list(dict.fromkeys([*by, *problem_key(names, by)]))
    counts = aggregate(lf, keys, ["counts", "cost"]).collect(engine="streaming")
    if counts.height == 0:
        raise SweepDataError("cost table of an empty set of samples")
    return cost_from_counts(counts, by, k)


def paired_from_counts(counts: pl.DataFrame, a: pl.Expr, b: pl.Expr, problems: Sequence[str], k: int,
                       n_boot: int = 2000, level: float = 0.95, seed: int = 0) -> dict[str, float]:
    """Paired bootstrap of pass@k(a) − pass@k(b) over the problems both selections ran.

    Rows matching a selection are pooled per problem (n and c summed), so a selection should
    name one configuration; pooling several is allowed but then measures their mixture.
    """
    problems = list(problems)
    sides = []
    for expr in (a, b):
        side = counts.filter(expr).group_by(problems).agg(pl.col("n").sum(), pl.col("c").sum())
        sides.append(per_problem_pass_at_k(side, k).select([*problems, f"pass@{k}"]))
    both = sides[0].join(sides[1], on=problems, suffix="_b", nulls_equal=True)
    if both.height == 0:
        raise SweepDataError("the two selections share no problem")
    va, vb = both[f"pass@{k}"].to_numpy(), both[f"pass@{k}_b"].to_numpy()
    diff = va - vb
    reps = bootstrap_means(diff, n_boot, seed)[:, 0]
    lo, hi = percentile_ci(reps[:, None], level)
    # Two-sided bootstrap p-value: how often the resampled difference lands on the other side of 0.
    p = float(min(1.0, 2 * min((reps <= 0).mean(), (reps >= 0).mean()))) if diff.any() else 1.0
    return {"k": k, "problems": both.height, "pass_a": float(va.mean()), "pass_b": float(vb.mean()),
            "diff": float(diff.mean()), "lo": float(lo[0]), "hi": float(hi[0]), "p_value": p}


def paired_bootstrap(samples, a: str | Mapping[str, object], b: str | Mapping[str, object], k: int = 1,
                     n_boot: int = 2000, level: float = 0.95, seed: int = 0) -> dict[str, object]:
    """Pass@k difference (a − b) with a paired bootstrap CI over the problems both ran.

    ``a``/``b`` are sampler names or ``{column: value}`` filters, e.g.
    ``{"sampler": "imh", "alpha": 4.0}``.  Returns ``k``, ``problems``, ``pass_a``, ``pass_b``,
    ``diff``, ``lo``, ``hi``, ``p_value`` and the two labels.
    """
    (k,) = normalise_k(k)
    lf = as_lazy(samples)
    names = lf.collect_schema().names()
    require_columns(names, ("problem_id", "correct"), "the paired bootstrap")
    (ea, la), (eb, lb) = selector(a), selector(b)
    problems = problem_key(names)
    counts = (lf.with_columns(_a=ea, _b=eb).filter(pl.col("_a") | pl.col("_b"))
              .group_by(["_a", "_b", *problems])
              .agg(pl.len().cast(pl.Int64).alias("n"), pl.col("correct").fill_null(False).sum().cast(pl.Int64).alias("c"))
              .collect())
    out = paired_from_counts(counts, pl.col("_a"), pl.col("_b"), problems, k, n_boot, level, seed)
    return {"a": la, "b": lb, **out}


def acceptance_by_chain_length(samples) -> pl.DataFrame:
    """IMH mean acceptance rate per (alpha, chain_length) (000 Table 3)."""
    lf = as_lazy(samples)
    names = lf.collect_schema().names()
    require_columns(names, ("acceptance_rate",), "the acceptance-rate table")
    keys = [c for c in ("alpha", "chain_length") if c in names]
    rows = lf.filter(pl.col("acceptance_rate").is_not_null())
    aggs = [pl.len().alias("samples"), pl.col("acceptance_rate").mean().alias("acceptance_rate")]
    out = (rows.group_by(keys).agg(aggs) if keys else rows.select(aggs)).collect()
    return out.sort(keys, nulls_last=True) if keys else out

