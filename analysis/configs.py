"""What a "configuration" is, and which parameter is each sampler's temperature-like knob.

Paper 000 Fig. 3 (left) sweeps "the temperature parameters (α for IMH, τ for baselines)"; the
other samplers of docs/design.md §5 have their own dial.  A configuration is one distinct (sampler,
params, lengths) combination: two IMH runs with the same α but different chain lengths are two
points, not one.
"""
from __future__ import annotations

import json
from typing import Iterable, Mapping

import polars as pl

from workers.contract import DEFAULT_DIAL, DIALS

__all__ = ["KNOBS", "DEFAULT_KNOB", "knob_of", "with_knob", "config_columns", "group_columns",
           "problem_key", "series_labels", "selector", "IMH_BASE_SAMPLERS", "base_sampler_of", "imh_base_configs"]

# Sampler → the flattened column holding its frontier dial (workers.contract's knob registry:
# imh α, threshold/ete θ, factor f, eb γ, med λ).  Samplers not listed are one-token samplers
# whose dial is the local temperature τ.  Pass ``knobs={...}`` to the analysis functions to
# override entries.
KNOBS: dict[str, str] = dict(DIALS)
DEFAULT_KNOB = DEFAULT_DIAL

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


# IMH position rule → the registered baseline IMH equals at α = 1 (000 §4.3).  The same
# table as ``workers.samplers.imh.BASE_SAMPLERS`` (analysis does not import torch; a test keeps
# the two equal).  Rows written by this version carry it in the ``base_sampler`` column.
IMH_BASE_SAMPLERS: dict[str, str] = {"confidence": "max_prob", "entropy": "entropy", "margin": "margin",
                                     "random": "random"}
IMH_DEFAULT_POSITION = "confidence"


def base_sampler_of(sampler: str, params: str | Mapping[str, object] | None) -> str | None:
    """The baseline an IMH configuration starts from at α = 1 (None for other samplers).

    ``params`` is the row's ``params`` JSON (or a dict); a missing ``position`` is IMH's default.
    """
    if sampler != "imh":
        return None
    if isinstance(params, str):
        try:
            params = json.loads(params)
        except ValueError:
            params = {}
    position = (params or {}).get("position", IMH_DEFAULT_POSITION) if isinstance(params, Mapping) else IMH_DEFAULT_POSITION
    return IMH_BASE_SAMPLERS.get(str(position))


def imh_base_configs(configs: pl.DataFrame) -> pl.DataFrame:
    """Pair every IMH configuration with its base sampler's configurations in the same table.

    ``configs``: one row per configuration with ``sampler`` and ``params`` (JSON) and any of
    ``model``, ``task``, ``gen_length``, ``block_length`` (matched exactly); a ``base_sampler``
    column (the row contract's) is used where present, else the base is derived from
    IMH's ``position`` (:func:`base_sampler_of`).  Returns one row per (IMH config, base config):
    the matched columns, ``params`` (IMH's), ``alpha``, ``base_sampler``, ``base_params``,
    ``base_temperature`` — so a report draws IMH's α-curve next to the base's τ-curve, whose
    α = 1 end is the base's τ = 1 point (IMH's proposal at α is the base's draw at τ = 1/α).
    """
    if not {"sampler", "params"} <= set(configs.columns):
        raise ValueError("imh_base_configs needs the columns 'sampler' and 'params'")
    keys = [c for c in ("model", "task", "gen_length", "block_length") if c in configs.columns]
    imh = configs.filter(pl.col("sampler") == "imh")
    derived = [base_sampler_of("imh", p) for p in imh["params"].to_list()]
    if "base_sampler" in imh.columns:
        derived = [b if b is not None else d for b, d in zip(imh["base_sampler"].to_list(), derived)]
    alphas = [json.loads(p).get("alpha") if isinstance(p, str) and p.startswith("{") else None
              for p in imh["params"].to_list()]
    left = imh.select([*keys, "params"]).with_columns(
        alpha=pl.Series(alphas, dtype=pl.Float64), base_sampler=pl.Series(derived, dtype=pl.String))
    bases = configs.filter(pl.col("sampler") != "imh").select([*keys, "sampler", "params"]).unique()
    temps = [json.loads(p).get("temperature") if isinstance(p, str) and p.startswith("{") else None
             for p in bases["params"].to_list()]
    bases = bases.rename({"sampler": "base_sampler", "params": "base_params"}).with_columns(
        base_temperature=pl.Series(temps, dtype=pl.Float64))
    out = left.join(bases, on=[*keys, "base_sampler"], how="inner", nulls_equal=True)
    return out.sort([*keys, "alpha", "base_temperature"], nulls_last=True)
