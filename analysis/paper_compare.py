"""Paper vs measured: the published numbers of 000/002/004 beside a sweep's values.

``analysis/data/published.csv`` holds the tables' cells as printed (one row per cell: paper, table,
model, benchmark, task, method, config, metric, value, unit, grade, what the paper says about its
samples/CI, note).  ``grade``: empty = the row's ``correct``; ``base`` = base tests only of a code
task (``Grade.extracted`` holds ``base:pass``; ``correct`` means base and plus tests, HumanEval+).
``config`` is a JSON filter on the sweep's rows: ``sampler`` plus any knob or length columns (``temperature``, ``alpha``, ``chain_length``, ``lam``, ``gen_length``,
``block_length``…) and other sampler parameters, matched inside the ``params`` JSON (``k_max``).
``template: true`` marks cells made with 004's reasoning-as-infilling template, which a sweep
spec does not produce (``sweeps/early_exit.py`` does).

``compare(samples)`` measures, for every published cell whose task, model and config the sweep
ran, the same metric with a 95% percentile bootstrap CI over problems (docs/design.md §6) and says whether
the published value lies inside it.  Torch-free (Polars + NumPy only).
"""
from __future__ import annotations

import csv
import json
import math
import re
from pathlib import Path
from typing import Any, Callable, Mapping, Optional

import numpy as np
import polars as pl

from .load import as_lazy, require_columns
from .passk import estimate_pass_at_k
from .stats import bootstrap_means, percentile_ci

__all__ = ["PUBLISHED_CSV", "COLUMNS", "MODEL_ALIASES", "load_published", "compare", "markdown", "report_hook"]

PUBLISHED_CSV = Path(__file__).parent / "data" / "published.csv"
COLUMNS = ("paper", "table", "model", "benchmark", "task", "method", "config", "metric", "value", "unit",
           "grade", "samples_ci", "note")
PAPERS = ("000", "002", "004")
UNITS = {"fraction": 1.0, "percent": 100.0, "count": 1.0}
_METRIC = re.compile(r"^(pass@[1-9][0-9]*|accuracy|nfe|acceptance_rate)$")
# Row columns a config key is matched against directly; any other key is looked up in ``params``.
COLUMN_KEYS = ("sampler", "alpha", "temperature", "threshold", "factor", "lam", "gamma", "chain_length",
               "gen_length", "block_length")
# The names a sweep may give a published model (preset, hub id).
MODEL_ALIASES: dict[str, tuple[str, ...]] = {
    "LLaDA-8B-Instruct": ("llada-8b-instruct", "GSAI-ML/LLaDA-8B-Instruct"),
    "Dream-7B-Instruct": ("dream-7b-instruct", "Dream-org/Dream-v0-Instruct-7B"),
    "WeDLM-8B": ("wedlm-8b", "wedlm-8b-instruct", "tencent/WeDLM-8B-Base", "tencent/WeDLM-8B-Instruct"),
}

OUT_SCHEMA = {"table": pl.String, "model": pl.String, "measured_model": pl.String, "benchmark": pl.String,
              "method": pl.String, "metric": pl.String, "unit": pl.String, "published": pl.Float64,
              "measured": pl.Float64, "lo": pl.Float64, "hi": pl.Float64, "inside": pl.Boolean,
              "problems": pl.Int64, "samples": pl.Int64, "samples_ci": pl.String, "note": pl.String}


