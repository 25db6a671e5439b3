"""Benchmark the analysis on a large synthetic sweep (target: 10M rows, report ≤ 30 s, ≤ 4 GB).

    python -m benchmarks.bench_analysis                 # 10 million rows in a temporary directory
    python -m benchmarks.bench_analysis --rows 1e6 --out /tmp/sweep --keep

Steps: write the shards (not timed against the target), then, each in a fresh process so that
peak RSS (``resource.getrusage``) belongs to that step alone: the full report
(``analysis.report.write_report``), the pass@k table with Polars (``analysis.pass_at_k``), and
the same table with pandas.  Prints wall time and peak RSS of each, the pandas/Polars speed
ratio, and checks the two tables agree.
"""
from __future__ import annotations

import argparse
import json
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

TARGET_S, TARGET_GB = 30.0, 4.0
CONFIG = ["model", "task", "sampler", "params", "gen_length", "block_length"]


def _peak_gb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024**2  # ru_maxrss is KiB on Linux


def _ks(n: int) -> list[int]:
    return [1 << i for i in range(n.bit_length()) if 1 << i <= n]


def phase_report(sweep: str, n_boot: int) -> dict:
    from analysis.report import write_report

    t = time.perf_counter()
    out = write_report(sweep, n_boot=n_boot)
    return {"wall_s": time.perf_counter() - t, "peak_gb": _peak_gb(), "out": str(out)}


def phase_polars(sweep: str, n: int) -> dict:
    from analysis import load_samples, pass_at_k

    t = time.perf_counter()
    table = pass_at_k(load_samples(sweep), _ks(n), by=CONFIG)
    wall = time.perf_counter() - t
    table.write_parquet(Path(sweep).parent / "_bench_polars.parquet")
    return {"wall_s": wall, "peak_gb": _peak_gb(), "groups": table.height}


def phase_pandas(sweep: str, n: int) -> dict:
    import numpy as np
    import pandas as pd

    from analysis.passk import estimate_pass_at_k

    t = time.perf_counter()
    shards = sorted(Path(sweep).rglob("*.parquet"))
    shards = [p for p in shards if not any(part.startswith((".", "_")) or part in ("report", "quarantine")
                                           for part in p.relative_to(sweep).parts)]
    df = pd.concat([pd.read_parquet(p, columns=[*CONFIG, "problem_id", "correct"]) for p in shards],
                   ignore_index=True)
    per = (df.groupby([*CONFIG, "problem_id"], sort=False, observed=True)["correct"]
           .agg(n="size", c="sum").reset_index())
    cols = {}
    for k in _ks(n):
        cols[f"pass@{k}"] = estimate_pass_at_k(per["n"].to_numpy(), per["c"].to_numpy().astype(np.int64), k)
    per = per.assign(**cols)
    table = per.groupby(CONFIG, sort=True)[list(cols)].mean().reset_index()
    wall = time.perf_counter() - t
    table.to_parquet(Path(sweep).parent / "_bench_pandas.parquet")
    return {"wall_s": wall, "peak_gb": _peak_gb(), "groups": len(table)}


def _child(phase: str, sweep: Path, extra: str) -> dict:
    done = subprocess.run([sys.executable, __file__, "--phase", phase, "--sweep", str(sweep), "--arg", extra],
                          capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(f"{phase} failed:\n{done.stderr}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=float, default=10_000_000, help="rows to generate (default 1e7)")
    parser.add_argument("--samples", type=int, default=64, help="samples per (config, problem) (default 64)")
    parser.add_argument("--rows-per-shard", type=int, default=250_000)
    parser.add_argument("--n-boot", type=int, default=1000)
    parser.add_argument("--out", help="directory for the sweep (default: a temporary directory)")
    parser.add_argument("--keep", action="store_true", help="keep the generated sweep")
    parser.add_argument("--phase", help=argparse.SUPPRESS)
    parser.add_argument("--sweep", help=argparse.SUPPRESS)
    parser.add_argument("--arg", help=argparse.SUPPRESS)
    args = parser.parse_args()

    if args.phase:  # child process: run one step, print its figures as JSON
        fn = {"report": lambda: phase_report(args.sweep, int(args.arg)),
              "polars": lambda: phase_polars(args.sweep, int(args.arg)),
              "pandas": lambda: phase_pandas(args.sweep, int(args.arg))}[args.phase]
        print(json.dumps(fn()))
        return

    from analysis.synthetic import DEFAULT_CONFIGS, write_sweep

    base = Path(args.out) if args.out else Path(tempfile.mkdtemp(prefix="bench-analysis-"))
    sweep = base / "sweep"
    try:
        if sweep.exists():
            shutil.rmtree(sweep)
        t = time.perf_counter()
        write_sweep(sweep, int(args.rows), n_samples=args.samples, rows_per_shard=args.rows_per_shard)
        gen = time.perf_counter() - t
        shards = len(list(sweep.rglob("*.parquet")))
        rows = (int(args.rows) // (len(DEFAULT_CONFIGS) * args.samples)) * len(DEFAULT_CONFIGS) * args.samples
        print(f"generated {rows:,} rows in {shards} shards "
              f"({sum(p.stat().st_size for p in sweep.rglob('*.parquet')) / 1e6:.0f} MB) in {gen:.1f} s")

        rep = _child("report", sweep, str(args.n_boot))
        ok = rep["wall_s"] <= TARGET_S and rep["peak_gb"] <= TARGET_GB
        print(f"full report:   wall {rep['wall_s']:.1f} s, peak RSS {rep['peak_gb']:.2f} GB "
              f"(targets ≤ {TARGET_S:.0f} s, ≤ {TARGET_GB:.0f} GB: {'met' if ok else 'MISSED'}) → {rep['out']}")
        pol = _child("polars", sweep, str(args.samples))
        pan = _child("pandas", sweep, str(args.samples))
        print(f"pass@k table:  polars {pol['wall_s']:.2f} s (peak {pol['peak_gb']:.2f} GB), "
              f"pandas {pan['wall_s']:.2f} s (peak {pan['peak_gb']:.2f} GB), "
              f"pandas/polars = {pan['wall_s'] / pol['wall_s']:.1f}×")

        import polars as pl

        a = pl.read_parquet(base / "_bench_polars.parquet")
        b = pl.read_parquet(base / "_bench_pandas.parquet")
        joined = a.join(b, on=CONFIG, suffix="_pd")
        worst = max(float((joined[c] - joined[f"{c}_pd"]).abs().max()) for c in a.columns if c.startswith("pass@"))
        print(f"tables agree: {joined.height} of {a.height} groups matched, max |Δ pass@k| = {worst:.1e}")
    finally:
        for f in ("_bench_polars.parquet", "_bench_pandas.parquet"):
            (base / f).unlink(missing_ok=True)
        if args.keep:
            print(f"kept: {sweep}")
        elif args.out:  # only what we wrote: --out may be a directory the user cares about
            shutil.rmtree(sweep, ignore_errors=True)
        else:
            shutil.rmtree(base, ignore_errors=True)


if __name__ == "__main__":
    main()
