"""What a "configuration" is, and which parameter is each sampler's temperature-like knob.

Paper 000 Fig. 3 (left) sweeps "the temperature parameters (α for IMH, τ for baselines)"; the
other samplers of DESIGN §5 have their own dial.  A configuration is one distinct (sampler,
params, lengths) combination: two IMH runs with the same α but different chain lengths are two
points, not one.
"""
from __future__ import annotations

import json
from typing import Iterable, Mapping

import polars as pl

__all__ = ["KNOBS", "DEFAULT_KNOB", "knob_of", "with_knob", "config_columns", "group_columns",
           "problem_key", "series_labels", "selector"]

# Sampler → the flattened column holding its knob (DESIGN §3/§5).  Samplers not listed are
# one-token samplers (random, confidence, entropy, margin, left_to_right) whose knob is the
# local temperature τ.  Pass ``knobs={...}`` to the analysis functions to override entries.
KNOBS: dict[str, str] = {
    "imh": "alpha",          # 000 §4.3: global tempering exponent α
    "threshold": "threshold",  # Fast-dLLM static confidence threshold
    "factor": "factor",      # Fast-dLLM dynamic factor f (002 Thm 3.2)
    "eb": "gamma",           # entropy-bounded budget γ
    "med": "lam",            # 004 §4.2 entropy cap λ
    "ete": "threshold",      # 002 §4: exploitation threshold τ
}
DEFAULT_KNOB = "temperature"

# Columns that together identify a configuration, in display order (those present are used).
CONFIG_COLUMNS = ("model", "task", "sampler", "params", "gen_length", "block_length")


def knob_of(sampler: str, knobs: Mapping[str, str] | None = None) -> str:
    """The knob column of ``sampler`` (``knobs`` entries override :data:`KNOBS`)."""
    table = {**KNOBS, **(knobs or {})}
    return table.get(sampler, DEFAULT_KNOB)


def with_knob(lf: pl.LazyFrame | pl.DataFrame, knobs: Mapping[str, str] | None = None):
    """Add ``knob_name`` (str) and ``knob`` (float, null where the column is absent or null)."""
    table = {**KNOBS, **(knobs or {})}
    names = set(lf.collect_schema().names())

    def value(column: str) -> pl.Expr:
        return pl.col(column).cast(pl.Float64) if column in names else pl.lit(None, dtype=pl.Float64)

    # when/then chains rather than a dict lookup: they stay cheap in the streaming engine.
    name_expr, value_expr = pl.lit(DEFAULT_KNOB), value(DEFAULT_KNOB)
    for sampler, column in table.items():
        hit = pl.col("sampler") == sampler
        name_expr = pl.when(hit).then(pl.lit(column)).otherwise(name_expr)
        value_expr = pl.when(hit).then(value(column)).otherwise(value_expr)
    return lf.with_columns(knob_name=name_expr, knob=value_expr)


def config_columns(schema: Iterable[str]) -> list[str]:
    """The configuration-identifying columns present in ``schema``."""
    have = set(schema)
    return [c for c in CONFIG_COLUMNS if c in have]


def group_columns(schema: Iterable[str]) -> list[str]:
    """Columns a frontier is drawn within (one frontier per model × task)."""
    have = set(schema)
    return [c for c in ("model", "task") if c in have]


def problem_key(schema: Iterable[str], by: Iterable[str] = ()) -> list[str]:
    """Columns naming a problem: ``problem_id`` qualified by ``task`` when there is one."""
    have, by = set(schema), list(by)
    return [c for c in ("task", "problem_id") if c in have and c not in by]


def _label_value(v: object) -> str:
    if isinstance(v, float) and v.is_integer():
        return str(int(v))
    return str(v)


def series_labels(configs: pl.DataFrame, knobs: Mapping[str, str] | None = None) -> list[str]:
    """One line label per configuration: the sampler, plus the non-knob params that vary.

    Configurations of a sampler that differ only in the knob share a line (a frontier trace);
    IMH at chain length 4 and 8 become ``imh chain_length=4`` and ``imh chain_length=8``.
    """
    parsed: list[dict] = []
    for row in configs.iter_rows(named=True):
        try:
            params = json.loads(row.get("params") or "{}")
        except (TypeError, ValueError):
            params = {}
        knob = knob_of(row["sampler"], knobs)
        extra = {k: v for k, v in params.items() if k != knob} if isinstance(params, dict) else {}
        for col in ("gen_length", "block_length"):
            if col in row:
                extra[col] = row[col]
        parsed.append(extra)
    samplers = configs["sampler"].to_list()
    varying: dict[str, set[str]] = {}
    for sampler in set(samplers):
        rows = [p for s, p in zip(samplers, parsed) if s == sampler]
        keys = set().union(*rows) if rows else set()
        varying[sampler] = {k for k in keys if len({json.dumps(r.get(k), sort_keys=True) for r in rows}) > 1}
    labels = []
    for sampler, extra in zip(samplers, parsed):
        parts = [f"{k}={_label_value(extra.get(k))}" for k in sorted(varying[sampler])]
        labels.append(" ".join([sampler, *parts]))
    return labels


def selector(spec: str | Mapping[str, object]) -> tuple[pl.Expr, str]:
    """A sampler name or ``{column: value}`` filter → (row predicate, readable label)."""
    if isinstance(spec, str):
        spec = {"sampler": spec}
    expr = pl.lit(True)
    for col, val in spec.items():
        expr = expr & (pl.col(col).is_null() if val is None else pl.col(col) == val)
    return expr, ", ".join(f"{c}={v}" for c, v in spec.items())
