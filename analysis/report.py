"""Per-sweep report: ``python -m analysis.report DIR`` → ``DIR/report/`` (docs/design.md §6).

Writes PNG figures, ``report.md`` (tables and figures, readable on GitHub) and ``summary.json``
(the same numbers, machine-readable).  All statistics come from one streaming pass over the
shards (:func:`analysis.aggregate.aggregate`) plus two small sampling passes (scatter points,
completions), so a 10-million-row sweep reports in seconds.  Sections whose columns or samplers
the sweep lacks are skipped and listed, with the reason, at the end of the report.
"""
from __future__ import annotations

import argparse
import json
import math
import os
import sys
import warnings
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path, PurePosixPath
from typing import Any, Callable, Mapping, Sequence

import numpy as np
import polars as pl
import pyarrow.fs as pafs

from . import plots
from .aggregate import PARTS, aggregate, factors_in, rollup
from .bits_rounds import finish_bits_rounds
from .configs import config_columns, group_columns, problem_key, series_labels, with_knob
from .cost import cost_from_counts, paired_from_counts
from .diversity import diversity_sample, distinct_from_counts, similarity_from_sample
from .frontier import FRONTIER_K, frontier_from_counts
from .load import SweepDataError, SweepDataWarning, find_shards, load_samples, resolve_path
from .passk import estimate_pass_at_k, k_grid
from .strata import DEFAULT_REFERENCE, STRATA_K, check_reference, strata_split, stratified_from_counts

__all__ = ["write_report", "main", "REPORT_DIRNAME"]

REPORT_DIRNAME = "report"
SCATTER_POINTS = 20_000  # points drawn in the bits-vs-rounds scatter (fits use every sample)
MAX_CURVES = 12          # beyond this many configurations, curves show each sampler's best only


@dataclass
class _Report:
    """What the sections produce: markdown chunks, numbers, figures, skipped sections."""
    out: Path
    md: list[str] = field(default_factory=list)
    summary: dict[str, Any] = field(default_factory=dict)
    skipped: dict[str, str] = field(default_factory=dict)
    figures: list[str] = field(default_factory=list)

    def figure(self, fig, name: str, caption: str) -> None:
        plots.save(fig, self.out / name)
        self.figures.append(name)
        self.md.append(f"![{caption}]({name})\n")

    def skip(self, section: str, reason: str) -> None:
        self.skipped[section] = reason


# ----------------------------------------------------------------------------- formatting

def _cell(v: Any) -> str:
    if v is None:
        return "–"
    if isinstance(v, bool):
        return "✓" if v else ""
    if isinstance(v, float):
        if math.isnan(v):
            return "–"
        if math.isinf(v):
            return "∞"
        return f"{v:.3f}" if abs(v) < 1000 else f"{v:.4g}"
    return str(v).replace("|", "\\|")


def _md_table(df: pl.DataFrame, columns: Sequence[str] | None = None, headers: Mapping[str, str] | None = None) -> str:
    cols = [c for c in (columns or df.columns) if c in df.columns]
    headers = headers or {}
    lines = ["| " + " | ".join(headers.get(c, c) for c in cols) + " |", "|" + "---|" * len(cols)]
    for row in df.select(cols).iter_rows():
        lines.append("| " + " | ".join(_cell(v) for v in row) + " |")
    return "\n".join(lines) + "\n"


def _jsonable(obj: Any) -> Any:
    if isinstance(obj, pl.DataFrame):
        return [_jsonable(r) for r in obj.to_dicts()]
    if isinstance(obj, dict):
        return {str(k): _jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_jsonable(v) for v in obj]
    if isinstance(obj, (np.floating, float)):
        return None if not math.isfinite(float(obj)) else float(obj)
    if isinstance(obj, np.integer):
        return int(obj)
    if isinstance(obj, datetime):
        return obj.isoformat()
    return obj


def _pow2_at_most(n: int) -> int:
    return 1 << (max(1, int(n)).bit_length() - 1)


# ----------------------------------------------------------------------------- the pipeline

@dataclass
class _Data:
    lf: pl.LazyFrame
    names: list[str]
    configs: list[str]
    groups: list[str]
    problems: list[str]     # problem columns within one configuration (configs include task)
    problem_ids: list[str]  # problem identity across the sweep: (task, problem_id)
    pt: pl.DataFrame        # per (config, problem) aggregates
    cfg: pl.DataFrame       # per config: knob, series, label, n_min, problems
    knobs: Mapping[str, str] | None
    multi: list[str]        # group columns (model, task) that take several values
    best: pl.DataFrame = field(default_factory=pl.DataFrame)   # each sampler's best config
    best_by: str = "pass@1"


