"""Quality–exploration Pareto frontier (paper 000 §5, Fig. 3 left; docs/design.md §6).

Each configuration (sampler at one knob value) is the point (Pass@1, Pass@k): Pass@1 measures
sample quality, Pass@k exploration.  A point is on the frontier when no other point is at least
as good on both and better on one; ties (identical points) are all kept.  Intervals are
percentile bootstrap CIs over problems, with the same resamples for every configuration.
"""
from __future__ import annotations

from typing import Mapping, Sequence

import numpy as np
import polars as pl

from .aggregate import aggregate
from .configs import config_columns, group_columns, problem_key, series_labels, with_knob
from .load import SweepDataError, as_lazy, require_columns
from .passk import normalise_k, per_problem_pass_at_k
from .stats import bootstrap_means, percentile_ci

__all__ = ["FRONTIER_K", "non_dominated", "pareto_frontier", "frontier_from_counts", "problem_matrix"]

# 000 Fig. 1 sets Pass@1 against Pass@16; the report uses the largest power of two ≤ min(n, 16).
FRONTIER_K = 16


def non_dominated(x: np.ndarray | Sequence[float], y: np.ndarray | Sequence[float]) -> np.ndarray:
    """Boolean mask of the points not dominated in (x, y), both to be maximised."""
    x, y = np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)
    if x.size == 0:
        return np.zeros(0, dtype=bool)
    # q dominates p  ⇔  q ≥ p in both and q > p in one.  m is at most a few hundred configs.
    ge = (x[:, None] >= x[None, :]) & (y[:, None] >= y[None, :])
    gt = (x[:, None] > x[None, :]) | (y[:, None] > y[None, :])
    dominated = (ge & gt).any(axis=0)
    return ~dominated & ~np.isnan(x) & ~np.isnan(y)


def problem_matrix(per_problem: pl.DataFrame, configs: Sequence[str], problems: Sequence[str],
                   values: Sequence[str]) -> tuple[pl.DataFrame, dict[str, np.ndarray]]:
    """Pivot per-(config, problem) values into [problems, configs] matrices (NaN where absent).

    Returns the distinct configurations (row order = matrix column order) and one matrix per
    value column.
    """
    # sorted, not first-seen: a group_by's row order varies from run to run, and the bootstrap
    # resamples are indexed by problem position — the same data must give the same CIs
    cfg = per_problem.select(configs).unique().sort(list(configs), nulls_last=True).with_row_index("_ci")
    prb = per_problem.select(problems).unique().sort(list(problems), nulls_last=True).with_row_index("_pi")
    idx = per_problem.join(cfg, on=list(configs), nulls_equal=True).join(prb, on=list(problems), nulls_equal=True)
    pi, ci = idx["_pi"].to_numpy(), idx["_ci"].to_numpy()
    out = {}
    for v in values:
        m = np.full((prb.height, cfg.height), np.nan)
        m[pi, ci] = idx[v].cast(pl.Float64).to_numpy()
        out[v] = m
    return cfg.drop("_ci"), out


def frontier_from_counts(counts: pl.DataFrame, k: int, groups: Sequence[str], configs: Sequence[str],
                         problems: Sequence[str], knobs: Mapping[str, str] | None = None,
                         n_boot: int = 1000, level: float = 0.95, seed: int = 0) -> pl.DataFrame:
    """Frontier table from per-(config, problem) counts (and the flattened knob columns)."""
    ks = sorted({1, k})
    per = per_problem_pass_at_k(with_knob(counts, knobs), ks)
    x_col, y_col = "pass@1", f"pass@{k}"
    config_keys = [c for c in configs if c not in groups]
    parts = []
    for _, part in per.group_by(list(groups), maintain_order=True) if groups else [((), per)]:
        cfg, mats = problem_matrix(part, [*groups, *config_keys, "knob_name", "knob"], problems, [x_col, y_col])
        x, y = np.nanmean(mats[x_col], axis=0), np.nanmean(mats[y_col], axis=0)
        n_prob = (~np.isnan(mats[x_col])).sum(axis=0)
        table = cfg.with_columns(
            series=pl.Series(series_labels(cfg, knobs), dtype=pl.String),
            problems=pl.Series(n_prob, dtype=pl.Int64),
            **{x_col: pl.Series(x), y_col: pl.Series(y)},
        )
        for col in (x_col, y_col) if x_col != y_col else (x_col,):
            lo, hi = percentile_ci(bootstrap_means(mats[col], n_boot, seed), level)
            table = table.with_columns(pl.Series(f"{col}_lo", lo), pl.Series(f"{col}_hi", hi))
        on_sampler = np.zeros(table.height, dtype=bool)
        samplers = table["sampler"].to_numpy()
        for s in np.unique(samplers):
            sel = samplers == s
            on_sampler[sel] = non_dominated(x[sel], y[sel])
        table = table.with_columns(on_sampler_frontier=pl.Series(on_sampler),
                                   on_frontier=pl.Series(non_dominated(x, y)))
        parts.append(table)
    out = pl.concat(parts, how="vertical_relaxed")
    return out.sort([*groups, "series", "knob"], nulls_last=True)


def pareto_frontier(samples, k: int = FRONTIER_K, by: Sequence[str] | None = None,
                    knobs: Mapping[str, str] | None = None, n_boot: int = 1000, level: float = 0.95,
                    seed: int = 0) -> pl.DataFrame:
    """Per configuration the point (Pass@1, Pass@k) with bootstrap CIs and frontier flags.

    ``by`` lists the columns a separate frontier is drawn within (default: model and task);
    configurations are the distinct (sampler, params, gen_length, block_length).  ``knobs``
    overrides :data:`analysis.configs.KNOBS`.  Columns: the group and config columns,
    ``series`` (line label), ``knob_name``, ``knob``, ``problems``, ``pass@1``, ``pass@k`` and
    their ``_lo``/``_hi`` bounds, ``on_sampler_frontier`` (non-dominated among the sampler's own
    configs) and ``on_frontier`` (over all samplers).
    """
    (k,) = normalise_k(k)
    lf = as_lazy(samples)
    names = lf.collect_schema().names()
    require_columns(names, ("sampler", "problem_id", "correct"), "the Pareto frontier")
    groups = group_columns(names) if by is None else list(by)
    require_columns(names, groups, "the Pareto frontier grouping")
    configs = list(dict.fromkeys([*groups, *config_columns(names)]))
    problems = problem_key(names, groups)  # task-qualified unless each frontier is one task
    keys = list(dict.fromkeys([*configs, *problems]))
    counts = aggregate(lf, keys, ["counts", "knobs"]).collect(engine="streaming")
    if counts.height == 0:
        raise SweepDataError("Pareto frontier of an empty set of samples")
    return frontier_from_counts(counts, k, groups, configs, problems, knobs, n_boot, level, seed)