def load_published(path: str | Path | None = None) -> pl.DataFrame:
    """Read and check the published-numbers file; one-line ``ValueError`` on any bad row.

    Every column is a string as printed; ``value_f`` adds the value as a float."""
    p = Path(path) if path is not None else PUBLISHED_CSV
    if not p.is_file():
        raise ValueError(f"published numbers file {str(p)!r} does not exist")
    with p.open(newline="", encoding="utf-8") as f:
        reader = csv.DictReader(f)
        if tuple(reader.fieldnames or ()) != COLUMNS:
            raise ValueError(f"{p}: columns must be {', '.join(COLUMNS)}; got {', '.join(reader.fieldnames or [])}")
        rows = list(reader)
    if not rows:
        raise ValueError(f"{p}: no rows")
    seen: set[tuple] = set()
    for i, r in enumerate(rows, 2):
        where = f"{p}:{i}"
        if r["paper"] not in PAPERS or not r["table"].startswith(r["paper"] + "-"):
            raise ValueError(f"{where}: paper must be one of {PAPERS} and prefix the table id, got {r['paper']!r}/{r['table']!r}")
        for c in ("model", "benchmark", "task", "method", "samples_ci"):
            if not r[c].strip():
                raise ValueError(f"{where}: empty {c}")
        if not _METRIC.match(r["metric"]):
            raise ValueError(f"{where}: unknown metric {r['metric']!r} (pass@k, accuracy, nfe, acceptance_rate)")
        if r["unit"] not in UNITS:
            raise ValueError(f"{where}: unit must be one of {', '.join(UNITS)}, got {r['unit']!r}")
        if r["grade"] not in ("", "base"):
            raise ValueError(f"{where}: grade must be empty or 'base', got {r['grade']!r}")
        try:
            v = float(r["value"])
        except ValueError:
            raise ValueError(f"{where}: value {r['value']!r} is not a number") from None
        if not math.isfinite(v) or v < 0 or (r["unit"] == "fraction" and v > 1) or (r["unit"] == "percent" and v > 100):
            raise ValueError(f"{where}: value {r['value']!r} is out of range for unit {r['unit']}")
        try:
            cfg = json.loads(r["config"])
        except ValueError:
            raise ValueError(f"{where}: config is not JSON: {r['config']!r}") from None
        if not isinstance(cfg, dict) or not isinstance(cfg.get("sampler"), str):
            raise ValueError(f"{where}: config must be a JSON object with a sampler")
        key = (r["table"], r["model"], r["benchmark"], r["method"], r["metric"])
        if key in seen:
            raise ValueError(f"{where}: duplicate cell {key}")
        seen.add(key)
    df = pl.DataFrame(rows, schema={c: pl.String for c in COLUMNS})
    return df.with_columns(value_f=pl.col("value").cast(pl.Float64))


def _matches(cfg: Mapping[str, Any], row: Mapping[str, Any]) -> bool:
    """Does a sweep configuration (one distinct row of config columns) satisfy a published config?"""
    params = row.get("_params") or {}
    for k, want in cfg.items():
        if k == "template":
            return False                      # infilling cells: not a sweep-spec configuration
        have = row.get(k) if k in COLUMN_KEYS else params.get(k)
        if have is None:
            return False
        if isinstance(want, (int, float)) and not isinstance(want, bool):
            if not isinstance(have, (int, float)) or not math.isclose(float(have), float(want), rel_tol=1e-9, abs_tol=1e-12):
                return False
        elif str(have) != str(want):
            return False
    return True


def _model_ok(published: str, measured: str, model_map: Mapping[str, str]) -> bool:
    if model_map.get(published) == measured:
        return True
    names = {published.lower(), *(a.lower() for a in MODEL_ALIASES.get(published, ()))}
    return measured.lower() in names