def _prepare(lf: pl.LazyFrame, knobs: Mapping[str, str] | None) -> _Data:
    names = lf.collect_schema().names()
    configs = config_columns(names)
    groups = group_columns(names)
    problems = problem_key(names, configs)
    keys = list(dict.fromkeys([*configs, *problems]))
    pt = aggregate(lf, keys, PARTS, factors_in(lf)).collect(engine="streaming")
    if pt.height == 0:
        raise SweepDataError("the sweep has no sample rows")
    pt = with_knob(pt, knobs)
    cfg = (pt.group_by(configs).agg(pl.col("n").min().alias("n_min"), pl.len().alias("problems"),
                                    pl.col("knob_name").first(), pl.col("knob").first())
           .sort(configs, nulls_last=True))
    cfg = cfg.with_columns(series=pl.Series(series_labels(cfg, knobs), dtype=pl.String))
    sym = pl.col("knob_name").replace_strict(plots.KNOB_SYMBOLS, default=pl.col("knob_name"))
    knob_txt = pl.when(pl.col("knob").is_null()).then(pl.lit("")).otherwise(
        pl.concat_str([pl.lit(" "), sym, pl.lit("="), pl.col("knob").round(4).cast(pl.String).str.replace(r"\.0$", "")]))
    label = pl.concat_str([pl.col("series"), knob_txt])
    multi = [g for g in groups if cfg[g].n_unique() > 1]
    if multi:  # several models/tasks: say which one a configuration belongs to
        label = pl.concat_str([pl.concat_str([pl.col(g) for g in multi], separator="/"), pl.lit(": "), label])
    cfg = cfg.with_columns(label=label)
    if cfg["label"].n_unique() < cfg.height:  # configurations differing only in unlisted params
        cfg = cfg.with_columns(label=pl.concat_str([pl.col("label"), pl.lit(" #"),
                                                   pl.int_range(pl.len()).over("label").cast(pl.String)]))
    pt = pt.join(cfg.select([*configs, "series", "label"]), on=configs, nulls_equal=True)
    d = _Data(lf, names, configs, groups, problems, problem_key(names), pt, cfg, knobs, multi)
    # "Best" = highest Pass@k at the frontier's k, then Pass@1: 000 compares tuned methods.
    k = _pow2_at_most(min(FRONTIER_K, int(cfg["n_min"].max())))
    cols = sorted({"pass@1", f"pass@{k}"}, key=lambda c: int(c.split("@")[1]), reverse=True)
    score = _pass_curves(d, sorted({1, k}))
    keys = [*groups, "sampler"]
    d.best = (score.sort([*cols, "label"], descending=[True] * len(cols) + [False], nulls_last=True)
              .group_by(keys, maintain_order=True).head(1).sort(keys))
    d.best_by = " then ".join(c.replace("pass", "Pass") for c in cols)
    return d


def _pass_curves(d: _Data, ks: Sequence[int]) -> pl.DataFrame:
    """Pass@k per configuration for each k ≤ that configuration's smallest n (else null)."""
    n, c = d.pt["n"].to_numpy(), d.pt["c"].to_numpy()
    cols = {}
    for kv in ks:
        ok = n >= kv
        vals = np.full(n.shape, np.nan)
        if ok.any():
            vals[ok] = estimate_pass_at_k(n[ok], c[ok], kv)
        cols[f"pass@{kv}"] = vals
    per = d.pt.select([*d.configs, "n"]).with_columns(**{k: pl.Series(v) for k, v in cols.items()})
    aggs = [pl.when(pl.col("n").min() >= kv).then(pl.col(f"pass@{kv}").mean()).alias(f"pass@{kv}") for kv in ks]
    table = per.group_by(d.configs).agg(aggs)
    return d.cfg.join(table, on=d.configs, nulls_equal=True).sort(["label"])


def _overview(d: _Data, r: _Report, shards: int, duplicates: int, sweep_dir: str) -> None:
    pt = d.pt
    rows = int(pt["n"].sum())
    n_problems = pt.select(d.problem_ids).n_unique()
    info: dict[str, Any] = {
        "sweep_dir": sweep_dir, "shards": shards, "rows": rows, "duplicate_rows_dropped": duplicates,
        "problems": n_problems, "configurations": d.cfg.height,
        "samplers": sorted(d.cfg["sampler"].unique().to_list()),
        "samples_per_problem_min": int(pt["n"].min()), "samples_per_problem_max": int(pt["n"].max()),
        "correct_rate": float(pt["c"].sum() / rows),
    }
    for col in ("model", "task", "gen_length", "block_length"):
        if col in d.cfg.columns:
            info[col + "s"] = sorted(d.cfg[col].unique().drop_nulls().to_list())
    if "_errors" in pt.columns:
        info["error_rows"] = int(pt["_errors"].sum())
    r.summary["overview"] = info
    lines = [f"- **{k.replace('_', ' ')}**: {', '.join(map(str, v)) if isinstance(v, list) else _cell(v) if isinstance(v, float) else v}"
             for k, v in info.items()]
    r.md.append("## Overview\n\n" + "\n".join(lines) + "\n")
    if duplicates:
        r.md.append(f"> {duplicates} rows repeated an existing `job_id` and were dropped (a job re-run after a crash).\n")
    r.md.append("Rows whose `correct` is null count as wrong attempts; rows with an `error` stay in the data "
                "(docs/design.md §4: failed jobs are written, never dropped).\n")


