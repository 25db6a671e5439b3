"""A Ray sweep over an lm-eval task (``lm_eval:<task>``) with two samplers, killed and resumed:
every job is written exactly once, with lm-eval's scoring in ``correct`` / ``score``."""
from __future__ import annotations

import collections
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytest.importorskip("lm_eval")

import polars as pl  # noqa: E402

from lmeval_helpers import local_task_dir  # noqa: E402
from sweeps.engine.driver import INJECT_ENV  # noqa: E402
from sweeps.engine.spec import expand, load_spec  # noqa: E402
from workers.tasks import load_task  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.slow
def test_lm_eval_sweep_killed_then_resumed_writes_every_job_once(ray_address, tmp_path):
    tasks_dir = local_task_dir(tmp_path)
    spec_path = tmp_path / "spec.yaml"
    spec_path.write_text(json.dumps({
        "name": "lme-kill", "models": ["tiny"],
        "tasks": [{"name": "lm_eval:arith_mini", "limit": 4, "args": {"include_path": tasks_dir, "num_fewshot": 0}}],
        "samplers": [{"name": "confidence", "params": {"temperature": 0.7}}, {"name": "entropy"}],
        "samples": 1, "batch_size": 2}))
    plan = expand(load_spec(spec_path))
    out = tmp_path / "out"
    cmd = [sys.executable, "-m", "sweeps.run", str(spec_path), "--out", str(out), "--address", ray_address,
           "--workers", "2", "--no-progress", "--no-report"]
    env = {**os.environ, INJECT_ENV: json.dumps({"sleep": 0.3})}
    shards = out / "shards"
    with open(tmp_path / "driver.log", "w") as log:
        p = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
        t_end = time.monotonic() + 120
        while p.poll() is None and not list(shards.glob("shard-*.parquet")) and time.monotonic() < t_end:
            time.sleep(0.05)
        assert p.poll() is None, (tmp_path / "driver.log").read_text()[-2000:]
        os.kill(p.pid, signal.SIGKILL)          # mid-sweep: at least one shard, not all of them
        p.wait()
    written = len(list(shards.glob("shard-*.parquet")))
    assert 0 < written < len(plan.batches)
    final = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert final.returncode == 0, final.stdout + final.stderr
    df = pl.read_parquet(f"{shards}/*.parquet")
    ids = collections.Counter(df["job_id"].to_list())
    assert set(ids) == set(plan.job_ids()) and max(ids.values()) == 1
    assert set(df["sampler"]) == {"confidence", "entropy"} and df["error"].null_count() == df.height
    # lm-eval's scoring: score is the task's metric, correct its 0/1 reading, and both agree with the
    # project's own arith grader on the completion cut at the task's stop string
    assert df["score"].null_count() == 0 and (df["correct"] == (df["score"] == 1.0)).all()
    task = load_task("lm_eval:arith_mini", include_path=tasks_dir, num_fewshot=0)
    grader = load_task("arith")
    for row in df.iter_rows(named=True):
        own = grader.get(task._inst[row["problem_id"]].doc["problem_id"])
        assert grader.grade(own, row["completion"].split("\n")[0]).correct == row["correct"]
    assert df["correct"].sum() >= df.height // 2      # the tiny model does arith: not a vacuous check
