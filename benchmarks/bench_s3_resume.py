"""Benchmark (not a test): the resume scan of a finished 100k-job sweep on a local S3 server.

Starts moto's S3 server on 127.0.0.1 (``moto[server]``, the test extra), writes a finished sweep
of synthetic shards there (exactly as workers leave them, 32 jobs per shard), then times, through
pyarrow's S3FileSystem as a cluster driver uses it:

1. the resume scan the driver runs on an object store: list ``shards/``, then per shard the
   footer and the job_id column only (``SweepDir.scan(full=False)``), 8 requests in flight;
2. the same scan reading and checksum-verifying every column (``full=True``), for contrast;
3. a whole rerun of the finished sweep (``run_sweep``: expand, lock, scan, plan, status file,
   final check; no Ray needed since nothing is left to run).

Bytes read per shard are counted in (1) and (2) on a sample, in a separate untimed pass.  Small
shards are read whole either way (pyarrow fetches the last 64 KiB to find the footer): there the
scan's cost is its requests, not its bytes; job_id-only pays off as shards grow (tests/test_sweep_s3.py).  moto is a Python server on this machine, so request
latency is far below real S3's (~10-30 ms per request from EC2 in-region, so expect several times
slower there at the same concurrency; the scan's thread count is the knob).

    python -m benchmarks.bench_s3_resume                 # 100,000 jobs; ~2-4 minutes on 2 cores
    python -m benchmarks.bench_s3_resume --jobs 20000
"""
from __future__ import annotations

import argparse
import os
import time
from concurrent.futures import ThreadPoolExecutor

from workers import testing as s3_server  # the loopback S3 server the tests use too

s3_server.configure_env()  # AWS_ENDPOINT_URL -> loopback, dummy credentials: never real AWS

from sweeps.engine.driver import run_sweep  # noqa: E402
from sweeps.engine.spec import SamplerSpec, SweepSpec, TaskSpec, expand  # noqa: E402
from workers.rows import RowBuilder, to_table  # noqa: E402
from workers.samplers.base import Trace  # noqa: E402
from workers.shards import SweepDir  # noqa: E402


def _counting(d: SweepDir) -> s3_server.CountingFS:
    """Route ``d``'s reads through a byte counter."""
    import pyarrow.fs as pafs

    box = s3_server.CountingFS(d.fs)
    d.fs = pafs.PyFileSystem(box)
    return box


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--jobs", type=int, default=100_000)
    p.add_argument("--batch-size", type=int, default=32, help="jobs per shard (the spec default)")
    p.add_argument("--threads", type=int, default=8, help="scan requests in flight")
    a = p.parse_args()
    server = s3_server.start(os.environ["AWS_ENDPOINT_URL"])
    try:
        bucket = server.bucket("bench")
        def make(problems: int, samples: int) -> SweepSpec:
            return SweepSpec(name="resume100k", models=["tiny"], tasks=[TaskSpec("countdown", limit=problems)],
                             samplers=[SamplerSpec("random"), SamplerSpec("confidence")], samples=samples,
                             batch_size=a.batch_size)

        # the bundled countdown set has a fixed number of problems: scale the seeds to reach --jobs
        have = len({p for b in expand(make(10**6, 1), check_models=False).batches for p in b.problem_ids})
        spec = make(have, -(-a.jobs // (2 * have)))
        plan = expand(spec, check_models=False)
        out = f"s3://{bucket}/runs/resume100k"
        d = SweepDir(out)
        d.create()
        trace = Trace(nfe=24, forward_rows=24, bits=30.0, tokens=20)

        def write(b):
            rb = RowBuilder(b, "synthetic", "bench")
            d.write(to_table([rb.sample(i, completion="12+3*4=24", correct=False, extracted="24", error=None,
                                        trace=trace, wall_s=0.1) for i in range(len(b))]))

        t0 = time.perf_counter()
        with ThreadPoolExecutor(8) as pool:
            list(pool.map(write, plan.batches))
        sizes = [i.size for i in d.fs.get_file_info(d.list_shards())]
        print(f"sweep: {plan.total} jobs in {len(plan.batches)} shards on the local S3 server "
              f"(moto, {server.endpoint}); {sum(sizes) / 2**20:.1f} MiB, written in "
              f"{time.perf_counter() - t0:.1f} s", flush=True)

        shards = d.list_shards()
        for full in (False, True):
            dd = SweepDir(out)
            t0 = time.perf_counter()
            scan = dd.scan(full=full, threads=a.threads)
            dt = time.perf_counter() - t0
            assert len(scan.ids) == plan.total and not scan.corrupt
            # bytes read: a separate pass over a sample through a counter (not timed)
            box = _counting(dd)
            sample = shards[:: max(1, len(shards) // 200)]
            for path in sample:
                dd.check_shard(path, full)
            per = box.bytes / len(sample)
            what = "every column, checksums verified" if full else "footer + job_id column only (the driver's resume scan)"
            print(f"  scan, {what}: {dt:.1f} s; {per / 1024:.1f} KiB read per shard of "
                  f"{sum(sizes) / len(sizes) / 1024:.1f} KiB", flush=True)

        t0 = time.perf_counter()
        s = run_sweep(spec, out, progress=False, report=False, check_models=False, log=lambda m: None)
        dt = time.perf_counter() - t0
        assert s.ran == 0 and s.present_before == plan.total and s.complete
        print(f"  rerun of the finished sweep (expand + lock + scan + plan + status + final check): "
              f"{dt:.1f} s", flush=True)
    finally:
        server.stop()


if __name__ == "__main__":
    main()