def _passk_section(d: _Data, r: _Report) -> None:
    top = int(d.cfg["n_min"].max())
    ks = k_grid(top)
    table = _pass_curves(d, ks)
    r.summary["pass_at_k"] = table
    r.md.append("## Pass@k\n\nUnbiased estimator 1 − C(n−c,k)/C(n,k) per problem, averaged over problems "
                "(docs/design.md §6); blank where k exceeds a configuration's samples per problem.\n")
    shown = [f"pass@{kv}" for kv in ks][:10]
    r.md.append(_md_table(table, ["label", "problems", "n_min", *shown]))
    curves = table if table.height <= MAX_CURVES else table.join(d.best.select(d.configs), on=d.configs, nulls_equal=True)
    if len(ks) > 1:
        note = "" if table.height <= MAX_CURVES else f" (each sampler at its best configuration by {d.best_by})"
        r.figure(plots.passk_curve_figure(curves, label="label"), "passk_curves.png", f"Pass@k curves{note}")
    else:
        r.skip("Pass@k curves", "every configuration has a single sample per problem")


def _frontier_section(d: _Data, r: _Report, n_boot: int, seed: int) -> int | None:
    top = int(d.cfg["n_min"].max())
    if top < 2:
        r.skip("Pareto frontier", "needs at least 2 samples per problem")
        return None
    k = _pow2_at_most(min(FRONTIER_K, top))
    keep = d.cfg.filter(pl.col("n_min") >= k)
    dropped = d.cfg.filter(pl.col("n_min") < k)["label"].to_list()
    counts = d.pt.join(keep.select(d.configs), on=d.configs, nulls_equal=True)
    table = frontier_from_counts(counts, k, d.groups, d.configs, d.problems, d.knobs, n_boot=n_boot, seed=seed)
    table = table.join(d.cfg.select([*d.configs, "label"]), on=d.configs, nulls_equal=True)
    r.summary["frontier"] = {"k": k, "points": table, "excluded": dropped}
    r.md.append(f"## Pareto frontier: Pass@1 vs Pass@{k}\n\nPaper 000 Fig. 3 (left): each configuration is a point; "
                "a line joins a sampler's knob values. ✓ = not dominated within its sampler / over all samplers. "
                f"Brackets: 95% bootstrap CIs over problems ({n_boot} resamples, paired across configurations).\n")
    y = f"pass@{k}"
    show = table.with_columns(
        pl.format("[{}, {}]", pl.col("pass@1_lo").round(3), pl.col("pass@1_hi").round(3)).alias("pass@1 CI"),
        pl.format("[{}, {}]", pl.col(f"{y}_lo").round(3), pl.col(f"{y}_hi").round(3)).alias(f"{y} CI"),
    )
    r.md.append(_md_table(show, ["label", "problems", "pass@1", "pass@1 CI", y, f"{y} CI", "on_sampler_frontier", "on_frontier"],
                          {"on_sampler_frontier": "sampler frontier", "on_frontier": "overall frontier"}))
    if dropped:
        r.md.append(f"Excluded (fewer than {k} samples per problem): {', '.join(dropped)}.\n")
    flat = (table.group_by(d.groups).agg(pl.col(y).min().alias("_min")).filter(pl.col("_min") >= SATURATED)
            if d.groups else (table.select(pl.col(y).min().alias("_min")).filter(pl.col("_min") >= SATURATED)))
    if flat.height and (not d.groups or flat.height == table.select(d.groups).n_unique()):
        r.skip("Pareto frontier plot", f"saturated: every configuration has Pass@{k} ≥ {SATURATED}, a flat frontier")
        return k
    drawn = table.join(flat.select(d.groups), on=d.groups, how="anti", nulls_equal=True) if flat.height else table
    if flat.height:
        names = ", ".join("/".join(str(v) for v in row) for row in flat.select(d.groups).iter_rows())
        r.skip("Pareto frontier plot (some panels)", f"saturated (every Pass@{k} ≥ {SATURATED}): {names}")
    r.figure(plots.frontier_figure(drawn, k, d.groups), "frontier.png", f"Pass@1 vs Pass@{k}")
    return k


