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
from .compare import ALPHA, MIN_PROBLEMS, Comparison, SweepCounts, compare, data_seed, default_k
from .configs import config_columns, group_columns, problem_key, series_labels, with_knob
from .cost import cost_from_counts
from .diversity import diversity_sample, distinct_from_counts, similarity_from_sample
from .frontier import frontier_from_counts
from .load import SweepDataError, SweepDataWarning, find_shards, load_samples, resolve_path
from .passk import estimate_pass_at_k, k_grid
from .strata import check_reference, strata_split

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
    if isinstance(obj, np.bool_):
        return bool(obj)
    if isinstance(obj, datetime):
        return obj.isoformat()
    return obj


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
    best: pl.DataFrame = field(default_factory=pl.DataFrame)   # the comparison set: one config per sampler
    best_by: str = "pass@1"
    k: int = 1                                   # the one k of every section (default n/2)
    seed: int = 0                                # bootstrap seed: a hash of the counts
    cmps: list[tuple[dict, Comparison, SweepCounts]] = field(default_factory=list)  # per model × task
    incomplete: list[str] = field(default_factory=list)   # why the sweep looks unfinished


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
    return _Data(lf, names, configs, groups, problems, problem_key(names), pt, cfg, knobs, multi)


def _compare_all(d: _Data, *, k: int | None, reference: Any, rater: str | None, compare_at: Mapping[str, Any] | None,
                 n_boot: int, spec: Mapping[str, Any] | None) -> None:
    """Build each model × task's seed-half counts and run :func:`analysis.compare.compare` on them:
    the one comparison set, k and family of tests every section uses (issue 25)."""
    keys = list(dict.fromkeys([*d.configs, *d.problems]))
    half = (pl.col("seed") % 2).cast(pl.Int8) if "seed" in d.names else pl.lit(0, dtype=pl.Int8)
    hc = (d.lf.with_columns(_half=half).group_by([*keys, "_half"])
          .agg(pl.len().cast(pl.Int64).alias("n"), pl.col("correct").fill_null(False).sum().cast(pl.Int64).alias("c"))
          .collect(engine="streaming").join(d.cfg.select([*d.configs, "label"]), on=d.configs, nulls_equal=True)
          .sort([*keys, "_half"], nulls_last=True))
    d.seed = data_seed(hc["n"].to_numpy(), hc["c"].to_numpy(), np.frombuffer("|".join(map(str, hc["label"].to_list())).encode(), np.uint8))
    n_all = int(d.cfg["n_min"].max())
    d.k = int(k) if k else default_k(n_all)
    ext_tiers = None
    if _labels_or_external(d, reference):
        split = strata_split(d.lf, reference if _is_path(reference) else None)
        ext_tiers = (split.tiers, split.source)
    want = spec.get("samples") if spec else None
    chosen = []
    for key, cfg in (d.cfg.group_by(d.groups, maintain_order=True) if d.groups else [((), d.cfg)]):
        cfg = cfg.sort("label")
        gkey = dict(zip(d.groups, key))
        sub = hc.join(cfg.select(d.configs), on=d.configs, nulls_equal=True)
        # a mid-sweep report compares configurations on the problems every one of them ran
        per_cfg = sub.group_by("label").agg(pl.struct(d.problems).n_unique().alias("p"))
        common = (sub.select([*d.problems, "label"]).unique().group_by(d.problems).len()
                  .filter(pl.col("len") == cfg.height).select(d.problems))
        name = " · ".join(str(v) for v in key) or "the sweep"
        if common.height < int(per_cfg["p"].max()):
            d.incomplete.append(f"{name}: configurations ran {int(per_cfg['p'].min())}–{int(per_cfg['p'].max())} "
                                f"problems; comparisons use the {common.height} all of them ran")
        # short of samples: fewer than the spec's (a greedy configuration's one sample is by design)
        # or fewer on some problem than the configuration has elsewhere
        nmax = sub.group_by([*d.configs, *d.problems]).agg(pl.col("n").sum()).group_by(d.configs).agg(
            lo=pl.col("n").min(), hi=pl.col("n").max())
        short = nmax.filter((pl.col("lo") < pl.col("hi")) | ((pl.col("hi") > 1) & (pl.col("hi") < int(want or 0))))
        if short.height:
            d.incomplete.append(f"{name}: {short.height} configuration(s) have fewer samples on some problem than "
                                f"{'the spec' + chr(39) + 's ' + str(want) if want else 'elsewhere'}")
        sub = sub.join(common, on=d.problems, nulls_equal=True)
        if sub.height == 0:
            continue
        labels = cfg["label"].to_list()
        prob = sub.select(d.problems).unique(maintain_order=True).sort(d.problems, nulls_last=True).with_row_index("_pi")
        idx = sub.join(prob, on=d.problems, nulls_equal=True).with_columns(
            _ci=pl.col("label").replace_strict({lab: i for i, lab in enumerate(labels)}, return_dtype=pl.Int64))
        n = np.zeros((len(labels), prob.height, 2), np.int64)
        c = np.zeros_like(n)
        ci, pi, hi = idx["_ci"].to_numpy(), idx["_pi"].to_numpy(), idx["_half"].to_numpy().astype(np.int64)
        n[ci, pi, hi], c[ci, pi, hi] = idx["n"].to_numpy(), idx["c"].to_numpy()
        candidate = _candidates(cfg, compare_at)
        tiers = source = None
        if ext_tiers is not None:
            on = [c_ for c_ in d.problems if c_ in ext_tiers[0].columns]
            extra = {g: v for g, v in gkey.items() if g in ext_tiers[0].columns and g not in on}
            t = ext_tiers[0]
            for g, v in extra.items():
                t = t.filter(pl.col(g) == v)
            tiers = (prob.join(t.select([*on, "tier"]).unique(on, keep="first"), on=on, how="left", nulls_equal=True)
                     .sort("_pi")["tier"].fill_null("unrated").to_numpy().astype(object))
            source = ext_tiers[1]
        sc = SweepCounts(labels, cfg["sampler"].to_list(), n, c, candidate, tiers, source or "")
        cmp = compare(sc, d.k, n_boot=n_boot, seed=d.seed, rater=rater)
        d.cmps.append((gkey, cmp, sc))
        chosen += [labels[i] for i in cmp.chosen.values()]
    d.best = d.cfg.filter(pl.col("label").is_in(chosen)).sort([*d.groups, "sampler"], nulls_last=True)
    d.best_by = ("Pass@1 on the even seeds (then scored on the odd seeds) where a sampler has several "
                 "configurations; its only configuration otherwise")


