"""Figures for the report and notebooks.

Built on ``matplotlib.figure.Figure`` rather than pyplot: no global state and no GUI backend,
so saving to PNG always goes through Agg (safe in a sweep driver, a thread, or CI), while a
notebook can still display the returned figure.
"""
from __future__ import annotations

import math
from pathlib import Path
from typing import Sequence

import numpy as np
import polars as pl
from matplotlib.figure import Figure

from workers.contract import KNOB_SYMBOLS

from .budget import LN2, bits_budget
from .strata import tier_sort_key

__all__ = ["save", "sampler_of", "sampler_style", "SAMPLER_ORDER", "frontier_figure", "imh_base", "IMH_BASE", "passk_curve_figure", "strata_figure", "bits_rounds_figure",
           "shares_figure", "cost_figure", "similarity_figure", "acceptance_figure", "KNOB_SYMBOLS"]

# one symbol per knob: τ is the temperature only (a confidence threshold is θ)
_DPI = 110


def save(fig: Figure, path: str | Path) -> Path:
    """Write ``fig`` as PNG (Agg) and return the path."""
    path = Path(path)
    fig.savefig(path, dpi=_DPI, bbox_inches="tight")
    return path


def _fmt(v: float | None) -> str:
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return "–"
    return f"{v:g}"


# One colour and one marker per sampler in every figure of a report (issue 25: red was random in
# one plot and max_prob in another).  Samplers not listed get a colour/marker fixed by their name.
SAMPLER_ORDER = ("confidence", "entropy", "margin", "max_prob", "random", "imh", "threshold", "factor", "eb",
                 "med", "ete")
_MARKERS = ("o", "s", "^", "v", "D", "P", "X", "*", "h", "<", ">", "p")


def sampler_of(label: str) -> str:
    """The sampler a report label names: ``"math: confidence τ=0.5"`` → ``"confidence"``."""
    text = str(label).rsplit(": ", 1)[-1].strip()
    return text.split()[0] if text else text


def sampler_style(sampler: str) -> tuple[tuple, str]:
    """(colour, marker) of a sampler: the same in every figure."""
    from matplotlib import colormaps

    if sampler in SAMPLER_ORDER:
        i = SAMPLER_ORDER.index(sampler)
    else:  # a stable index from the name (not Python's salted hash)
        i = len(SAMPLER_ORDER) + sum(map(ord, sampler)) % 9
    cmap = colormaps["tab20"]
    colour = colormaps["tab10"](i) if i < 10 else cmap((2 * i + 1) % cmap.N)
    return colour, _MARKERS[i % len(_MARKERS)]


def _colors(labels: Sequence[str]) -> dict[str, tuple]:
    """Colour per label, by the label's sampler (configurations of one sampler share it)."""
    return {lab: sampler_style(sampler_of(lab))[0] for lab in labels}


def _markers(labels: Sequence[str]) -> dict[str, str]:
    return {lab: sampler_style(sampler_of(lab))[1] for lab in labels}


def _dashes(labels: Sequence[str]) -> dict[str, str]:
    """Line style per label: a sampler's configurations differ by dash, never by colour."""
    seen: dict[str, int] = {}
    out = {}
    for lab in sorted(labels):
        s = sampler_of(lab)
        out[lab] = ("-", "--", ":", "-.")[seen.get(s, 0) % 4]
        seen[s] = seen.get(s, 0) + 1
    return out


def _group_title(row: dict, groups: Sequence[str]) -> str:
    return " · ".join(str(row[g]) for g in groups) if groups else ""


# IMH's base rule (000 §4.3) per its ``position`` param: IMH at α = 1 samples this sampler's law
# at τ = 1, so the α-curve belongs beside that sampler's τ-curve.
IMH_BASE = {"confidence": "max_prob", "entropy": "entropy", "margin": "margin", "random": "random"}


