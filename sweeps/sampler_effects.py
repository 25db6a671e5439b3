"""Do the samplers differ?  Paired-bootstrap Pass@1 / Pass@k differences between every pair of
samplers at the same temperature, read from a finished sweep's shards.

    python sweeps/pareto.py --problems 150 --samples 16 --temperatures 1.0 --no-imh
    python sweeps/sampler_effects.py runs/pareto --k 16

For each temperature, task (and all tasks pooled) and pair of samplers (a, b): pass@k(a) −
pass@k(b) averaged over the problems both ran, with a 95% paired bootstrap CI over problems
(``analysis.cost.paired_bootstrap``).  A row is marked ``*`` when the CI excludes 0.  This is
the "sampler effects visible" check; it reports what it finds, whichever way it goes.
"""
from __future__ import annotations

import argparse
import itertools
from pathlib import Path
from typing import Optional, Sequence

import polars as pl

from sweeps.engine.cli import entry


def parse_args(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python sweeps/sampler_effects.py",
                                description=__doc__.splitlines()[0],
                                formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("shards", nargs="?", default="runs/pareto", help="a sweep's output directory (or its shards)")
    p.add_argument("--k", type=int, default=16, help="k of Pass@k (besides Pass@1)")
    p.add_argument("--samplers", default="random,confidence,entropy,margin",
                   help="comma-separated samplers to compare (those present in the sweep)")
    p.add_argument("--n-boot", type=int, default=2000, help="bootstrap resamples")
    p.add_argument("--seed", type=int, default=0, help="bootstrap seed")
    return p.parse_args(argv)


def effects(samples: pl.LazyFrame, samplers: Sequence[str], k: int, n_boot: int = 2000,
            seed: int = 0) -> pl.DataFrame:
    """One row per (temperature, task, pair, k) with the paired difference and its CI."""
    from analysis.cost import paired_bootstrap

    present = (samples.select("sampler", "temperature", "task").unique().collect())
    rows = []
    for tau in sorted(present["temperature"].drop_nulls().unique().to_list()):
        here = present.filter(pl.col("temperature") == tau)
        names = [s for s in samplers if s in set(here["sampler"].to_list())]
        tasks = sorted(here["task"].unique().to_list())
        for task in tasks + (["all"] if len(tasks) > 1 else []):
            data = samples if task == "all" else samples.filter(pl.col("task") == task)
            for a, b in itertools.combinations(names, 2):
                for kk in sorted({1, k}):
                    r = paired_bootstrap(data, {"sampler": a, "temperature": tau},
                                         {"sampler": b, "temperature": tau}, k=kk, n_boot=n_boot, seed=seed)
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
    wanted = [s.strip() for s in args.samplers.split(",") if s.strip()]
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