def _strata_section(d: _Data, r: _Report, reference: Any) -> None:
    """Tiers are rated on samples disjoint from the ones scored (strata_split): task labels, a
    reference sweep (``reference`` = a path), or the reference sampler's even seeds."""
    try:
        split = strata_split(d.lf, reference)
    except SweepDataError as exc:
        r.skip("Difficulty strata", str(exc))
        return
    tiers = split.tiers["tier"].unique().to_list()
    if len(tiers) < 2:
        r.skip("Difficulty strata", f"one tier only ({', '.join(map(str, tiers))}): nothing to stratify")
        return
    keys = list(dict.fromkeys([*d.configs, *d.problems]))
    counts = (split.scored.group_by(keys)
              .agg(pl.len().cast(pl.Int64).alias("n"),
                   pl.col("correct").fill_null(False).sum().cast(pl.Int64).alias("c"))
              .collect(engine="streaming")
              .join(d.best.select([*d.configs, "label"]), on=d.configs, nulls_equal=True))
    # one k for every configuration, so they compare; with the seed split the reference keeps
    # only its odd seeds, so k is at most half its n (Pass@k with the n that is left)
    top = int(counts.group_by(d.configs).agg(pl.col("n").min())["n"].min() or 0)
    if top < 2:
        r.skip("Difficulty strata", "needs at least 2 scored samples per problem"
               + (" (the reference's even seeds rate the tiers and are not scored)" if "seeds" in split.source else ""))
        return
    k = _pow2_at_most(min(STRATA_K, top))
    keep = counts.group_by(d.configs).agg(pl.col("n").min().alias("n_min")).filter(pl.col("n_min") >= k)
    chosen = counts.join(keep.select(d.configs), on=d.configs, nulls_equal=True)
    table = stratified_from_counts(chosen, split.tiers, k, [*d.groups, "label"], d.problem_ids)
    r.summary["strata"] = {"k": k, "tier_source": split.source, "table": table,
                           "tiers": split.tiers.group_by("tier").len().sort("tier")}
    r.md.append(f"## Difficulty-stratified Pass@{k}\n\nPaper 000 Fig. 3 (middle). Tiers from {split.source}. "
                f"Each sampler at its best configuration by {d.best_by}.\n")
    wide = table.pivot(on="label", index=[*d.multi, "tier", "problems"], values=f"pass@{k}", aggregate_function="first")
    r.md.append(_md_table(wide))
    r.figure(plots.strata_figure(table, k, label="label", groups=d.multi),
             "strata.png", f"Pass@{k} by difficulty tier")