def _is_path(reference: Any) -> bool:
    return isinstance(reference, (os.PathLike, pl.DataFrame, pl.LazyFrame)) or (
        isinstance(reference, str) and ("/" in reference or os.path.isdir(reference)))


def _labels_or_external(d: _Data, reference: Any) -> bool:
    if _is_path(reference):
        return True
    return "difficulty" in d.names and bool(d.lf.select(pl.col("difficulty").is_not_null().any()).collect().item())


def _candidates(cfg: pl.DataFrame, compare_at: Mapping[str, Any] | None) -> np.ndarray | None:
    """Configurations allowed by the declared protocol (``compare_at``: {column: value}); a
    configuration without that column (IMH has no temperature) stays a candidate."""
    if not compare_at:
        return None

    def same(x: Any, val: Any) -> bool:
        if isinstance(x, (int, float)) and not isinstance(x, bool) and isinstance(val, (int, float)):
            return math.isclose(float(x), float(val))
        return x == val

    ok = np.ones(cfg.height, bool)
    for i, row in enumerate(cfg.iter_rows(named=True)):
        try:
            params = json.loads(row.get("params") or "{}")
        except (TypeError, ValueError):
            params = {}
        for col, val in compare_at.items():
            x = params.get(col) if isinstance(params, dict) and col in params else row.get(col)
            if x is not None and not same(x, val):
                ok[i] = False
    return ok


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
    if top < 2 or d.k < 2:
        r.skip("Pareto frontier", "needs at least 2 samples per problem (and k ≥ 2)")
        return None
    k = d.k
    keep = d.cfg.filter(pl.col("n_min") >= k)
    dropped = d.cfg.filter(pl.col("n_min") < k)["label"].to_list()
    counts = d.pt.join(keep.select(d.configs), on=d.configs, nulls_equal=True)
    table = frontier_from_counts(counts, k, d.groups, d.configs, d.problems, d.knobs, n_boot=n_boot, seed=seed)
    table = table.join(d.cfg.select([*d.configs, "label"]), on=d.configs, nulls_equal=True)
    r.summary["frontier"] = {"k": k, "points": table, "excluded": dropped}
    r.md.append(f"## Pareto frontier: Pass@1 vs Pass@{k}\n\nPaper 000 Fig. 3 (left): each configuration is a point; "
                "a line joins a sampler's knob values. ✓ = not dominated within its sampler / over all samplers. "
                f"Brackets: 95% bootstrap CIs over problems ({n_boot} resamples, paired across configurations; "
                "marginal, one per point). The frontier is descriptive: it declares no winner and carries no tests "
                "(the Summary and Significance sections hold the only family of tests between samplers).\n")
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


