"""Bits vs rounds (paper 002 §5.1 Fig. 4, §3 Fig. 2; DESIGN §5 "bits-to-rounds", §6).

Per configuration we fit the OLS line nfe = a + b·bits (rounds on trajectory bits, 002 Fig. 4a),
check exploit_rounds ≥ exploit_bits·ln2/B(f) (:mod:`analysis.budget`) on every sample that
records its exploitation split, and report the share of bits and of rounds that exploration and
exploitation account for (002 Fig. 2) and the bits per exploitation round (002 Fig. 4b).
"""
from __future__ import annotations

from typing import Mapping, Sequence

import polars as pl

from .aggregate import SUM_PREFIX, aggregate, factors_in
from .budget import LN2, bits_budget, rounds_bound
from .configs import config_columns, series_labels, with_knob
from .load import SweepDataError, as_lazy, require_columns

__all__ = ["LN2", "bits_budget", "rounds_bound", "bits_vs_rounds", "finish_bits_rounds", "BITS_PARTS"]

BITS_PARTS = ("bits", "split", "bound", "knobs")


def finish_bits_rounds(stats: pl.DataFrame, by: Sequence[str], knobs: Mapping[str, str] | None = None) -> pl.DataFrame:
    """Per-group sums from :func:`analysis.aggregate.aggregate` → the :func:`bits_vs_rounds` table."""
    n = pl.col("_bn").cast(pl.Float64)
    m2x = pl.col("_sxx") - pl.col("_sx") ** 2 / n   # Σ(x − x̄)²
    m2y = pl.col("_syy") - pl.col("_sy") ** 2 / n
    cxy = pl.col("_sxy") - pl.col("_sx") * pl.col("_sy") / n
    # Relative slack below which a centred sum is rounding noise (e.g. a constant nfe).
    eps_x, eps_y = 1e-12 * pl.col("_sxx"), 1e-12 * pl.col("_syy")
    stats = stats.filter(pl.col("_bn") > 0).with_columns(_m2x=m2x, _m2y=m2y, _cxy=cxy)
    # Constant rounds (one-token samplers: nfe = gen_length) have slope exactly 0, not ±1e-15.
    slope = (pl.when(pl.col("_m2x") <= eps_x).then(None)
             .when(pl.col("_m2y") <= eps_y).then(0.0)
             .otherwise(pl.col("_cxy") / pl.col("_m2x")))
    r2 = pl.when((pl.col("_m2x") > eps_x) & (pl.col("_m2y") > eps_y)).then(
        (pl.col("_cxy") ** 2 / (pl.col("_m2x") * pl.col("_m2y"))).clip(0.0, 1.0))
    out = stats.with_columns(
        samples=pl.col("_bn"), mean_bits=pl.col("_sx") / n, mean_nfe=pl.col("_sy") / n,
    ).with_columns(
        slope=slope, intercept=pl.col("mean_nfe") - slope * pl.col("mean_bits"), r2=r2,
        bits_per_round=pl.col("_sx") / pl.col("_sy"),
    )
    cols = set(out.columns)
    s = {c: pl.col(SUM_PREFIX + c) for c in ("exploit_bits", "explore_bits", "exploit_rounds", "explore_rounds")}

    def ratio(num: pl.Expr, den: pl.Expr) -> pl.Expr:  # null, not NaN, where nothing was recorded
        return pl.when(den > 0).then(num / den)

    if {SUM_PREFIX + "exploit_bits", SUM_PREFIX + "explore_bits"} <= cols:
        out = out.with_columns(explore_bit_share=ratio(s["explore_bits"], s["explore_bits"] + s["exploit_bits"]))
    if {SUM_PREFIX + "exploit_rounds", SUM_PREFIX + "explore_rounds"} <= cols:
        out = out.with_columns(explore_round_share=ratio(s["explore_rounds"], s["explore_rounds"] + s["exploit_rounds"]))
    if {SUM_PREFIX + "exploit_bits", SUM_PREFIX + "exploit_rounds"} <= cols:
        out = out.with_columns(exploit_bits_per_round=ratio(s["exploit_bits"], s["exploit_rounds"]))
    if "_checked" in cols:  # null where the bound does not apply (no factor or no split recorded)
        applies = pl.col("_checked") > 0
        out = out.with_columns(bound_checked=pl.when(applies).then(pl.col("_checked")),
                               bound_violations=pl.when(applies).then(pl.col("_violations")))
    if "factor" in out.columns:
        budgets = [bits_budget(f) if f is not None else None for f in out["factor"].to_list()]
        out = out.with_columns(budget_nats=pl.Series(budgets, dtype=pl.Float64)).with_columns(
            bound_slope=pl.when(pl.col("budget_nats") > 0).then(LN2 / pl.col("budget_nats")))
    if "sampler" in out.columns and out.height:
        out = with_knob(out, knobs)
        out = out.with_columns(series=pl.Series(series_labels(out, knobs), dtype=pl.String))
    out = out.drop([c for c in out.columns if c.startswith("_") or c in ("n", "c")])
    return out.sort([c for c in (*by, "knob") if c in out.columns], nulls_last=True)


def bits_vs_rounds(samples, by: Sequence[str] | None = None, knobs: Mapping[str, str] | None = None) -> pl.DataFrame:
    """Per configuration: OLS of ``nfe`` (rounds) on ``bits`` and the bits-to-rounds bound check.

    Columns: the ``by`` columns (default: the configuration columns), ``samples``,
    ``mean_bits``, ``mean_nfe``, ``slope`` (rounds per bit), ``intercept``, ``r2``,
    ``bits_per_round``; the flattened knob columns and ``knob_name``/``knob``/``series``;
    with the exploit/explore columns also ``explore_bit_share``, ``explore_round_share``,
    ``exploit_bits_per_round``; with ``factor`` also ``budget_nats`` (B(f)), ``bound_slope``
    (ln2/B(f), rounds per bit), ``bound_checked`` and ``bound_violations`` (samples with
    exploit_rounds < exploit_bits·ln2/B(f); 0 if the sampler obeys 002 Thm 3.2).
    Slope and r² are null where bits (or rounds) do not vary.
    """
    lf = as_lazy(samples)
    names = lf.collect_schema().names()
    require_columns(names, ("bits", "nfe"), "bits vs rounds")
    by = config_columns(names) if by is None else list(by)
    require_columns(names, by, "bits vs rounds grouping")
    stats = aggregate(lf, by, BITS_PARTS, factors_in(lf)).collect(engine="streaming")
    if stats.height == 0 or stats["_bn"].sum() == 0:
        raise SweepDataError("bits vs rounds: no sample has both bits and nfe")
    return finish_bits_rounds(stats, by, knobs)
