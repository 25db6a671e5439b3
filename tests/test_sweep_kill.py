"""Kill -9 the driver at random moments, rerun each time: every job ends up exactly once."""
from __future__ import annotations

import collections
import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import polars as pl
import pytest

from sweeps.engine.driver import INJECT_ENV
from sweeps.engine.spec import expand, load_spec

ROOT = Path(__file__).resolve().parent.parent


def _shards(out: Path) -> int:
    d = out / "shards"
    return len([p for p in d.glob("shard-*.parquet")]) if d.exists() else 0


@pytest.mark.slow
def test_kill_driver_at_random_moments_then_resume(ray_address, small_model_dir, tmp_path):
    spec_path = tmp_path / "spec.yaml"
    spec_path.write_text(json.dumps({
        "name": "killme", "models": [small_model_dir],
        "tasks": [{"name": "countdown", "limit": 10, "gen_length": 8, "block_length": 8}],
        "samplers": [{"name": "confidence", "grid": {"temperature": [0.5, 1.0]}}],
        "samples": 4, "batch_size": 2}))
    plan = expand(load_spec(spec_path))
    out = tmp_path / "out"
    cmd = [sys.executable, "-m", "sweeps.run", str(spec_path), "--out", str(out), "--address", ray_address,
           "--workers", "2", "--no-progress", "--no-report"]
    # Each batch takes >= 0.4 s, so a kill lands while batches are in flight or being written.
    env = {**os.environ, INJECT_ENV: json.dumps({"sleep": 0.4})}
    rng = random.Random(20251125)
    log = open(tmp_path / "driver.log", "w")
    kills, moments = 0, []
    for attempt in range(6):
        before = _shards(out)
        t0 = time.monotonic()
        p = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
        if attempt % 2 == 0:  # anywhere from start-up to mid-sweep
            deadline = time.monotonic() + rng.uniform(0.5, 12.0)
        else:  # surely mid-sweep: after this run's first shard appeared
            t_end = time.monotonic() + 60
            while p.poll() is None and _shards(out) == before and time.monotonic() < t_end:
                time.sleep(0.05)
            deadline = time.monotonic() + rng.uniform(0.0, 1.2)
        while p.poll() is None and time.monotonic() < deadline:
            time.sleep(0.02)
        if p.poll() is None:
            os.kill(p.pid, signal.SIGKILL)
            kills += 1
            moments.append(_shards(out))
        p.wait()
        print(f"attempt {attempt}: {time.monotonic() - t0:.1f}s, shards {_shards(out)}", flush=True)
    assert kills >= 5, f"only {kills} kills landed"
    assert any(0 < m < len(plan.batches) for m in moments), moments  # some kills were mid-sweep
    final = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert final.returncode == 0, final.stdout + final.stderr
    ids = collections.Counter(pl.read_parquet(f"{out}/shards/*.parquet", columns=["job_id"])["job_id"].to_list())
    assert set(ids) == set(plan.job_ids()), "jobs lost"
    assert max(ids.values()) == 1, "a job was written twice"
    assert not list((out / "shards").glob(".*.tmp"))