def imh_base(series: str, params: str | None = None) -> str | None:
    """The registered sampler whose τ-curve an IMH series is drawn beside (None if not IMH)."""
    import json

    if not series.startswith("imh"):
        return None
    position = "confidence"
    try:
        position = json.loads(params or "{}").get("position", position)
    except (TypeError, ValueError, AttributeError):
        pass
    for part in series.split():
        if part.startswith("position="):
            position = part.split("=", 1)[1]
    return IMH_BASE.get(position)


def frontier_figure(table: pl.DataFrame, k: int, groups: Sequence[str] = ()) -> Figure:
    """Pass@1 vs Pass@k, one line per series through its knob values (000 Fig. 3 left).

    95% CIs are drawn as error bars with caps; every sampler keeps its colour and marker
    (:func:`sampler_style`), an IMH series is dashed with hollow markers and its legend names the
    τ-curve it sits beside (``IMH_BASE``); the legend goes outside the axes, never over points."""
    y_col = f"pass@{k}"
    parts = list(table.group_by(list(groups), maintain_order=True)) if groups else [((), table)]
    fig = Figure(figsize=(6.4 * len(parts) + 2.2, 5.0), layout="constrained")
    axes = fig.subplots(1, len(parts), squeeze=False)[0]
    all_series = sorted(table["series"].unique().to_list())
    params = ({r["series"]: r.get("params") for r in table.select([c for c in ("series", "params") if c in table.columns])
               .iter_rows(named=True)})
    bases = {s: imh_base(s, params.get(s)) for s in all_series}
    colors, markers = _colors(all_series), _markers(all_series)
    for ax, (_, part) in zip(axes, parts):
        for series, sub in part.sort("knob", nulls_last=True).group_by("series", maintain_order=True):
            label = series[0]
            is_imh = bases.get(label) is not None
            x, y = sub["pass@1"].to_numpy(), sub[y_col].to_numpy()
            xerr = np.abs(np.vstack([x - sub["pass@1_lo"].to_numpy(), sub["pass@1_hi"].to_numpy() - x]))
            yerr = (np.abs(np.vstack([y - sub[f"{y_col}_lo"].to_numpy(), sub[f"{y_col}_hi"].to_numpy() - y]))
                    if f"{y_col}_lo" in sub.columns else None)
            ax.errorbar(x, y, xerr=xerr, yerr=yerr, fmt="none", elinewidth=1.0, capsize=2.5, alpha=0.75,
                        color=colors[label])
            legend = f"{label} (beside {bases[label]})" if is_imh and bases[label] in colors else label
            ax.plot(x, y, "--" if is_imh else "-", marker=markers[label], ms=5, lw=1.4, color=colors[label],
                    label=legend, mfc="white" if is_imh else colors[label])
            sym = {n: KNOB_SYMBOLS.get(n, n) for n in sub["knob_name"].unique().to_list()}
            for xi, yi, name, kv in zip(x, y, sub["knob_name"].to_list(), sub["knob"].to_list()):
                if kv is not None:
                    ax.annotate(f"{sym[name]}={_fmt(kv)}", (xi, yi), textcoords="offset points", xytext=(5, 4),
                                fontsize=7, color=colors[label])
        front = part.filter(pl.col("on_frontier")).sort("pass@1")
        ax.plot(front["pass@1"], front[y_col], ls=":", color="black", lw=1, label="overall frontier")
        ax.set_xlabel("Pass@1 (quality)")
        ax.set_ylabel(f"Pass@{k} (exploration)")
        ax.set_title(_group_title(part.row(0, named=True), groups) or f"Pass@1 vs Pass@{k}")
        ax.grid(alpha=0.3)
        ax.margins(0.08)
    handles, labels = axes[-1].get_legend_handles_labels()
    seen = dict(zip(labels, handles))
    for ax in axes[:-1]:
        for h, lab in zip(*ax.get_legend_handles_labels()):
            seen.setdefault(lab, h)
    fig.legend(list(seen.values()), list(seen.keys()), loc="outside right upper", fontsize=8)
    return fig


