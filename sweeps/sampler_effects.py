"""Do the samplers differ?  Paired-bootstrap Pass@1 / Pass@k differences between every pair of
samplers at the same temperature, read from a finished sweep's shards.

    python sweeps/pareto.py --problems 150 --samples 16 --temperatures 1.0 --no-imh
    python sweeps/sampler_effects.py runs/pareto --k 16

For each temperature, task (and all tasks pooled) and pair of samplers (a, b): pass@k(a) −
pass@k(b) averaged over the problems both ran, with a 95% paired bootstrap CI over problems
(``analysis.cost.paired_bootstrap``).  A row is marked ``*`` when the CI excludes 0.  This is
the "sampler effects visible" check; it reports what it finds, whichever way it goes.  Every
sampler in the sweep takes part by default; IMH, whose knob is α, stands at τ = 1/α (its proposal
softmax(αℓ) is its base rule's at temperature 1/α, 000 §4.3), beside max_prob at that τ.
"""
from __future__ import annotations

import argparse
import itertools
from pathlib import Path
from typing import Optional, Sequence

import polars as pl

from sweeps.engine.cli import entry
from workers.progname import prog


def parse_args(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog=prog("python sweeps/sampler_effects.py"),
                                description=__doc__.splitlines()[0],
                                formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("shards", nargs="?", default="runs/pareto", help="a sweep's output directory (or its shards)")
    p.add_argument("--k", type=int, default=16, help="k of Pass@k (besides Pass@1)")
    p.add_argument("--samplers", default=None,
                   help="comma-separated samplers to compare (default: every sampler in the sweep)")
    p.add_argument("--n-boot", type=int, default=2000, help="bootstrap resamples")
    p.add_argument("--seed", type=int, default=0, help="bootstrap seed")
    return p.parse_args(argv)


def _tau(alpha: Optional[float], temperature: Optional[float]) -> Optional[float]:
    """The temperature a configuration is compared at: its own, else IMH's 1/α (000 §4.3)."""
    if temperature is not None:
        return float(temperature)
    return 1.0 / alpha if alpha else None


def effects(samples: pl.LazyFrame, samplers: Optional[Sequence[str]], k: int, n_boot: int = 2000,
            seed: int = 0) -> pl.DataFrame:
    """One row per (temperature, task, pair, k) with the paired difference and its CI.
    ``samplers``: the order and choice of samplers (None: every sampler present, by name)."""
    from analysis.cost import paired_bootstrap
    from analysis.load import SweepDataError

    cols = samples.collect_schema().names()
    keys = ["sampler", "task", "temperature"] + (["alpha"] if "alpha" in cols else [])
    present = samples.select(keys).unique().collect()
    if "alpha" not in cols:
        present = present.with_columns(alpha=pl.lit(None, dtype=pl.Float64))
    # (τ, sampler) -> the row filter of that configuration (its temperature, or IMH's α)
    configs: dict[float, dict[str, dict]] = {}
    tasks_at: dict[float, set] = {}
    for r in present.iter_rows(named=True):
        tau = _tau(r["alpha"], r["temperature"])
        if tau is None:
            continue
        tau = round(tau, 9)
        sel = ({"sampler": r["sampler"], "temperature": r["temperature"]} if r["temperature"] is not None
               else {"sampler": r["sampler"], "alpha": r["alpha"]})
        configs.setdefault(tau, {})[r["sampler"]] = sel
        tasks_at.setdefault(tau, set()).add(r["task"])
    order = list(samplers) if samplers is not None else sorted({s for c in configs.values() for s in c})
    rows = []
    for tau in sorted(configs):
        names = [s for s in order if s in configs[tau]]
        tasks = sorted(tasks_at[tau])
        for task in tasks + (["all"] if len(tasks) > 1 else []):
            data = samples if task == "all" else samples.filter(pl.col("task") == task)
            for a, b in itertools.combinations(names, 2):
                for kk in sorted({1, k}):
                    try:
                        r = paired_bootstrap(data, configs[tau][a], configs[tau][b], k=kk, n_boot=n_boot, seed=seed)
                    except SweepDataError:  # no problem in common (they ran different tasks at this τ)
                        continue
                    rows.append({"temperature": tau, "task": task, "a": a, "b": b, "k": kk,
                                 "problems": r["problems"], "pass_a": r["pass_a"], "pass_b": r["pass_b"],
                                 "diff": r["diff"], "lo": r["lo"], "hi": r["hi"],
                                 "significant": r["lo"] > 0 or r["hi"] < 0})
    return pl.DataFrame(rows)


def _main(argv: Optional[Sequence[str]] = None) -> int:
    args = parse_args(argv)
    from analysis.load import load_samples

    if args.k < 1:
        raise ValueError("--k must be >= 1")
    root = Path(args.shards)
    path = root / "shards" if (root / "shards").is_dir() else root
    samples = load_samples(path, dedupe=True)   # unreadable shards: one line (SweepDataError)
    wanted = None if args.samplers is None else [s.strip() for s in args.samplers.split(",") if s.strip()]
    table = effects(samples, wanted, args.k, args.n_boot, args.seed)
    if table.height == 0:
        raise ValueError("no temperature with two of the requested samplers in this sweep")
    print("| τ | task | a | b | k | problems | pass@k a | pass@k b | a − b [95% CI] | |")
    print("|---:|---|---|---|---:|---:|---:|---:|---|---|")
    for r in table.iter_rows(named=True):
        print(f"| {r['temperature']:g} | {r['task']} | {r['a']} | {r['b']} | {r['k']} | {r['problems']} "
              f"| {r['pass_a']:.3f} | {r['pass_b']:.3f} | {r['diff']:+.3f} [{r['lo']:+.3f}, {r['hi']:+.3f}] "
              f"| {'*' if r['significant'] else ''} |")
    n_sig = int(table["significant"].sum())
    print(f"\n{n_sig} of {table.height} comparisons have a 95% CI that excludes 0 (* above).")
    return 0


main = entry(_main)

if __name__ == "__main__":
    raise SystemExit(main())
