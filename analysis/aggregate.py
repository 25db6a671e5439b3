"""One pass over the sample rows → one small table per (group, problem).

Every analysis needs only sums and counts per (configuration, problem): n and c for pass@k,
sums of bits/nfe and their products for the bits-vs-rounds regression, cost sums, etc.  The
report builds all of them in a single streaming group-by (10M rows in a few seconds); the
public functions ask for the parts they need.  Row-wise quantities are computed before the
group-by so that every aggregation is a plain sum/max, which Polars' streaming engine runs in
constant memory.
"""
from __future__ import annotations

import math
from typing import Iterable, Sequence

import polars as pl

from workers.contract import KNOB_COLUMNS

from .budget import LN2, bits_budget

__all__ = ["PARTS", "KNOB_COLUMNS", "aggregate", "factors_in", "rollup", "SUM_PREFIX"]

PARTS = frozenset({"counts", "bits", "split", "bound", "cost", "acceptance", "distinct", "labels", "knobs"})
COST_COLUMNS = ("nfe", "forward_rows", "wall_s", "tokens")
SPLIT_COLUMNS = ("exploit_bits", "explore_bits", "exploit_rounds", "explore_rounds")
SUM_PREFIX = "_sum_"
# Floating slack for the bound check: bits are sums of float log-probs written by workers.
_REL_TOL = 1e-9


def factors_in(lf: pl.LazyFrame) -> list[float]:
    """Distinct non-null ``factor`` values (one cheap single-column pass)."""
    if "factor" not in lf.collect_schema().names():
        return []
    values = lf.select(pl.col("factor").cast(pl.Float64).unique()).collect()["factor"].to_list()
    return sorted(v for v in values if v is not None and not math.isnan(v))


def _budget_expr(factors: Iterable[float]) -> pl.Expr:
    # A when/then chain over the few distinct factors stays streaming and cheap, unlike a
    # per-row dictionary lookup.
    expr = pl.lit(None, dtype=pl.Float64)
    for f in factors:
        expr = pl.when(pl.col("factor").cast(pl.Float64) == f).then(pl.lit(bits_budget(f))).otherwise(expr)
    return expr