def passk_curve_figure(table: pl.DataFrame, label: str = "series") -> Figure:
    """Pass@k against k (log₂ axis), one line per row of ``table`` (columns ``pass@k``)."""
    ks = sorted(int(c.split("@")[1]) for c in table.columns if c.startswith("pass@") and c.split("@")[1].isdigit())
    fig = Figure(figsize=(6.4, 4.6), layout="constrained")
    ax = fig.subplots()
    labs = table[label].to_list()
    colors, markers, dashes = _colors(labs), _markers(labs), _dashes(labs)
    for row in table.iter_rows(named=True):
        pts = [(kv, row[f"pass@{kv}"]) for kv in ks if row.get(f"pass@{kv}") is not None]
        if pts:
            ax.plot(*zip(*pts), ls=dashes[row[label]], marker=markers[row[label]], ms=3, color=colors[row[label]],
                    label=row[label])
    ax.set_xscale("log", base=2)
    ax.set_xlabel("k")
    ax.set_ylabel("Pass@k")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.0, 1.0))  # outside: curves rise to the top
    return fig


def strata_figure(table: pl.DataFrame, k: int, label: str = "series", groups: Sequence[str] = ()) -> Figure:
    """Grouped bars: Pass@k per difficulty tier, one bar per series (000 Fig. 3 middle)."""
    col = f"pass@{k}"
    parts = list(table.group_by(list(groups), maintain_order=True)) if groups else [((), table)]
    fig = Figure(figsize=(max(6.4, 1.6 * table["tier"].n_unique() + 2) * len(parts), 4.6), layout="constrained")
    axes = fig.subplots(1, len(parts), squeeze=False)[0]
    colors = _colors(sorted(table[label].unique().to_list()))
    for ax, (_, part) in zip(axes, parts):
        tiers = sorted(part["tier"].unique().to_list(), key=tier_sort_key)
        series = sorted(part[label].unique().to_list())
        width = 0.8 / max(1, len(series))
        for j, s in enumerate(series):
            sub = {r["tier"]: r for r in part.filter(pl.col(label) == s).iter_rows(named=True)}
            vals = np.array([sub[t][col] if t in sub and sub[t][col] is not None else np.nan for t in tiers], float)
            xs = np.arange(len(tiers)) + (j - (len(series) - 1) / 2) * width
            ax.bar(xs, vals, width, label=s, color=colors[s])
            if f"{col}_lo" in part.columns:   # 95% CIs over the tier's problems
                lo = np.array([sub[t].get(f"{col}_lo") if t in sub else None for t in tiers], float)
                hi = np.array([sub[t].get(f"{col}_hi") if t in sub else None for t in tiers], float)
                ax.errorbar(xs, vals, yerr=np.abs(np.vstack([vals - lo, hi - vals])), fmt="none", ecolor="black",
                            elinewidth=0.8, capsize=2)
        counts: dict[str, int] = {}
        for r in part.iter_rows(named=True):
            counts[r["tier"]] = max(counts.get(r["tier"], 0), r["problems"] or 0)
        ax.set_xticks(np.arange(len(tiers)), [f"{t}\n({counts.get(t, 0)} problems)" for t in tiers])
        ax.set_ylabel(f"Pass@{k}")
        ax.set_ylim(0, 1.05)
        ax.set_title(_group_title(part.row(0, named=True), groups) or f"Pass@{k} by difficulty tier")
        ax.grid(axis="y", alpha=0.3)
        ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.0, 1.0))
    return fig


def _bound_line(ax, f: float | None, xmax: float, color) -> None:
    if f is None or not (0 < f < 2):
        return
    xs = np.array([0.0, xmax])
    ax.plot(xs, xs * LN2 / bits_budget(f), ls="--", lw=1, color=color)