def _strata_section(d: _Data, r: _Report, rater: str | None, alpha: float = ALPHA) -> None:
    """Per tier, each sampler of the comparison set: Pass@k with a 95% CI over the tier's problems,
    and every pair's difference, Holm-corrected over pairs × tiers (analysis.compare)."""
    rows, tests, sources = [], [], set()
    for gkey, cmp, _ in d.cmps:
        if cmp.problem_tiers is None:
            continue
        sources.add(cmp.tier_source)
        rows += [{**gkey, **x} for x in cmp.strata]
        tests += [{**gkey, **x, "family": cmp.strata_family} for x in cmp.strata_tests]
    tiers = sorted({x["tier"] for x in rows})
    if not rows:
        r.skip("Difficulty strata", "no tiers (no comparison set)")
        return
    if len(tiers) < 2:
        r.skip("Difficulty strata", f"one tier only ({', '.join(map(str, tiers))}): nothing to stratify")
        return
    k = rows[0]["k"]
    table = pl.DataFrame(rows, infer_schema_length=None)
    r.summary["strata"] = {"k": k, "tier_source": "; ".join(sorted(sources)), "table": table,
                           "tests": pl.DataFrame(tests, infer_schema_length=None) if tests else [],
                           "tiers": table.group_by([*d.multi, "tier"]).agg(pl.col("problems").max()).sort([*d.multi, "tier"])}
    fam = max((t["family"] for t in tests), default=0)
    r.md.append(f"## Difficulty-stratified Pass@{k}\n\nPaper 000 Fig. 3 (middle). Tiers from "
                f"{'; '.join(sorted(sources))}. Each sampler at its comparison-set configuration ({d.best_by}). "
                f"Brackets: 95% bootstrap CIs over the tier's problems. Pairwise differences per tier are one family "
                f"of {fam} tests per task, Holm-corrected (smallest threshold {alpha}/{fam} = "
                f"{alpha / max(fam, 1):.2g}).\n")
    if rater is not None:
        from .null_sim import Design, rater_bias
        g0, c0, sc0 = d.cmps[0]
        design = Design(samplers=len(c0.chosen), configs=1, problems=sc0.n.shape[1],
                        samples=int(sc0.n.sum(axis=2).max()), config_shifts=(0.0,))
        bias = rater_bias(design, sweeps=60, seed=d.seed % (2 ** 32))
        txt = ", ".join(f"{t} {v:+.3f}" for t, v in bias.items() if v is not None)
        r.md.append(f"> **Tiers rated by `{rater}` alone (on request).** The rating sampler is disadvantaged on the "
                    f"hard tiers and favoured on the easy ones (regression to the mean). A null simulation of this "
                    f"sweep's size (exchangeable samplers, `analysis.null_sim.rater_bias`) gives its Pass@{k} minus the "
                    f"others' per tier: {txt} — differences of that size here are the rating, not the sampler.\n")
        r.summary["strata"]["rater_bias"] = bias
    show = table.with_columns(pl.format("{} [{}, {}]", pl.col(f"pass@{k}").round(3), pl.col(f"pass@{k}_lo").round(3),
                                        pl.col(f"pass@{k}_hi").round(3)).alias("cell")) if f"pass@{k}_lo" in table.columns \
        else table.with_columns(pl.col(f"pass@{k}").round(3).cast(pl.String).alias("cell"))
    wide = show.pivot(on="sampler", index=[*d.multi, "tier"], values="cell", aggregate_function="first")
    counts = table.group_by([*d.multi, "tier"]).agg(pl.col("problems").max())
    wide = wide.join(counts, on=[*d.multi, "tier"], nulls_equal=True)
    from .strata import tier_sort_key
    wide = wide.sort(pl.col("tier").map_elements(lambda t: tier_sort_key(t)[0], return_dtype=pl.Int64))
    r.md.append(_md_table(wide, [*d.multi, "tier", "problems", *sorted(table["sampler"].unique().to_list())]))
    sig = [t for t in tests if t["significant"]]
    r.md.append(f"Differences significant after Holm: {len(sig)} of {len(tests)}"
                + ("." if not sig else ": " + "; ".join(
                    f"{t['tier']}: {t['a']} − {t['b']} = {t['diff']:+.3f} [{t['lo_corrected']:+.3f}, {t['hi_corrected']:+.3f}]"
                    for t in sig) + ".") + "\n")
    r.figure(plots.strata_figure(table, k, label="sampler", groups=d.multi), "strata.png", f"Pass@{k} by difficulty tier")


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
    cols = [c for c in (*d.configs, "bits", "bits_l2r", "nfe", "exploit_bits", "exploit_rounds") if c in d.names]
    points = (d.lf.select(cols).gather_every(every).collect(engine="streaming")
              .join(d.cfg.select([*d.configs, "label"]), on=d.configs, nulls_equal=True))
    fits_plot = fits.with_columns(pl.col("factor") if "factor" in fits.columns else pl.lit(None, dtype=pl.Float64).alias("factor"))
    l2r = "l2r_slope" in fits.columns and fits["l2r_samples"].fill_null(0).sum() > 0
    r.summary["bits_vs_rounds"] = fits
    r.md.append(
        "## Bits vs rounds\n\nPaper 002 §5.1 Fig. 4a: per configuration, OLS of rounds (`nfe`) on "
        + ("`bits_l2r`, each sequence's true joint −log₂ p by left-to-right rescoring (002 §5.1's regressor; "
           "columns `l2r_*`), with the fit on trajectory bits (−log₂ p of each token when it was committed; "
           "columns without prefix) labelled beside it. " if l2r else
           "trajectory bits (−log₂ p of each token when it was committed). This sweep has no `bits_l2r` "
           "(002 §5.1's true joint, by left-to-right rescoring), so the fit is on trajectory bits, not 002's "
           "regressor. ")
        + "The fits are the empirical check of 002 §5.1 and carry no bound.\n\n"
        "**Which statement of 002 Thm 3.2 is checked:** its per-round form — a factor-rule round that commits "
        "tokens under the marginals it decided on gains at most B(f) = sup_k −k·ln(1 − f/(k+1)) nats — summed over "
        "a sample's exploitation rounds: exploit_rounds ≥ exploit_bits·ln2/B(f) (`bound slope` = ln2/B(f) rounds "
        "per bit). The total-information form (rounds ≥ total bits·ln2/B(f)) is not checked: it concerns the exact "
        "joint's information, and a sampler's exploration rounds are not bounded by B(f), so the bound is drawn "
        "only in the exploitation panel.\n")
    cols_md = ["label", "samples", *(["mean_bits_l2r", "l2r_slope", "l2r_intercept", "l2r_r2"] if l2r else []),
               "mean_bits", "mean_nfe", "slope", "intercept", "r2", "bits_per_round",
               "budget_nats", "bound_slope", "bound_checked", "bound_violations"]
    heads = {"budget_nats": "B(f) nats", "bound_slope": "bound slope", "bound_checked": "checked",
             "bound_violations": "violations"}
    if l2r:
        heads.update(mean_bits="mean traj. bits", slope="traj. slope", intercept="traj. intercept", r2="traj. r2")
    r.md.append(_md_table(fits, cols_md, heads))
    if "bound_violations" in fits.columns:
        v = int(fits["bound_violations"].fill_null(0).sum())
        checked = int(fits["bound_checked"].fill_null(0).sum())
        r.summary["bound"] = {"checked": checked, "violations": v}
        r.md.append(f"**Bound check:** {v} of {checked} samples violate exploit_rounds ≥ exploit_bits·ln2/B(f)"
                    + (" (expected 0)." if v == 0 else " — should be 0: check the sampler's round accounting.") + "\n")
    else:
        r.skip("Bits-to-rounds bound check", "needs `factor`, `exploit_bits` and `exploit_rounds` columns with values")
    r.figure(plots.bits_rounds_figure(points, fits_plot, label="label", x="bits_l2r" if l2r else "bits"),
             "bits_rounds.png", "Rounds vs bits" + (" (left-to-right joint)" if l2r else " (trajectory bits)"))
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
    flat = [c for c in ("mean_nfe", "mean_forward_rows", "wall_s_per_problem")
            if c in table.columns and table[c].drop_nulls().n_unique() <= 1]
    if flat:
        r.md.append("Not plotted (the same for every configuration): " + ", ".join(f"`{c}`" for c in flat) + ".\n")
    if len(flat) < sum(c in table.columns for c in ("mean_nfe", "mean_forward_rows", "wall_s_per_problem")):
        r.figure(plots.cost_figure(table, 1, label="series"), "cost.png", "Pass@1 vs cost")
    else:
        r.skip("Cost plot", "every cost is the same for every configuration")


