"""A simulated multi-node cluster (ray.cluster_utils.Cluster): a worker node dies mid-sweep."""
from __future__ import annotations

import collections
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import polars as pl
import pytest

from sweeps.driver import INJECT_ENV
from sweeps.spec import expand, load_spec

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.slow
def test_removing_a_worker_node_mid_sweep_loses_and_duplicates_nothing(small_model_dir, tmp_path):
    from ray.cluster_utils import Cluster

    # Head for the driver only; two worker nodes with 2 CPU slots each, so the actor of the
    # removed node can restart on the survivor.  SPREAD puts one actor on each worker node.
    cluster = Cluster(initialize_head=True, head_node_args={"num_cpus": 0, "include_dashboard": False})
    try:
        nodes = [cluster.add_node(num_cpus=2) for _ in range(2)]
        spec_path = tmp_path / "spec.yaml"
        spec_path.write_text(json.dumps({
            "name": "nodeloss", "models": [small_model_dir],
            "tasks": [{"name": "countdown", "limit": 8, "gen_length": 8, "block_length": 8}],
            "samplers": [{"name": "random"}, {"name": "confidence"}], "samples": 4, "batch_size": 2}))
        plan = expand(load_spec(spec_path))
        out = tmp_path / "out"
        env = {**os.environ, INJECT_ENV: json.dumps({"sleep": 0.4})}
        cmd = [sys.executable, "-m", "sweeps.run", str(spec_path), "--out", str(out), "--address",
               cluster.address, "--workers", "2", "--no-progress", "--no-report"]
        p = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        t_end = time.monotonic() + 120
        while p.poll() is None and time.monotonic() < t_end:
            if len(list((out / "shards").glob("shard-*.parquet"))) >= 4 if (out / "shards").exists() else False:
                break
            time.sleep(0.05)
        assert p.poll() is None, "the sweep ended before a node could be removed"
        cluster.remove_node(nodes[0], allow_graceful=False)
        log, _ = p.communicate(timeout=240)
        assert p.returncode == 0, log
        # the lost node's in-flight batch failed and was re-run (by Ray's retry or the driver)
        assert "retries remaining" in log or "one by one" in log, log
        df = pl.read_parquet(f"{out}/shards/*.parquet", columns=["job_id", "worker", "error"])
        ids = collections.Counter(df["job_id"].to_list())
        assert set(ids) == set(plan.job_ids()) and max(ids.values()) == 1, log
        assert df["worker"].n_unique() >= 2, log
    finally:
        cluster.shutdown()