def aggregate(lf: pl.LazyFrame, keys: Sequence[str], parts: Iterable[str],
              factors: Iterable[float] | None = None) -> pl.LazyFrame:
    """Group ``lf`` by ``keys`` and compute the requested ``parts`` (those whose columns exist).

    counts      n (rows), c (correct; null counts as wrong — a failed sample is a failed attempt)
    bits        _bn (rows with bits and nfe), _sx, _sy, _sxx, _syy, _sxy  (x = bits, y = nfe);
                with ``bits_l2r``: the same sums over rows that have it, prefixed ``_l`` (x = bits_l2r)
    split       _sum_exploit_bits, _sum_explore_bits, _sum_exploit_rounds, _sum_explore_rounds
    bound       _checked, _violations  (002 Thm 3.2 check; needs ``factors``)
    cost        _gen_n (rows that generated), their _sum_nfe, _sum_forward_rows, _sum_wall_s,
                _sum_tokens; _errors (rows with an ``error``)
    acceptance  _acc_sum, _acc_n
    distinct    _distinct_correct (distinct ``extracted`` among correct rows)
    labels      difficulty (the problem's label; max, as it is constant per problem)
    knobs       alpha, temperature, … chain_length (max; constant per configuration)
    """
    parts = set(parts)
    unknown = parts - PARTS
    if unknown:
        raise ValueError(f"unknown aggregate parts: {sorted(unknown)}")
    names = set(lf.collect_schema().names())
    pre: dict[str, pl.Expr] = {}
    aggs: list[pl.Expr] = []
    # A job that failed after its retries is written with ``error`` and zero counters (docs/design.md §4):
    # it is a failed attempt for pass@k but has no trajectory to measure rounds, bits or cost on.
    if {"error", "nfe"} <= names:
        generated = ~(pl.col("error").is_not_null() & (pl.col("nfe") == 0))
    else:
        generated = pl.lit(True)
    if "counts" in parts:
        aggs += [pl.len().cast(pl.Int64).alias("n"),
                 pl.col("correct").fill_null(False).sum().cast(pl.Int64).alias("c")]
    if "bits" in parts and {"bits", "nfe"} <= names:
        valid = pl.col("bits").is_not_null() & pl.col("nfe").is_not_null() & generated
        pre["_x"] = pl.when(valid).then(pl.col("bits").cast(pl.Float64))
        pre["_y"] = pl.when(valid).then(pl.col("nfe").cast(pl.Float64))
        pre["_v"] = valid
        aggs += [pl.col("_v").sum().cast(pl.Int64).alias("_bn"), pl.col("_x").sum().alias("_sx"),
                 pl.col("_y").sum().alias("_sy"), (pl.col("_x") * pl.col("_x")).sum().alias("_sxx"),
                 (pl.col("_y") * pl.col("_y")).sum().alias("_syy"),
                 (pl.col("_x") * pl.col("_y")).sum().alias("_sxy")]
        if "bits_l2r" in names:  # 002 §5.1's regressor: left-to-right rescored bits (null unless asked)
            lvalid = valid & pl.col("bits_l2r").is_not_null()
            pre["_lx"] = pl.when(lvalid).then(pl.col("bits_l2r").cast(pl.Float64))
            pre["_ly"] = pl.when(lvalid).then(pl.col("nfe").cast(pl.Float64))
            pre["_lv"] = lvalid
            aggs += [pl.col("_lv").sum().cast(pl.Int64).alias("_lbn"), pl.col("_lx").sum().alias("_lsx"),
                     pl.col("_ly").sum().alias("_lsy"), (pl.col("_lx") * pl.col("_lx")).sum().alias("_lsxx"),
                     (pl.col("_ly") * pl.col("_ly")).sum().alias("_lsyy"),
                     (pl.col("_lx") * pl.col("_ly")).sum().alias("_lsxy")]
    if "split" in parts:
        aggs += [pl.col(c).cast(pl.Float64).sum().alias(SUM_PREFIX + c) for c in SPLIT_COLUMNS if c in names]
    factors = list(factors or [])
    if "bound" in parts and factors and {"factor", "exploit_bits", "exploit_rounds"} <= names:
        budget = _budget_expr(factors)
        checked = budget.is_not_null() & pl.col("exploit_bits").is_not_null() & pl.col("exploit_rounds").is_not_null()
        need = pl.col("exploit_bits").cast(pl.Float64) * LN2
        have = pl.col("exploit_rounds").cast(pl.Float64) * budget
        pre["_ck"] = checked
        pre["_vi"] = checked & (need > 0) & ~(have >= need * (1 - _REL_TOL) - _REL_TOL)
        aggs += [pl.col("_ck").sum().cast(pl.Int64).alias("_checked"),
                 pl.col("_vi").sum().cast(pl.Int64).alias("_violations")]
    if "cost" in parts:
        pre["_gen"] = generated
        aggs.append(pl.col("_gen").sum().cast(pl.Int64).alias("_gen_n"))
        for c in COST_COLUMNS:
            if c in names:  # masked before the group-by: plain sums stream, filtered ones do not
                pre[f"_m_{c}"] = pl.when(generated).then(pl.col(c).cast(pl.Float64))
                aggs.append(pl.col(f"_m_{c}").sum().alias(SUM_PREFIX + c))
        if "error" in names:
            aggs.append(pl.col("error").is_not_null().sum().cast(pl.Int64).alias("_errors"))
    if "acceptance" in parts and "acceptance_rate" in names:
        aggs += [pl.col("acceptance_rate").cast(pl.Float64).sum().alias("_acc_sum"),
                 pl.col("acceptance_rate").count().cast(pl.Int64).alias("_acc_n")]
    if "distinct" in parts and "extracted" in names:
        pre["_ans"] = pl.when(pl.col("correct").fill_null(False)).then(pl.col("extracted"))
        aggs.append(pl.col("_ans").drop_nulls().n_unique().cast(pl.Int64).alias("_distinct_correct"))
    if "labels" in parts and "difficulty" in names and "difficulty" not in keys:
        aggs.append(pl.col("difficulty").max())
    if "knobs" in parts:
        aggs += [pl.col(c).max() for c in KNOB_COLUMNS if c in names and c not in keys]
    if pre:
        lf = lf.with_columns(**pre)
    return lf.group_by(list(keys)).agg(aggs) if keys else lf.select(aggs)


def rollup(table: pl.DataFrame, by: Sequence[str]) -> pl.DataFrame:
    """Sum an :func:`aggregate` table onto coarser keys (e.g. drop the problem).

    Counts and sums add; knobs (constant per configuration) keep their first non-null value;
    everything else (problem ids, labels, ``_distinct_correct``) is dropped.
    """
    additive = {"n", "c", "_bn", "_sx", "_sy", "_sxx", "_syy", "_sxy", "_checked", "_violations",
                "_lbn", "_lsx", "_lsy", "_lsxx", "_lsyy", "_lsxy",
                "_errors", "_gen_n", "_acc_sum", "_acc_n"}
    aggs = []
    for col in table.columns:
        if col in by:
            continue
        if col in additive or col.startswith(SUM_PREFIX):
            aggs.append(pl.col(col).sum())
        elif col in KNOB_COLUMNS or col in ("knob", "knob_name"):
            aggs.append(pl.col(col).drop_nulls().first())
    return table.group_by(list(by)).agg(aggs) if by else table.select(aggs)