SATURATED = 0.97  # a frontier whose every Pass@k is at least this says nothing about exploration
EMPTY = 0.05      # ... and one whose best Pass@1 is at most this says nothing about quality
PARALLEL_SAMPLERS = ("threshold", "factor", "eb", "med", "ete", "wedlm")  # commit several tokens per round


def _headline(d: _Data, n_boot: int) -> list[dict[str, Any]]:
    """Per model × task: the comparison set's Pass@1 and Pass@k (k = n/2 by default), the frontier's
    shape over every configuration, and the pairs of samplers that differ after Holm's correction
    over the whole family (all pairs × {Pass@1, Pass@k}; analysis.compare)."""
    out = []
    for gkey, cmp, sc in d.cmps:
        k = cmp.k
        cfg = d.cfg
        for g, v in gkey.items():
            cfg = cfg.filter(pl.col(g) == v)
        sub = _Data(d.lf, d.names, d.configs, d.groups, d.problems, d.problem_ids,
                    d.pt.join(cfg.select(d.configs), on=d.configs, nulls_equal=True), cfg, d.knobs, d.multi)
        curves = _pass_curves(sub, sorted({1, k})).filter(pl.col("n_min") >= 1)
        per_sampler = []
        for row in cmp.scores:
            per_sampler.append({"sampler": row["sampler"], "config": row["label"], "pass@1": row["pass@1"],
                                f"pass@{k}": row.get(f"pass@{k}"), "problems": row["problems"],
                                "samples": row["samples"], "selected_on_other_half": row["selected_on_other_half"],
                                "peeked": row["peeked"]})
        per_sampler.sort(key=lambda r: (-(r["pass@1"] or 0), r["sampler"]))
        diffs = []
        for t in cmp.tests:
            if not t["significant"]:
                continue
            sign = 1 if t["diff"] > 0 else -1
            better, worse = (t["a"], t["b"]) if sign > 0 else (t["b"], t["a"])
            lo, hi = sorted((sign * t["lo_corrected"], sign * t["hi_corrected"]))
            diffs.append({"k": t["k"], "better": better, "worse": worse, "diff": sign * t["diff"], "lo": lo, "hi": hi,
                          "p_holm": t["p_holm"], "problems": t["problems"]})
        best1 = max(per_sampler, key=lambda r: r["pass@1"] or 0)
        bestk = max(per_sampler, key=lambda r: r[f"pass@{k}"] or 0)
        col = f"pass@{k}"
        have = curves.filter(pl.col(col).is_not_null()) if col in curves.columns else curves.clear()
        max_k = float(have[col].max() or 0.0) if have.height else 0.0
        min_k = float(have[col].min() or 0.0) if have.height else 0.0
        top1 = curves.sort(["pass@1", "label"], descending=[True, False], nulls_last=True).row(0, named=True)
        topk = have.sort([col, "label"], descending=[True, False]).row(0, named=True) if have.height else top1
        if have.height and min_k >= SATURATED:
            shape = f"saturated: every configuration reaches Pass@{k} ≥ {SATURATED}"
        elif (top1["pass@1"] or 0) <= EMPTY:
            shape = f"empty: no configuration passes {EMPTY} at Pass@1"
        elif top1["label"] == topk["label"]:
            shape = f"one configuration leads both: {top1['label']}"
        else:
            shape = f"a trade-off: Pass@1 peaks at {top1['label']}, Pass@{k} at {topk['label']}"
        out.append({
            **gkey, "problems": sc.n.shape[1], "samples": int(sc.n.sum(axis=2).max()), "k": k,
            "configurations": cfg.height, "shape": shape,
            "saturated": max_k >= SATURATED, "empty": (best1["pass@1"] or 0) <= EMPTY,
            "best_pass@1": best1["sampler"], "best_pass@k": bestk["sampler"],
            "selection": {s_: ("even seeds (scored on odd)" if v else "only configuration (all seeds)")
                          for s_, v in cmp.selected.items()},
            "samplers": per_sampler, "significant": diffs,
            "family": cmp.family, "alpha": ALPHA, "holm_threshold": cmp.threshold,
        })
    return out