def _bits_section(d: _Data, r: _Report) -> None:
    if not {"bits", "nfe"} <= set(d.names) or d.pt["_bn"].sum() == 0:
        r.skip("Bits vs rounds", "the sweep has no `bits`/`nfe` values")
        return
    if not set(d.cfg["sampler"].to_list()) & set(PARALLEL_SAMPLERS):
        # one token per round: rounds = gen_length whatever the bits, a slope-0 line (002 §5.1 needs
        # a sampler that commits several tokens per round)
        r.skip("Bits vs rounds", "no parallel sampler (" + ", ".join(PARALLEL_SAMPLERS)
               + ") in this sweep: one token per round, so rounds do not depend on bits")
        return
    stats = rollup(d.pt.drop(["series", "label", "knob", "knob_name"]), d.configs)
    fits = finish_bits_rounds(stats, d.configs, d.knobs).join(d.cfg.select([*d.configs, "label"]), on=d.configs,
                                                               nulls_equal=True).sort("label")
    total = int(d.pt["n"].sum())
    every = max(1, total // SCATTER_POINTS)
    cols = [c for c in (*d.configs, "bits", "nfe", "exploit_bits", "exploit_rounds") if c in d.names]
    points = (d.lf.select(cols).gather_every(every).collect(engine="streaming")
              .join(d.cfg.select([*d.configs, "label"]), on=d.configs, nulls_equal=True))
    fits_plot = fits.with_columns(pl.col("factor") if "factor" in fits.columns else pl.lit(None, dtype=pl.Float64).alias("factor"))
    r.summary["bits_vs_rounds"] = fits
    r.md.append("## Bits vs rounds\n\nPaper 002 §5.1 Fig. 4: per configuration, OLS of rounds (`nfe`) on trajectory "
                "bits. For the factor rule the bound is exploit_rounds ≥ exploit_bits·ln2/B(f) with "
                "B(f) = sup_k −k·ln(1 − f/(k+1)) nats (002 Thm 3.2); `bound slope` = ln2/B(f) rounds per bit.\n")
    cols_md = ["label", "samples", "mean_bits", "mean_nfe", "slope", "intercept", "r2", "bits_per_round",
               "budget_nats", "bound_slope", "bound_checked", "bound_violations"]
    r.md.append(_md_table(fits, cols_md, {"budget_nats": "B(f) nats", "bound_slope": "bound slope",
                                          "bound_checked": "checked", "bound_violations": "violations"}))
    if "bound_violations" in fits.columns:
        v = int(fits["bound_violations"].fill_null(0).sum())
        checked = int(fits["bound_checked"].fill_null(0).sum())
        r.summary["bound"] = {"checked": checked, "violations": v}
        r.md.append(f"**Bound check:** {v} of {checked} samples violate exploit_rounds ≥ exploit_bits·ln2/B(f)"
                    + (" (expected 0)." if v == 0 else " — should be 0: check the sampler's round accounting.") + "\n")
    else:
        r.skip("Bits-to-rounds bound check", "needs `factor`, `exploit_bits` and `exploit_rounds` columns with values")
    r.figure(plots.bits_rounds_figure(points, fits_plot, label="label"), "bits_rounds.png", "Rounds vs bits")
    if "explore_bit_share" in fits.columns and fits["explore_bit_share"].drop_nulls().len() > 0:
        shares = fits.filter(pl.col("explore_bit_share").is_not_null()).with_columns(
            efficiency=pl.col("explore_bit_share") / pl.col("explore_round_share"))
        r.md.append("### Exploration vs exploitation\n\nPaper 002 Fig. 2: share of bits and of rounds from exploration "
                    "(the rest is exploitation); efficiency = bit share / round share.\n")
        r.md.append(_md_table(shares, ["label", "explore_bit_share", "explore_round_share", "efficiency",
                                       "exploit_bits_per_round"]))
        r.figure(plots.shares_figure(shares, label="label"), "explore_exploit.png", "Exploration vs exploitation shares")
    else:
        r.skip("Exploration vs exploitation shares", "no `exploit_*`/`explore_*` values")


def _cost_section(d: _Data, r: _Report) -> None:
    if not any(f"_sum_{c}" in d.pt.columns for c in ("nfe", "forward_rows", "wall_s")):
        r.skip("Cost", "no `nfe`, `forward_rows` or `wall_s` columns")
        return
    table = cost_from_counts(d.pt, [*d.configs, "series", "label"], 1).sort("label")
    r.summary["cost"] = table
    r.md.append("## Cost\n\nPass@1 against what it costs: sequential rounds (`nfe`), forwarded rows (compute; "
                "IMH forwards T+1 rows per round) and wall-clock.\n")
    r.md.append(_md_table(table, ["label", "pass@1", "mean_nfe", "mean_forward_rows", "mean_wall_s",
                                  "wall_s_per_problem", "mean_tokens", "errors"]))
    r.figure(plots.cost_figure(table, 1, label="series"), "cost.png", "Pass@1 vs cost")


SATURATED = 0.97  # a frontier whose every Pass@k is at least this says nothing about exploration
EMPTY = 0.05      # ... and one whose best Pass@1 is at most this says nothing about quality
PARALLEL_SAMPLERS = ("threshold", "factor", "eb", "med", "ete")  # commit several tokens per round


def _headline(d: _Data, n_boot: int, seed: int) -> list[dict[str, Any]]:
    """Per model × task: each sampler's best Pass@1 and Pass@k (k = the largest power of two ≤ the
    samples per problem), the frontier's shape, and every pair of samplers whose best
    configurations differ beyond the paired-bootstrap 95% CI (000 Fig. 3: the trade-off itself)."""
    out = []
    groups = d.groups
    for key, cfg in (d.cfg.group_by(groups, maintain_order=True) if groups else [((), d.cfg)]):
        n = int(cfg["n_min"].min())
        k = _pow2_at_most(n)
        ks = sorted({1, k})
        sub = _Data(d.lf, d.names, d.configs, d.groups, d.problems, d.problem_ids,
                    d.pt.join(cfg.select(d.configs), on=d.configs, nulls_equal=True), cfg, d.knobs, d.multi)
        curves = _pass_curves(sub, ks)
        per_sampler = []
        for (sampler,), part in curves.group_by(["sampler"], maintain_order=True):
            row: dict[str, Any] = {"sampler": sampler}
            for kv in ks:
                col = f"pass@{kv}"
                top = part.sort([col, "label"], descending=[True, False], nulls_last=True).row(0, named=True)
                row[col], row[f"{col} config"] = top[col], top["label"]
                row[f"_{col} cfg"] = {c: top[c] for c in d.configs}
            per_sampler.append(row)
        per_sampler.sort(key=lambda r: (-(r["pass@1"] or 0), r["sampler"]))
        diffs = []
        for kv in ks:
            col = f"pass@{kv}"
            for i, a in enumerate(per_sampler):
                for b in per_sampler[i + 1:]:
                    try:
                        res = paired_from_counts(sub.pt, _config_filter(a[f"_{col} cfg"], d.configs),
                                                 _config_filter(b[f"_{col} cfg"], d.configs), d.problems, kv,
                                                 n_boot=n_boot, seed=seed)
                    except SweepDataError:  # no shared problem (a partial sweep): nothing to compare
                        continue
                    if res["lo"] > 0 or res["hi"] < 0:
                        hi_, lo_ = (a, b) if res["diff"] > 0 else (b, a)
                        sign = 1 if res["diff"] > 0 else -1
                        diffs.append({"k": kv, "better": hi_["sampler"], "worse": lo_["sampler"],
                                      "better_config": hi_[f"{col} config"], "worse_config": lo_[f"{col} config"],
                                      "diff": sign * res["diff"], "lo": min(sign * res["lo"], sign * res["hi"]),
                                      "hi": max(sign * res["lo"], sign * res["hi"]), "problems": res["problems"]})
        best1 = max(per_sampler, key=lambda r: r["pass@1"] or 0)
        bestk = max(per_sampler, key=lambda r: r[f"pass@{k}"] or 0)
        max_k = float(curves[f"pass@{k}"].max() or 0.0)
        min_k = float(curves[f"pass@{k}"].min() or 0.0)
        if min_k >= SATURATED:
            shape = f"saturated: every configuration reaches Pass@{k} ≥ {SATURATED}"
        elif (best1["pass@1"] or 0) <= EMPTY:
            shape = f"empty: no configuration passes {EMPTY} at Pass@1"
        elif best1[f"pass@1 config"] == bestk[f"pass@{k} config"]:
            shape = f"one configuration leads both: {best1['pass@1 config']}"
        else:
            shape = (f"a trade-off: Pass@1 peaks at {best1['pass@1 config']}, Pass@{k} at "
                     f"{bestk[f'pass@{k} config']}")
        out.append({
            **({g: v for g, v in zip(groups, key)}),
            "problems": int(sub.pt.select(d.problems).n_unique()), "samples": n, "k": k,
            "configurations": cfg.height, "shape": shape,
            "saturated": max_k >= SATURATED, "empty": (best1["pass@1"] or 0) <= EMPTY,
            "best_pass@1": best1["sampler"], "best_pass@k": bestk["sampler"],
            "samplers": [{kk: v for kk, v in r.items() if not kk.startswith("_")} for r in per_sampler],
            "significant": diffs,
        })
    return out


def headline_text(head: Sequence[Mapping[str, Any]]) -> str:
    """The headline as markdown: one short block per model × task (also what pareto.py prints)."""
    lines = []
    for h in head:
        name = " · ".join(str(h[g]) for g in ("model", "task") if g in h)
        k = h["k"]
        lines.append(f"**{name}** — {h['problems']} problems × {h['samples']} samples, "
                     f"{h['configurations']} configurations. Frontier: {h['shape']}. "
                     f"Best Pass@1: `{h['best_pass@1']}`; best Pass@{k}: `{h['best_pass@k']}`.\n")
        lines.append(f"| sampler | best Pass@1 | at | best Pass@{k} | at |\n|---|---:|---|---:|---|")
        for r in h["samplers"]:
            lines.append(f"| {r['sampler']} | {_cell(r['pass@1'])} | {r['pass@1 config']} "
                         f"| {_cell(r.get(f'pass@{k}'))} | {r.get(f'pass@{k} config', '–')} |")
        sig = h["significant"]
        if sig:
            lines.append(f"\nDifferences beyond the paired-bootstrap 95% CI ({len(sig)}):")
            for s_ in sig:
                lines.append(f"- Pass@{s_['k']}: {s_['better']} > {s_['worse']} by {s_['diff']:+.3f} "
                             f"[{s_['lo']:+.3f}, {s_['hi']:+.3f}] ({s_['problems']} problems)")
        else:
            lines.append("\nNo two samplers' best configurations differ beyond the paired-bootstrap 95% CI.")
        if h["saturated"]:
            lines.append(f"\n> Saturated: some configuration reaches Pass@{k} ≥ {SATURATED}; use harder problems.")
        if h["empty"]:
            lines.append(f"\n> Near empty: best Pass@1 ≤ {EMPTY}; use easier problems.")
        lines.append("")
    return "\n".join(lines)


def _config_filter(row: Mapping[str, Any], configs: Sequence[str]) -> pl.Expr:
    expr = pl.lit(True)
    for c in configs:
        expr = expr & (pl.col(c).is_null() if row[c] is None else pl.col(c) == row[c])
    return expr


def _significance_section(d: _Data, r: _Report, k_front: int | None, reference: Any, n_boot: int, seed: int) -> None:
    samplers = d.cfg["sampler"].unique().to_list()
    if len(samplers) < 2:
        r.skip("Significance", "only one sampler in the sweep")
        return
    ref = reference if isinstance(reference, str) else (DEFAULT_REFERENCE if DEFAULT_REFERENCE in samplers else None)
    if ref is None or ref not in samplers:
        ref = d.cfg.group_by("sampler").agg(pl.col("problems").sum()).sort(["problems", "sampler"], descending=[True, False])["sampler"][0]
    ks = sorted({1, *([k_front] if k_front else [])})
    best = d.best
    rows = []
    for grp, part in (best.group_by(d.groups, maintain_order=True) if d.groups else [((), best)]):
        base = part.filter(pl.col("sampler") == ref)
        if base.height == 0:
            continue
        b = base.row(0, named=True)
        for a in part.filter(pl.col("sampler") != ref).iter_rows(named=True):
            for kv in ks:
                if min(a["n_min"], b["n_min"]) < kv:
                    continue
                res = paired_from_counts(d.pt, _config_filter(a, d.configs), _config_filter(b, d.configs),
                                         d.problems, kv, n_boot=n_boot, seed=seed)
                rows.append({"a": a["label"], "b": b["label"], **res})
    if not rows:
        r.skip("Significance", f"no configuration shares problems with the reference sampler {ref}")
        return
    table = pl.DataFrame(rows)
    r.summary["significance"] = {"reference": ref, "table": table}
    r.md.append(f"## Significance\n\nPaired bootstrap over shared problems ({n_boot} resamples): each sampler's best "
                f"configuration (a) against the reference sampler `{ref}`'s best (b); diff = Pass@k(a) − Pass@k(b).\n")
    r.md.append(_md_table(table, ["a", "b", "k", "problems", "pass_a", "pass_b", "diff", "lo", "hi", "p_value"]))


def _acceptance_section(d: _Data, r: _Report) -> None:
    if "_acc_n" not in d.pt.columns or d.pt["_acc_n"].sum() == 0:
        r.skip("IMH acceptance", "no `acceptance_rate` values (no IMH runs)")
        return
    keys = [c for c in ("alpha", "chain_length") if c in d.pt.columns]
    acc = d.pt.filter(pl.col("_acc_n") > 0)
    aggs = [pl.col("_acc_n").sum().alias("samples"), (pl.col("_acc_sum").sum() / pl.col("_acc_n").sum()).alias("acceptance_rate")]
    table = (acc.group_by(keys).agg(aggs).sort(keys) if keys else acc.select(aggs))
    r.summary["acceptance"] = table
    if "chain_length" not in table.columns or table["chain_length"].n_unique() < 2:
        rates = ", ".join(f"{_cell(v)}" for v in table["acceptance_rate"].to_list())
        r.skip("IMH acceptance", f"one chain length in this sweep (000 Table 3 compares several); "
                                 f"mean acceptance rate {rates}")
        return
    r.md.append("## IMH acceptance rate\n\nPaper 000 Table 3: mean acceptance rate by chain length T.\n")
    r.md.append(_md_table(table))
    if "chain_length" in table.columns:
        r.figure(plots.acceptance_figure(table), "acceptance.png", "IMH acceptance rate vs chain length")


def _diversity_section(d: _Data, r: _Report, k_front: int | None, seed: int) -> None:
    if "completion" not in d.names:
        r.skip("Diversity", "no `completion` column")
        return
    sample = diversity_sample(d.lf, d.configs, seed=seed)
    sample = sample.join(d.best.select([*d.configs, "label"]), on=d.configs, nulls_equal=True)
    md = ["## Diversity\n\nProxy for paper 000 Fig. 3 (right): mean pairwise word-trigram Jaccard similarity of "
          "completions on a fixed subset of problems (diagonal: within a sampler — high means it keeps producing "
          f"the same text). Each sampler at its best configuration by {d.best_by}.\n"]
    if sample.height and sample["label"].n_unique() >= 1:
        matrix = similarity_from_sample(sample, ["label"])
        r.summary["similarity"] = matrix
        wide = matrix.pivot(on="b", index="a", values="similarity", aggregate_function="first")
        md.append(_md_table(wide))
        r.md.extend(md)
        r.figure(plots.similarity_figure(matrix), "similarity.png", "Completion similarity")
    else:
        r.skip("Completion similarity", "no completions to compare")
    if "_distinct_correct" in d.pt.columns:
        dist = distinct_from_counts(d.pt, [*d.configs, "label"]).sort("label")
        r.summary["distinct_correct"] = dist
        r.md.append("### Distinct correct answers\n\nMean number of different `extracted` answers among a configuration's "
                    "correct samples of a problem, and the share of problems with at least two.\n")
        r.md.append(_md_table(dist, ["label", "problems", "distinct_correct", "share_multi_correct"]))
    else:
        r.skip("Distinct correct answers", "no `extracted` column")


def _run(d: _Data, r: _Report, *, reference: Any, n_boot: int, seed: int) -> None:
    _guard(r, "Pass@k", lambda: _passk_section(d, r))
    k_front = _guard(r, "Pareto frontier", lambda: _frontier_section(d, r, n_boot, seed))
    _guard(r, "Difficulty strata", lambda: _strata_section(d, r, reference))
    _guard(r, "Bits vs rounds", lambda: _bits_section(d, r))
    _guard(r, "Cost", lambda: _cost_section(d, r))
    # a reference *sweep* (a path) rates strata only; significance compares against a sampler here
    sampler_ref = None if isinstance(reference, (str, os.PathLike)) and (
        "/" in str(reference) or os.path.isdir(reference)) else reference
    _guard(r, "Significance", lambda: _significance_section(d, r, k_front, sampler_ref, n_boot, seed))
    _guard(r, "IMH acceptance", lambda: _acceptance_section(d, r))
    _guard(r, "Diversity", lambda: _diversity_section(d, r, k_front, seed))


def _guard(r: _Report, name: str, fn: Callable[[], Any]) -> Any:
    # Data conditions (a column the sweep lacks, a k above n) skip one section, not the report.
    try:
        return fn()
    except SweepDataError as exc:
        r.skip(name, str(exc))
        return None


def write_report(sweep_dir: str | os.PathLike, out_dir: str | os.PathLike | None = None, *,
                 knobs: Mapping[str, str] | None = None, reference: str | Mapping[str, object] | None = None,
                 n_boot: int = 1000, seed: int = 0, dedupe: bool = True,
                 filesystem: pafs.FileSystem | None = None) -> Path:
    """Analyse a sweep directory and write ``report.md``, ``summary.json`` and PNGs.

    ``out_dir`` defaults to ``<sweep_dir>/report`` for local sweeps (``file://`` included); for a
    remote URI the report is written to ``./report-<name>`` and copied to ``<uri>/report``.
    ``reference`` picks the sampler that defines difficulty tiers and significance baselines
    (default ``confidence``).  ``dedupe`` drops rows repeating a ``job_id``.  Returns the local
    report directory.  Raises :class:`SweepDataError` when the sweep has no usable rows.
    """
    fs, root_path = resolve_path(sweep_dir, filesystem)
    _, shards = find_shards(root_path, fs)
    root = os.fspath(sweep_dir)
    local = isinstance(fs, pafs.LocalFileSystem)
    if out_dir is None:
        if local:
            base = Path(root_path)
            out_dir = (base if base.is_dir() else base.parent) / REPORT_DIRNAME
        else:
            out_dir = Path.cwd() / f"report-{PurePosixPath(root_path).name or 'sweep'}"
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    with warnings.catch_warnings():  # find_shards above already named any stray files once
        warnings.simplefilter("ignore", SweepDataWarning)
        lf = load_samples(root_path, filesystem=fs)
    names = lf.collect_schema().names()
    duplicates = 0
    if dedupe and "job_id" in names:
        # Hashing first makes the distinct count cheap; a collision would only cost a no-op dedupe.
        counts = lf.select(pl.len().alias("rows"), pl.col("job_id").hash().n_unique().alias("ids")).collect(engine="streaming")
        if counts["rows"][0] > counts["ids"][0]:
            before = counts["rows"][0]
            lf = lf.unique(subset="job_id", keep="first")
            duplicates = int(before - lf.select(pl.len()).collect(engine="streaming").item())
    data = _prepare(lf, knobs)
    report = _Report(out)
    sweeps = (sorted(lf.select(pl.col("sweep").unique()).collect(engine="streaming")["sweep"].drop_nulls().to_list())
              if "sweep" in names else [])
    title = ", ".join(sweeps[:3]) or Path(root.rstrip("/")).name
    head = _guard(report, "Summary", lambda: _headline(data, n_boot, seed))
    if head:
        report.summary["headline"] = head
        report.md.append("## Summary\n\nPer task: each sampler's best Pass@1 and Pass@k over its knob values, the "
                         "frontier's shape, and the differences between samplers' best configurations whose paired "
                         f"bootstrap 95% CI over problems ({n_boot} resamples) excludes 0.\n\n" + headline_text(head))
    _overview(data, report, len(shards), duplicates, root)
    _run(data, report, reference=reference, n_boot=n_boot, seed=seed)
    # -- published numbers beside the measured ones (analysis/paper_compare.py) --
    from . import paper_compare
    _guard(report, "Paper vs measured", lambda: paper_compare.report_hook(lf, report.md, report.summary))
    now = datetime.now(timezone.utc).replace(microsecond=0)
    head = [f"# Sweep report: {title}\n", f"Generated {now.isoformat()} from {len(shards)} shard(s) under `{root}` "
            "by `python -m analysis.report`. Machine-readable numbers: [summary.json](summary.json).\n"]
    tail = []
    if report.skipped:
        tail.append("## Skipped sections\n\n" + "\n".join(f"- **{k}**: {v}" for k, v in report.skipped.items()) + "\n")
    (out / "report.md").write_text("\n".join(head + report.md + tail), encoding="utf-8")
    summary = {"title": title, "generated_at": now.isoformat(), **report.summary,
               "skipped": report.skipped, "figures": report.figures}
    (out / "summary.json").write_text(json.dumps(_jsonable(summary), indent=1, ensure_ascii=False, allow_nan=False),
                                      encoding="utf-8")
    if not local:
        dest = f"{root_path.rstrip('/')}/{REPORT_DIRNAME}" if root_path else REPORT_DIRNAME
        fs.create_dir(dest, recursive=True)
        pafs.copy_files(str(out), dest, source_filesystem=pafs.LocalFileSystem(), destination_filesystem=fs)
    return out


def main(argv: Sequence[str] | None = None) -> int:
    """Command line: ``python -m analysis.report DIR [--out OUT] [--reference SAMPLER|DIR]``."""
    from workers.progname import prog  # stdlib only, like every import here

    parser = argparse.ArgumentParser(prog=prog("python -m analysis.report"), description=__doc__.splitlines()[0])
    parser.add_argument("sweep_dir", help="sweep directory or filesystem URI holding the Parquet shards")
    parser.add_argument("--out", help="output directory (default: SWEEP_DIR/report)")
    parser.add_argument("--reference", help="difficulty tiers from this sampler's even seeds (default: "
                        f"{DEFAULT_REFERENCE}), or from another sweep's shards when it is a directory / URI")
    parser.add_argument("--n-boot", type=int, default=1000, help="bootstrap resamples (default 1000)")
    parser.add_argument("--no-dedupe", action="store_true", help="keep rows that repeat a job_id")
    args = parser.parse_args(argv)
    try:
        if args.reference is not None:  # a typo must not fall back to the labels or the default
            check_reference(load_samples(args.sweep_dir), args.reference)
        out = write_report(args.sweep_dir, args.out, reference=args.reference, n_boot=args.n_boot,
                           dedupe=not args.no_dedupe)
    except SweepDataError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(f"report: {out / 'report.md'}")
    print(f"summary: {out / 'summary.json'}")
    print(f"figures: {out}/*.png")
    return 0


if __name__ == "__main__":
    sys.exit(main())