def bits_rounds_figure(points: pl.DataFrame, fits: pl.DataFrame, label: str = "series", x: str = "bits") -> Figure:
    """Rounds vs bits per configuration with OLS lines (002 Fig. 4a), and the bound where it holds.

    Left: every sampled point (nfe, ``x``) — ``x = "bits_l2r"`` (002 §5.1's left-to-right joint,
    fits ``l2r_slope``/``l2r_intercept``) or ``"bits"`` (trajectory bits, fits ``slope``/
    ``intercept``); no bound line there: Thm 3.2's per-round budget does not bound total rounds
    by these bits for a sampler that also explores.  Right (when the split columns exist):
    exploitation rounds vs exploitation bits with the bound rounds = bits·ln2/B(f) (dashed),
    which every factor-rule sample must lie above.
    """
    split = {"exploit_bits", "exploit_rounds"} <= set(points.columns) and points["exploit_bits"].drop_nulls().len() > 0
    fig = Figure(figsize=(12.8 if split else 6.4, 4.8), layout="constrained")
    axes = fig.subplots(1, 2 if split else 1, squeeze=False)[0]
    # Configurations whose rounds never vary (one-token samplers) would only add flat lines.
    varying = fits.filter(pl.col("r2").is_not_null())
    fits = varying if varying.height else fits
    labels = sorted(fits[label].unique().to_list())
    colors, markers = _colors(labels), _markers(labels)
    fit_rows = {r[label]: r for r in fits.iter_rows(named=True)}
    points = points.filter(pl.col(label).is_in(labels))
    pre = "l2r_" if x == "bits_l2r" else ""
    left = points.filter(pl.col(x).is_not_null())
    xmax = float(left[x].max() or 1.0) if left.height else 1.0
    for lab in labels:
        sub = left.filter(pl.col(label) == lab)
        row = fit_rows[lab]
        axes[0].scatter(sub[x], sub["nfe"], s=4, alpha=0.35, color=colors[lab], marker=markers[lab])
        slope = row.get(f"{pre}slope")
        if slope is not None:
            xs = np.array([0.0, xmax])
            r2 = row.get(f"{pre}r2")
            axes[0].plot(xs, row[f"{pre}intercept"] + slope * xs, color=colors[lab], lw=1.3,
                         label=f"{lab}: slope {slope:.3g}" + (f", R² {r2:.2f}" if r2 is not None else ""))
        else:
            axes[0].plot([], [], color=colors[lab], label=f"{lab}: no fit (bits or rounds constant)")
    axes[0].set_xlabel("bits, left-to-right joint −log₂ p (002 §5.1)" if pre else
                       "bits (trajectory: −log₂ p of each token when committed)")
    axes[0].set_ylabel("rounds (nfe)")
    axes[0].set_title("Rounds vs bits: OLS per configuration (no bound in these coordinates)")
    axes[0].grid(alpha=0.3)
    fig.legend(*axes[0].get_legend_handles_labels(), loc="outside right upper", fontsize=7)  # off the points
    if split:
        sp = points.filter(pl.col("exploit_bits").is_not_null() & pl.col("exploit_rounds").is_not_null())
        xmax_e = float(sp["exploit_bits"].max() or 1.0)
        for lab in labels:
            sub = sp.filter(pl.col(label) == lab)
            if sub.height == 0:
                continue
            axes[1].scatter(sub["exploit_bits"], sub["exploit_rounds"], s=4, alpha=0.35, color=colors[lab], label=lab)
            _bound_line(axes[1], fit_rows[lab].get("factor"), xmax_e, colors[lab])
        axes[1].set_xlabel("exploitation bits")
        axes[1].set_ylabel("exploitation rounds")
        axes[1].set_title("Exploitation only: every point must lie above its dashed line")
        axes[1].grid(alpha=0.3)
    return fig


def shares_figure(table: pl.DataFrame, label: str = "series") -> Figure:
    """Exploration's share of bits vs of rounds per configuration (002 Fig. 2)."""
    rows = table.filter(pl.col("explore_bit_share").is_not_null())
    fig = Figure(figsize=(max(6.4, 0.9 * rows.height + 2), 4.4), layout="constrained")
    ax = fig.subplots()
    x = np.arange(rows.height)
    ax.bar(x - 0.2, rows["explore_bit_share"], 0.4, label="exploration share of bits")
    ax.bar(x + 0.2, rows["explore_round_share"], 0.4, label="exploration share of rounds")
    ax.set_xticks(x, rows[label].to_list(), rotation=30, ha="right", fontsize=8)
    ax.set_ylim(0, 1)
    ax.set_ylabel("share")
    ax.set_title("Exploration vs exploitation (rest of each bar pair: exploitation)")
    ax.grid(axis="y", alpha=0.3)
    ax.legend(fontsize=8)
    return fig