def headline_text(head: Sequence[Mapping[str, Any]]) -> str:
    """The headline as markdown: one short block per model × task (also what pareto.py prints)."""
    lines = []
    for h in head:
        name = " · ".join(str(h[g]) for g in ("model", "task") if g in h)
        k = h["k"]
        lines.append(f"**{name}** — {h['problems']} problems × {h['samples']} samples (n = {h['samples']}, "
                     f"k = {k}), {h['configurations']} configurations. Frontier: {h['shape']}. "
                     f"Best Pass@1: `{h['best_pass@1']}`; best Pass@{k}: `{h['best_pass@k']}`.\n")
        lines.append(f"| sampler | configuration | chosen on | Pass@1 | Pass@{k} |\n|---|---|---|---:|---:|")
        for r in h["samplers"]:
            lines.append(f"| {r['sampler']} | {r['config']} | "
                         f"{'even seeds, scored on odd' if r['selected_on_other_half'] else 'its only samples (one per problem: not held out)' if r['peeked'] else 'only one (all seeds)'} "
                         f"| {_cell(r['pass@1'])} | {_cell(r.get(f'pass@{k}'))} |")
        sig, m = h["significant"], h["family"]
        fam = (f"{m} paired tests over problems (every pair × Pass@1, Pass@{k}; paired-bootstrap CIs), Holm-corrected at "
               f"α = {h['alpha']} (smallest threshold {h['alpha']}/{m} = {h['holm_threshold']:.2g})")
        if sig:
            lines.append(f"\n{len(sig)} difference(s) significant in a family of {fam}; brackets: "
                         "Bonferroni-corrected simultaneous CIs:")
            for s_ in sig:
                lines.append(f"- Pass@{s_['k']}: {s_['better']} > {s_['worse']} by {s_['diff']:+.3f} "
                             f"[{s_['lo']:+.3f}, {s_['hi']:+.3f}], Holm p = {s_['p_holm']:.2g} ({s_['problems']} problems)")
        else:
            lines.append(f"\nNo two samplers differ in a family of {fam}.")
        if h["saturated"]:
            lines.append(f"\n> Saturated: some configuration reaches Pass@{k} ≥ {SATURATED}; use harder problems.")
        if h["empty"]:
            lines.append(f"\n> Near empty: best Pass@1 ≤ {EMPTY}; use easier problems.")
        lines.append("")
    return "\n".join(lines)