def compare(samples, published: Optional[pl.DataFrame] = None, *, table: Optional[str] = None,
            model_map: Optional[Mapping[str, str]] = None,
            translate: Optional[Callable[[str, dict], Optional[tuple[str, dict]]]] = None,
            n_boot: int = 2000, level: float = 0.95, seed: int = 0) -> pl.DataFrame:
    """One row per (published cell, measured model) that the sweep can measure.

    ``model_map`` names the sweep's model that stands in for a published one (WeDLM-8B, or the
    tiny model of ``--smoke``); ``translate(task, config)`` maps a published cell's task and
    config to the sweep's (``--smoke`` runs stand-in tasks at scaled lengths; None: not run).  Columns: table, model, measured_model,
    benchmark, method, metric, unit, published, measured, lo, hi, inside, problems, samples,
    samples_ci, note.  Measured values are in the published unit (percent ×100)."""
    pub = load_published() if published is None else published
    if table is not None:
        pub = pub.filter(pl.col("table") == table)
        if pub.height == 0:
            return pl.DataFrame(schema=OUT_SCHEMA)   # a figure without printed numbers
    model_map = dict(model_map or {})
    lf = as_lazy(samples)
    names = lf.collect_schema().names()
    require_columns(names, ("task", "model", "sampler", "params", "problem_id", "correct"), "the paper comparison")
    keys = ["task", "model", "params", *[c for c in COLUMN_KEYS if c in names]]
    keys = list(dict.fromkeys(keys))
    configs = lf.select(keys).unique().collect()
    found: list[tuple[dict, dict]] = []      # (published row, measured config row)
    cfg_rows = list(configs.iter_rows(named=True))
    for c in cfg_rows:
        c["_params"] = json.loads(c["params"]) if c["params"] else {}
    for pr in pub.iter_rows(named=True):
        want, task = json.loads(pr["config"]), pr["task"]
        if translate is not None:
            moved = translate(task, want)
            if moved is None:
                continue
            task, want = moved
        for c in cfg_rows:
            if c["task"] == task and _model_ok(pr["model"], c["model"], model_map) and _matches(want, c):
                found.append((pr, c))
    if not found:
        return pl.DataFrame(schema=OUT_SCHEMA)
    # One pass over the rows: per (config, problem) counts and sums for every metric.
    sel = pl.lit(False)
    for _, c in {id(c): (None, c) for _, c in found}.values():
        e = pl.lit(True)
        for k in keys:
            e = e & (pl.col(k).is_null() if c[k] is None else pl.col(k) == c[k])
        sel = sel | e
    # Code tasks: `correct` is base and plus tests (HumanEval+/MBPP+); base tests alone are in
    # Grade.extracted ("base:pass plus:fail").
    has_x = "extracted" in names
    base = pl.col("extracted").fill_null("").str.contains("base:pass") if has_x else pl.lit(False)
    aggs = [pl.len().alias("n"), pl.col("correct").fill_null(False).cast(pl.Int64).sum().alias("c"),
            base.cast(pl.Int64).sum().alias("c_base"),
            (pl.col("extracted").str.contains("base:").any() if has_x else pl.lit(False)).alias("base_known")]
    if "nfe" in names:
        aggs.append(pl.col("nfe").cast(pl.Float64).mean().alias("nfe"))
    if "acceptance_rate" in names:
        aggs.append(pl.col("acceptance_rate").mean().alias("acceptance_rate"))
    per = lf.filter(sel).group_by([*keys, "problem_id"]).agg(aggs).collect()
    out = []
    for pr, c in found:
        sub = per
        for k in keys:
            sub = sub.filter(pl.col(k).is_null() if c[k] is None else pl.col(k) == c[k])
        vals = _per_problem(sub, pr["metric"], pr["grade"])
        if vals is None or len(vals) == 0:
            continue
        scale = UNITS[pr["unit"]] if pr["metric"] != "nfe" else 1.0
        reps = bootstrap_means(vals, n_boot, seed)
        lo, hi = percentile_ci(reps, level)
        m, lo_v, hi_v = float(vals.mean()) * scale, float(lo[0]) * scale, float(hi[0]) * scale
        pubv = pr["value_f"]
        out.append({"table": pr["table"], "model": pr["model"], "measured_model": c["model"],
                    "benchmark": pr["benchmark"], "method": pr["method"], "metric": pr["metric"], "unit": pr["unit"],
                    "published": pubv, "measured": m, "lo": lo_v, "hi": hi_v,
                    "inside": bool(lo_v - 1e-9 <= pubv <= hi_v + 1e-9), "problems": int(len(vals)),
                    "samples": int(sub["n"].sum()), "samples_ci": pr["samples_ci"], "note": pr["note"]})
    return pl.DataFrame(out, schema=OUT_SCHEMA)