def cost_figure(table: pl.DataFrame, k: int = 1, label: str = "series") -> Figure:
    """Pass@k against mean rounds, forwarded rows and wall-clock per problem (one colour per series)."""
    # a panel whose x is the same for every configuration (every one-token sampler at nfe = L) says nothing
    metrics = [c for c in ("mean_nfe", "mean_forward_rows", "wall_s_per_problem")
               if c in table.columns and table[c].drop_nulls().n_unique() > 1]
    fig = Figure(figsize=(5.2 * max(1, len(metrics)), 4.4), layout="constrained")
    axes = fig.subplots(1, max(1, len(metrics)), squeeze=False)[0]
    labs = sorted(table[label].unique().to_list())
    colors, markers = _colors(labs), _markers(labs)
    names = {"mean_nfe": "mean rounds (nfe) per sample", "mean_forward_rows": "mean forwarded rows per sample",
             "wall_s_per_problem": "wall-clock s per problem"}
    for ax, metric in zip(axes, metrics):
        for lab, sub in table.group_by(label, maintain_order=True):
            ax.plot(sub[metric], sub[f"pass@{k}"], ls="none", marker=markers[lab[0]], ms=5, alpha=0.8,
                    color=colors[lab[0]], label=lab[0])
        ax.set_xlabel(names[metric])
        ax.set_ylabel(f"Pass@{k}")
        ax.grid(alpha=0.3)
    fig.legend(*axes[0].get_legend_handles_labels(), loc="outside right upper", fontsize=7)  # off the points
    return fig


def similarity_figure(matrix: pl.DataFrame) -> Figure:
    """Sampler × sampler mean completion similarity (000 Fig. 3 right, n-gram proxy)."""
    labels = sorted(matrix["a"].unique().to_list())
    idx = {g: i for i, g in enumerate(labels)}
    m = np.full((len(labels), len(labels)), np.nan)
    for r in matrix.iter_rows(named=True):
        if r["similarity"] is not None:
            m[idx[r["a"]], idx[r["b"]]] = r["similarity"]
    fig = Figure(figsize=(1.0 * len(labels) + 3, 0.9 * len(labels) + 2), layout="constrained")
    ax = fig.subplots()
    im = ax.imshow(m, vmin=0, vmax=1, cmap="viridis")
    ax.set_xticks(range(len(labels)), labels, rotation=40, ha="right", fontsize=8)
    ax.set_yticks(range(len(labels)), labels, fontsize=8)
    for i in range(len(labels)):
        for j in range(len(labels)):
            if not np.isnan(m[i, j]):
                ax.text(j, i, f"{m[i, j]:.2f}", ha="center", va="center", fontsize=7,
                        color="white" if m[i, j] < 0.6 else "black")
    fig.colorbar(im, ax=ax, label="mean trigram Jaccard similarity")
    ax.set_title("Completion similarity\ndiagonal: two samples of one sampler · off-diagonal: one of each")
    return fig


def acceptance_figure(table: pl.DataFrame) -> Figure:
    """IMH acceptance rate against chain length T, one line per α (000 Table 3)."""
    fig = Figure(figsize=(6.0, 4.2), layout="constrained")
    ax = fig.subplots()
    if "alpha" in table.columns:
        groups = table.sort("chain_length").group_by("alpha", maintain_order=True)
    else:
        groups = [((None,), table.sort("chain_length"))]
    for (alpha,), sub in groups:
        ax.plot(sub["chain_length"], sub["acceptance_rate"], "-o", ms=4, label=f"α={_fmt(alpha)}")
    ax.set_xlabel("chain length T")
    ax.set_ylabel("mean acceptance rate")
    ax.set_ylim(0, 1.02)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    return fig