def _significance_section(d: _Data, r: _Report, n_boot: int) -> None:
    rows = []
    for gkey, cmp, _ in d.cmps:
        rows += [{**gkey, **t, "family": cmp.family} for t in cmp.tests]
    if not rows:
        r.skip("Significance", "only one sampler in the sweep" if d.cfg["sampler"].n_unique() < 2
               else f"no two samplers share {MIN_PROBLEMS} problems (fewer are too few to test)")
        return
    table = pl.DataFrame(rows, infer_schema_length=None)
    r.summary["significance"] = {"table": table, "alpha": ALPHA, "n_boot": n_boot, "seed": d.seed}
    fam = max(x["family"] for x in rows)
    r.md.append(f"## Significance\n\nThe headline's family, in full: every pair of samplers (a, b) in the comparison set, "
                f"Pass@1 and Pass@{d.k}; diff = Pass@k(a) − Pass@k(b) over the problems both ran. Paired bootstrap over "
                f"problems ({n_boot} resamples, seed {d.seed} = a hash of the counts): `lo`/`hi` the 95% percentile CI, "
                f"`p` from the paired t-test over the same problems, `p_holm` Holm-adjusted over the family of {fam} "
                f"tests per task (significant when < {ALPHA}; smallest threshold {ALPHA / fam:.2g}), "
                f"`lo_corr`/`hi_corr` Bonferroni-corrected (level 1 − {ALPHA}/{fam}) simultaneous CIs.\n")
    r.md.append(_md_table(table, [*d.multi, "a", "b", "k", "problems", "pass_a", "pass_b", "diff", "lo", "hi",
                                  "lo_corrected", "hi_corrected", "p_value", "p_holm", "significant"],
                          {"lo_corrected": "lo_corr", "hi_corrected": "hi_corr", "p_value": "p"}))


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
          "completions on a fixed subset of problems. Diagonal: two samples of one sampler (high = it repeats itself); "
          "off-diagonal: one sample of each of two samplers (high = they write alike). Each sampler at its "
          f"comparison-set configuration ({d.best_by}).\n"]
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