def _per_problem(sub: pl.DataFrame, metric: str, grade: str) -> Optional[np.ndarray]:
    """The per-problem values whose mean is the metric (so the bootstrap is over problems)."""
    if sub.height == 0:
        return None
    n = sub["n"].to_numpy()
    if grade == "base" and not sub["base_known"].fill_null(False).any():
        return None                          # not a code task with base-test verdicts in `extracted`
    c = (sub["c_base"] if grade == "base" else sub["c"]).to_numpy()
    if metric == "accuracy":
        return c / n
    if metric.startswith("pass@"):
        k = int(metric.split("@")[1])
        if (n < k).any():
            return None                      # pass@k needs n >= k samples of every problem
        return estimate_pass_at_k(n, c, k)
    col = metric                             # nfe, acceptance_rate: per-problem means
    if col not in sub.columns:
        return None
    v = sub[col].to_numpy().astype(float)
    v = v[~np.isnan(v)]
    return v if len(v) else None


def _fmt(v: float, unit: str, metric: str) -> str:
    if metric == "nfe":
        return f"{v:.1f}"
    return f"{v:.1f}" if unit == "percent" else f"{v:.3f}"


def markdown(df: pl.DataFrame, title: str = "## Paper vs measured", preface: str = "") -> str:
    """The report section: published value, measured value [95% CI], inside or not."""
    lines = [title, "",
             (preface + " " if preface else "") +
             "Published cells from `analysis/data/published.csv` (transcribed from the papers) whose task, model and "
             "configuration this sweep ran. Measured: the same metric on the sweep's rows, with a 95% percentile "
             "bootstrap CI over problems; *inside* says whether the published value lies in it. The papers give no "
             "per-cell CI (see the samples/CI column).", "",
             "| table | model (measured) | benchmark | method | metric | published | measured [95% CI] | inside | problems | samples/CI in the paper |",
             "|---|---|---|---|---|---:|---|---|---:|---|"]
    for r in df.iter_rows(named=True):
        same = _model_ok(r["model"], r["measured_model"], {})
        model = r["model"] if same else f"{r['model']} (measured: {r['measured_model']})"
        meas = f"{_fmt(r['measured'], r['unit'], r['metric'])} [{_fmt(r['lo'], r['unit'], r['metric'])}, {_fmt(r['hi'], r['unit'], r['metric'])}]"
        lines.append(f"| {r['table']} | {model} | {r['benchmark']} | {r['method']} | {r['metric']} | "
                     f"{_fmt(r['published'], r['unit'], r['metric'])} | {meas} | {'yes' if r['inside'] else '**no**'} | "
                     f"{r['problems']} | {r['samples_ci']} |")
    inside = int(df["inside"].sum()) if df.height else 0
    lines += ["", f"{inside} of {df.height} published values lie inside the measured 95% CI.", ""]
    return "\n".join(lines)


def report_hook(samples, md: list[str], summary: dict) -> None:
    """``analysis.report``'s call: add the section when some published cell matches the sweep
    (most sweeps match none: then the report is unchanged, not a skipped section)."""
    df = compare(samples)
    if df.height == 0:
        return
    md.append(markdown(df))
    summary["paper_vs_measured"] = df.to_dicts()


def main(argv: Optional[list[str]] = None) -> int:
    """``python -m analysis.paper_compare SWEEP_DIR [--table T]``: print the section for a sweep."""
    import argparse
    import sys

    from workers.progname import prog  # stdlib only, like every import here

    from .load import load_samples

    p = argparse.ArgumentParser(prog=prog("python -m analysis.paper_compare"),
                                description="Published numbers (analysis/data/published.csv) beside a sweep's.")
    p.add_argument("sweep_dir")
    p.add_argument("--table", default=None, help="only this table, e.g. 000-table2")
    args = p.parse_args(argv)
    try:
        df = compare(load_samples(args.sweep_dir), table=args.table)
    except ValueError as e:
        print(f"error: {str(e).splitlines()[0]}", file=sys.stderr)
        return 2
    print(markdown(df) if df.height else "no published cell matches this sweep's task, model and configuration")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
