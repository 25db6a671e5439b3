"""Benchmark the sweep spine (not a test): Ray overhead per job, and resume time.

1. Throughput: the same jobs run (a) in one in-process loop by one ``SweepWorker`` and (b) by the
   real driver with N Ray actors.  Steady-state rates come from the rows' ``created_at`` stamps
   after each worker's first batch (model loading and process start-up excluded for both; Ray's
   dispatch, result collection and shard writes included).  N plain processes without Ray show what
   the machine itself allows.  Rounds alternate and the best rate of each kind is kept, because
   other load on a shared machine comes and goes.  Target: ratio >= 0.9 x N.
2. Resume: a finished sweep of >= 10,000 jobs (synthetic shards), rerun: expand + scan (full page
   checksum verification) + plan, no Ray needed.  Target: <= 10 s.

    python -m benchmarks.bench_sweep                 # ~3 minutes on 2 cores
    python -m benchmarks.bench_sweep --batches 8 --resume-jobs 10240
"""
from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import shutil
import tempfile
import time
from pathlib import Path

os.environ.setdefault("RAY_AUTH_MODE", "disabled")
_RAY_TMP = None
if "RAY_TMPDIR" not in os.environ:  # a private Ray, never one recorded on the machine
    _RAY_TMP = os.environ["RAY_TMPDIR"] = tempfile.mkdtemp(prefix="rb", dir="/tmp")

import polars as pl  # noqa: E402

from sweeps.engine.driver import code_version, run_sweep  # noqa: E402
from sweeps.engine.spec import SamplerSpec, SweepSpec, TaskSpec, expand  # noqa: E402
from workers.actor import SweepWorker  # noqa: E402
from workers.jobs import JobBatch  # noqa: E402
from workers.rows import RowBuilder, to_table  # noqa: E402
from workers.samplers.base import Trace  # noqa: E402
from workers.shards import SweepDir  # noqa: E402


def model_for_bench(tmp: Path) -> tuple[str, str]:
    """The committed tiny model if present, else an untrained model of the same size."""
    from workers.models import TINY_CHECKPOINT

    if (TINY_CHECKPOINT / "config.json").is_file():
        return "tiny", "tiny (committed checkpoint)"
    import torch

    from workers.tinymodel.model import TinyDiffusionConfig, TinyDiffusionLM
    from workers.tinymodel.tokenizer import build_tokenizer

    tok = build_tokenizer()
    torch.manual_seed(0)
    cfg = TinyDiffusionConfig(vocab_size=len(tok), hidden_size=128, num_hidden_layers=6,
                              num_attention_heads=4, intermediate_size=512,
                              mask_token_id=tok.mask_token_id, pad_token_id=tok.pad_token_id,
                              eos_token_id=tok.eos_token_id)
    out = tmp / "model"
    TinyDiffusionLM(cfg).save_pretrained(out)
    tok.save_pretrained(out)
    return str(out), "untrained model of the tiny model's size (no committed checkpoint yet)"


def steady_rate(df: pl.DataFrame) -> float:
    """Jobs per second after every worker finished its first batch (start-up excluded)."""
    t = df.select("worker", pl.col("created_at").dt.epoch("us") / 1e6)
    first = t.group_by("worker").agg(pl.col("created_at").min())["created_at"].max()
    after = t.filter(pl.col("created_at") > first)
    span = after["created_at"].max() - first
    return after.height / span if span and span > 0 else float("nan")


def _loop(out: str, batches: list[JobBatch]) -> None:
    """One plain process running batches back to back (no Ray)."""
    w = SweepWorker(out, code_version(), threads=1)
    for b in batches:
        w.run(b)