def _run(d: _Data, r: _Report, *, rater: str | None, n_boot: int, seed: int) -> None:
    _guard(r, "Pass@k", lambda: _passk_section(d, r))
    _guard(r, "Pareto frontier", lambda: _frontier_section(d, r, n_boot, seed))
    _guard(r, "Difficulty strata", lambda: _strata_section(d, r, rater))
    _guard(r, "Bits vs rounds", lambda: _bits_section(d, r))
    _guard(r, "Cost", lambda: _cost_section(d, r))
    _guard(r, "Significance", lambda: _significance_section(d, r, n_boot))
    _guard(r, "IMH acceptance", lambda: _acceptance_section(d, r))
    _guard(r, "Diversity", lambda: _diversity_section(d, r, None, seed))


def _guard(r: _Report, name: str, fn: Callable[[], Any]) -> Any:
    # Data conditions (a column the sweep lacks, a k above n) skip one section, not the report.
    try:
        return fn()
    except SweepDataError as exc:
        r.skip(name, str(exc))
        return None


def write_report(sweep_dir: str | os.PathLike, out_dir: str | os.PathLike | None = None, *,
                 knobs: Mapping[str, str] | None = None, reference: str | os.PathLike | None = None,
                 rater: str | None = None, k: int | None = None, compare_at: Mapping[str, Any] | None = None,
                 n_boot: int = 1000, dedupe: bool = True,
                 filesystem: pafs.FileSystem | None = None, settings: str | None = None) -> Path:
    """Analyse a sweep directory and write ``report.md``, ``summary.json`` and PNGs.

    Rows of one model and task made under different settings are never pooled (a one-line
    ``SweepDataError``); ``settings="current"`` reports only the rows of the spec last run on the
    sweep (``load_samples``).

    ``out_dir`` defaults to ``<sweep_dir>/report`` for local sweeps (``file://`` included); for a
    remote URI the report is written to ``./report-<name>`` and copied to ``<uri>/report``.
    ``reference``: another sweep's shards (a path / URI) that rate the difficulty tiers; default:
    task labels, else the pooled even seeds of the comparison set (analysis.compare).  ``rater``:
    rate tiers with this sampler alone (on request; the section then states its disadvantage).
    ``k``: the report's one Pass@k (default n/2).  ``compare_at``: the declared protocol
    ({column: value}, default: the ``compare_at`` of ``<sweep_dir>/spec.yaml`` if it has one).
    ``dedupe`` drops rows repeating a ``job_id``.  Bootstrap resamples are seeded from a hash of
    the data, so regenerating the report gives identical numbers.  Returns the local report
    directory.  Raises :class:`SweepDataError` when the sweep has no usable rows.
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
        lf = load_samples(root_path, filesystem=fs, settings=settings)
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
    spec = _read_spec(fs, root_path)
    if compare_at is None and spec and isinstance(spec.get("compare_at"), Mapping):
        compare_at = dict(spec["compare_at"])
    _compare_all(data, k=k, reference=reference, rater=rater, compare_at=compare_at, n_boot=n_boot, spec=spec)
    seed = data.seed
    report = _Report(out)
    report.summary["comparison"] = {"k": data.k, "bootstrap_seed": seed, "n_boot": n_boot, "alpha": ALPHA,
                                    "compare_at": compare_at, "chosen_by": data.best_by,
                                    "set": data.best.select([*data.groups, "sampler", "label"]),
                                    "incomplete": data.incomplete}
    sweeps = (sorted(lf.select(pl.col("sweep").unique()).collect(engine="streaming")["sweep"].drop_nulls().to_list())
              if "sweep" in names else [])
    title = ", ".join(sweeps[:3]) or Path(root.rstrip("/")).name
    head = _guard(report, "Summary", lambda: _headline(data, n_boot))
    if head:
        report.summary["headline"] = head
        proto = (f"the declared protocol `{compare_at}` " if compare_at else "")
        report.md.append(
            f"## Summary\n\nOne comparison set for every section: each sampler at one configuration, {proto}"
            f"chosen by {data.best_by} (so the choice never sees the samples it is scored on). "
            f"Pass@k at k = {data.k} (n/2 by default, 000 App. E). Bootstrap: {n_boot} resamples over problems, "
            f"seed {seed} (a hash of the counts: regenerating gives the same numbers).\n\n" + headline_text(head))
    _overview(data, report, len(shards), duplicates, root)
    _run(data, report, rater=rater, n_boot=n_boot, seed=seed)
    # -- published numbers beside the measured ones (analysis/paper_compare.py) --
    from . import paper_compare
    _guard(report, "Paper vs measured", lambda: paper_compare.report_hook(lf, report.md, report.summary))
    now = datetime.now(timezone.utc).replace(microsecond=0)
    head = [f"# Sweep report: {title}\n", f"Generated {now.isoformat()} from {len(shards)} shard(s) under `{root}` "
            "by `python -m analysis.report`. Machine-readable numbers: [summary.json](summary.json).\n"]
    if data.incomplete:
        head.append("> **Incomplete sweep (mid-sweep report).** " + "; ".join(data.incomplete)
                    + ". Numbers will change when the sweep finishes.\n")
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


def _read_spec(fs: pafs.FileSystem, root: str) -> dict[str, Any] | None:
    """The sweep's ``spec.yaml`` (the driver writes it beside the shards), if there is one."""
    import yaml

    path = f"{root.rstrip('/')}/spec.yaml" if root else "spec.yaml"
    try:
        with fs.open_input_stream(path) as f:
            spec = yaml.safe_load(f.read().decode("utf-8"))
    except (OSError, FileNotFoundError, yaml.YAMLError, UnicodeDecodeError):
        return None
    return spec if isinstance(spec, dict) else None


