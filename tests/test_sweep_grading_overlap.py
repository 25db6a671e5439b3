"""Grading off the device's critical path (workers/actor.py, workers/grading_pool.py): an actor
generates one batch while the previous one is graded, and a batch is written only when its grades
are in — so a SIGKILL between generation and grading loses no job and duplicates none."""
from __future__ import annotations

import collections
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import polars as pl
import pytest

from sweeps.engine.driver import INJECT_ENV
from sweeps.engine.spec import expand, load_spec
from workers.grading_pool import GradingPool
from workers.shards import shard_filename

ROOT = Path(__file__).resolve().parent.parent


class _Task:
    def grade(self, problem, text):
        return (problem, text)


def test_the_pool_grades_in_order():
    pool = GradingPool(workers=3)
    assert pool.grade(_Task(), [1, 2, 3, 4], "abcd") == [(1, "a"), (2, "b"), (3, "c"), (4, "d")]


@pytest.mark.slow
def test_sigkill_between_generation_and_grading_then_resume_every_job_once(ray_address, small_model_dir, tmp_path):
    spec_path = tmp_path / "spec.yaml"
    spec_path.write_text(json.dumps({
        "name": "gradekill", "models": [small_model_dir],
        "tasks": [{"name": "countdown", "limit": 4, "gen_length": 8, "block_length": 8}],
        "samplers": ["confidence"], "samples": 2, "batch_size": 2}))
    plan = expand(load_spec(spec_path))
    out, marks = tmp_path / "out", tmp_path / "marks"
    marks.mkdir()
    cmd = [sys.executable, "-m", "sweeps.run", str(spec_path), "--out", str(out), "--address", ray_address,
           "--workers", "1", "--no-progress", "--no-report"]
    env = {**os.environ, INJECT_ENV: json.dumps({"grade_sleep": 30, "dir": str(marks)})}
    p = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 120
    while p.poll() is None and not list(marks.glob("generated-*")) and time.monotonic() < deadline:
        time.sleep(0.05)
    os.kill(p.pid, signal.SIGKILL)
    p.wait()
    generated = [m.name.removeprefix("generated-") for m in marks.glob("generated-*")]
    assert generated, "no batch reached grading"
    # the kill landed between generation and grading: those batches have samples but no shard
    by_key = {b.key: b for b in plan.batches}
    assert not any((out / "shards" / shard_filename(by_key[k].job_ids)).exists() for k in generated)
    final = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert final.returncode == 0, final.stdout + final.stderr
    ids = collections.Counter(pl.read_parquet(f"{out}/shards/*.parquet", columns=["job_id"])["job_id"].to_list())
    assert set(ids) == set(plan.job_ids()), "jobs lost"
    assert max(ids.values()) == 1, "a job was written twice"