def bench_throughput(model: str, batches: int, batch_size: int, workers: int, rounds: int,
                     tmp: Path) -> None:
    spec = SweepSpec(name="bench", models=[model],
                     tasks=[TaskSpec("countdown", limit=(batches * batch_size) // 16)],
                     samplers=[SamplerSpec("confidence", grid={"temperature": [1.0]})],
                     samples=16, batch_size=batch_size)
    plan = expand(spec)
    print(f"throughput: {plan.total} jobs (countdown, confidence, gen_length 24) in "
          f"{len(plan.batches)} batches of {batch_size}; model {model}", flush=True)

    r_loop = r_par = r_ray = 0.0
    walls = {"loop": 0.0, "par": 0.0, "ray": 0.0}
    for rnd in range(rounds):  # alternate, keep the best: other load on the machine comes and goes
        # (a) one in-process loop, one torch thread (what one Ray actor gets)
        loop_dir = tmp / f"loop{rnd}"
        t0 = time.perf_counter()
        _loop(str(loop_dir), plan.batches)
        walls["loop"] = time.perf_counter() - t0
        r_loop = max(r_loop, steady_rate(pl.read_parquet(f"{loop_dir}/shards/*.parquet")))

        # (b) N plain processes side by side (no Ray): what this machine allows right now
        par_dir = tmp / f"parallel{rnd}"
        ctx = mp.get_context("spawn")
        t0 = time.perf_counter()
        procs = [ctx.Process(target=_loop, args=(str(par_dir), plan.batches[i::workers]))
                 for i in range(workers)]
        for p in procs:
            p.start()
        for p in procs:
            p.join()
        walls["par"] = time.perf_counter() - t0
        r_par = max(r_par, steady_rate(pl.read_parquet(f"{par_dir}/shards/*.parquet")))

        # (c) the real driver: local Ray, N actors
        ray_dir = tmp / f"ray{rnd}"
        t0 = time.perf_counter()
        s = run_sweep(spec, str(ray_dir), workers=workers, progress=False, report=False, log=lambda m: None)
        walls["ray"] = time.perf_counter() - t0
        assert s.complete and s.ran == plan.total
        r_ray = max(r_ray, steady_rate(pl.read_parquet(f"{ray_dir}/shards/*.parquet")))
    loop_wall, par_wall, ray_wall = walls["loop"], walls["par"], walls["ray"]
    print(f"  1 in-process loop        : {r_loop:6.2f} jobs/s steady ({loop_wall:5.1f} s wall incl. model load)")
    print(f"  {workers} plain processes, no Ray: {r_par:6.2f} jobs/s steady ({par_wall:5.1f} s wall incl. imports)")
    print(f"  Ray driver, {workers} actors     : {r_ray:6.2f} jobs/s steady ({ray_wall:5.1f} s wall incl. Ray start-up)")
    print(f"  ratio Ray / 1 loop       : {r_ray / r_loop:.2f}x (target >= {0.9 * workers:.1f}x; the machine itself "
          f"gives {r_par / r_loop:.2f}x)")
    print(f"  ratio Ray / {workers} processes  : {r_ray / r_par:.2f}x (Ray's own overhead; 1.0 = none)", flush=True)


def bench_resume(model: str, jobs: int, tmp: Path) -> None:
    problems = -(-jobs // (2 * 16))
    spec = SweepSpec(name="resume", models=[model], tasks=[TaskSpec("countdown", limit=problems)],
                     samplers=[SamplerSpec("random"), SamplerSpec("confidence")], samples=16, batch_size=32)
    plan = expand(spec)
    d = SweepDir(str(tmp / "resume"))
    d.create()
    t0 = time.perf_counter()
    trace = Trace(nfe=24, forward_rows=24, bits=30.0, tokens=20)
    for b in plan.batches:  # synthetic shards, exactly as a finished sweep leaves them
        rb = RowBuilder(b, "synthetic", "bench")
        d.write(to_table([rb.sample(i, completion="1+2=3", correct=False, extracted="3", error=None,
                                    trace=trace, wall_s=0.1) for i in range(len(b))]))
    print(f"resume: {plan.total} jobs in {len(plan.batches)} shards (synthetic, written in "
          f"{time.perf_counter() - t0:.1f} s)", flush=True)
    t0 = time.perf_counter()
    scan = d.scan()
    t_scan = time.perf_counter() - t0
    t0 = time.perf_counter()
    s = run_sweep(spec, d.uri, progress=False, report=False, log=lambda m: None)
    t_resume = time.perf_counter() - t0
    assert s.ran == 0 and s.present_before == plan.total and s.complete and not scan.corrupt
    print(f"  scan only (full checksum verification): {t_scan:.2f} s")
    print(f"  rerun of the finished sweep (expand + scan + plan + final check): {t_resume:.2f} s "
          f"(target <= 10 s)", flush=True)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--batches", type=int, default=16, help="batches in the throughput run")
    p.add_argument("--batch-size", type=int, default=16)
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--rounds", type=int, default=2, help="alternating rounds; the best rate of each kind counts")
    p.add_argument("--resume-jobs", type=int, default=10240)
    p.add_argument("--skip-throughput", action="store_true")
    a = p.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="bench_sweep_"))
    try:
        model, what = model_for_bench(tmp)
        print(f"model: {what}; cores: {os.cpu_count()}; load average {os.getloadavg()[0]:.1f}")
        if not a.skip_throughput:
            bench_throughput(model, a.batches, a.batch_size, a.workers, a.rounds, tmp)
        bench_resume(model, a.resume_jobs, tmp)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
        if _RAY_TMP:
            shutil.rmtree(_RAY_TMP, ignore_errors=True)


if __name__ == "__main__":
    main()