def _compare_at_arg(text: str) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for part in filter(None, (x.strip() for x in text.split(","))):
        key, _, val = part.partition("=")
        try:
            out[key.strip()] = float(val)
        except ValueError:
            out[key.strip()] = val.strip()
    return out


def main(argv: Sequence[str] | None = None) -> int:
    """Command line: ``python -m analysis.report DIR [--out OUT] [--reference DIR] [--rater SAMPLER] [--k K]``."""
    from workers.progname import prog  # stdlib only, like every import here

    parser = argparse.ArgumentParser(prog=prog("python -m analysis.report"), description=__doc__.splitlines()[0])
    parser.add_argument("sweep_dir", help="sweep directory or filesystem URI holding the Parquet shards")
    parser.add_argument("--out", help="output directory (default: SWEEP_DIR/report)")
    parser.add_argument("--reference", help="difficulty tiers from another sweep's shards (a directory / URI); "
                        "default: task labels, else the pooled even seeds of every compared configuration")
    parser.add_argument("--rater", help="rate tiers with this sampler alone (biased against it; the report says by how much)")
    parser.add_argument("--k", type=int, help="the report's Pass@k (default: n/2, 000 App. E)")
    parser.add_argument("--compare-at", type=_compare_at_arg, metavar="COL=VAL[,...]",
                        help="compare samplers at this shared setting, e.g. temperature=0.5 (000 Table 2); "
                             "default: spec.yaml's compare_at")
    parser.add_argument("--n-boot", type=int, default=1000, help="bootstrap resamples (default 1000)")
    parser.add_argument("--no-dedupe", action="store_true", help="keep rows that repeat a job_id")
    parser.add_argument("--settings", default=None, metavar="current|HASH",
                        help="only rows made under these settings (current: the spec last run; "
                             "needed when an --extend changed a configuration's settings)")
    args = parser.parse_args(argv)
    try:
        for ref in (args.reference, args.rater):  # a typo must not fall back to the labels or the default
            if ref is not None:
                check_reference(load_samples(args.sweep_dir), ref)
        out = write_report(args.sweep_dir, args.out, reference=args.reference, rater=args.rater, k=args.k,
                           compare_at=args.compare_at, n_boot=args.n_boot, dedupe=not args.no_dedupe,
                           settings=args.settings)
    except (SweepDataError, ValueError) as exc:
        print(f"error: {str(exc).splitlines()[0]}", file=sys.stderr)
        return 2
    print(f"report: {out / 'report.md'}")
    print(f"summary: {out / 'summary.json'}")
    print(f"figures: {out}/*.png")
    return 0


if __name__ == "__main__":
    sys.exit(main())
