"""Bits vs rounds (paper 002 §5.1 Fig. 4, §3 Fig. 2; docs/design.md §5 "bits to rounds", §6).

Per configuration, two labelled OLS fits of rounds on bits:

- ``l2r_slope``/``l2r_intercept``/``l2r_r2`` on ``bits_l2r``: 002 §5.1's regression (Fig. 4a).
  002 decodes greedily and regresses rounds on each sequence's *true joint* −log2 p, computed by
  autoregressive (left-to-right) rescoring; null where the sweep did not ask for ``bits_l2r``.
- ``slope``/``intercept``/``r2`` on ``bits``, the trajectory bits (Σ −log2 p of each token under
  the state it was committed from) — a second, labelled fit; it is not 002's regressor.

The bound line (``bound_slope`` = ln2/B(f) rounds per bit) and the per-sample check
exploit_rounds ≥ exploit_bits·ln2/B(f) (:mod:`analysis.budget`) use the *trajectory*
exploitation bits: Thm 3.2's per-round argument bounds the information of the tokens an
exploitation round commits under the marginals it decided on, which is what the trajectory
records round by round; the rescored joint is not split by rounds (and for a real model its
conditionals need not match the decoding-time marginals), so it cannot be checked per round.
Also reported: the share of bits and of rounds exploration and exploitation account for (002
Fig. 2) and the bits per exploitation round (002 Fig. 4b).
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


def _ols(p: str) -> tuple[pl.Expr, pl.Expr, pl.Expr, pl.Expr, pl.Expr]:
    """(n, mean x, mean y, slope, r²) of y = nfe on x from the sums ``_{p}bn``, ``_{p}sx``, …"""
    bn, sx, sy, sxx, syy, sxy = (pl.col(f"_{p}{c}") for c in ("bn", "sx", "sy", "sxx", "syy", "sxy"))
    n = bn.cast(pl.Float64)
    m2x, m2y, cxy = sxx - sx ** 2 / n, syy - sy ** 2 / n, sxy - sx * sy / n   # centred sums
    # Relative slack below which a centred sum is rounding noise (e.g. a constant nfe).
    eps_x, eps_y = 1e-12 * sxx, 1e-12 * syy
    # Constant rounds (one-token samplers: nfe = gen_length) have slope exactly 0, not ±1e-15.
    slope = (pl.when((bn == 0) | (m2x <= eps_x)).then(None)
             .when(m2y <= eps_y).then(0.0)
             .otherwise(cxy / m2x))
    r2 = pl.when((bn > 0) & (m2x > eps_x) & (m2y > eps_y)).then((cxy ** 2 / (m2x * m2y)).clip(0.0, 1.0))
    return n, pl.when(bn > 0).then(sx / n), pl.when(bn > 0).then(sy / n), slope, r2


def finish_bits_rounds(stats: pl.DataFrame, by: Sequence[str], knobs: Mapping[str, str] | None = None) -> pl.DataFrame:
    """Per-group sums from :func:`analysis.aggregate.aggregate` → the :func:`bits_vs_rounds` table."""
    stats = stats.filter(pl.col("_bn") > 0)
    n, mean_x, mean_y, slope, r2 = _ols("")
    out = stats.with_columns(samples=pl.col("_bn"), mean_bits=mean_x, mean_nfe=mean_y).with_columns(
        slope=slope, intercept=pl.col("mean_nfe") - slope * pl.col("mean_bits"), r2=r2,
        bits_per_round=pl.col("_sx") / pl.col("_sy"),
    )
    if "_lbn" in out.columns:   # the left-to-right (true joint) fit, 002 §5.1
        _, lx, ly, lslope, lr2 = _ols("l")
        out = out.with_columns(l2r_samples=pl.col("_lbn"), mean_bits_l2r=lx, _lmy=ly).with_columns(
            l2r_slope=lslope, l2r_intercept=pl.col("_lmy") - lslope * pl.col("mean_bits_l2r"), l2r_r2=lr2)
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
    """Per configuration: OLS of ``nfe`` (rounds) on bits, and the bits-to-rounds bound check.

    Columns: the ``by`` columns (default: the configuration columns), ``samples``,
    ``mean_bits``, ``mean_nfe``, ``slope`` (rounds per trajectory bit), ``intercept``, ``r2``,
    ``bits_per_round``; with a ``bits_l2r`` column also ``l2r_samples``, ``mean_bits_l2r``,
    ``l2r_slope``, ``l2r_intercept``, ``l2r_r2`` (002 §5.1's fit on the left-to-right rescored
    bits; null for configurations without them); the flattened knob columns and ``knob_name``/``knob``/``series``;
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
