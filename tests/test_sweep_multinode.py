"""A simulated multi-node run (ray.cluster_utils.Cluster: a head and two worker nodes, each with
its own resources) writing to the local S3 server: a worker node is removed mid-sweep and a new
one added; every job lands exactly once."""
from __future__ import annotations

import collections
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from sweeps.engine.driver import INJECT_ENV
from sweeps.engine.spec import expand, load_spec
from workers.shards import SweepDir

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.slow
def test_a_node_lost_and_one_added_mid_sweep_on_s3(s3_server, small_model_dir, tmp_path):
    from ray.cluster_utils import Cluster

    from analysis import load_samples

    # The head only hosts the driver (0 CPUs).  One CPU slot per worker node: the actor of the
    # removed node cannot restart on the survivor (busy with the other actor), only on the node
    # added afterwards -- so the new node demonstrably does work.  The cluster's processes
    # inherit the AWS_* variables pointing at the loopback S3 server (tests/s3_server.py).
    # Fast failure detection (as a cloud cluster's node-death signal would be): the lost node is
    # declared dead in ~2 s, so its actor restarts on the added node while work remains.
    fast = {"health_check_initial_delay_ms": 0, "health_check_period_ms": 500,
            "health_check_timeout_ms": 500, "health_check_failure_threshold": 3}
    cluster = Cluster(initialize_head=True, head_node_args={"num_cpus": 0, "include_dashboard": False,
                                                            "_system_config": fast})
    p = None
    try:
        nodes = [cluster.add_node(num_cpus=1, resources={f"node{i}": 1}) for i in range(2)]
        spec_path = tmp_path / "spec.yaml"
        spec_path.write_text(json.dumps({
            "name": "nodeloss", "models": [small_model_dir],
            "tasks": [{"name": "countdown", "limit": 8, "gen_length": 8, "block_length": 8}],
            "samplers": [{"name": "random"}, {"name": "confidence"}], "samples": 4, "batch_size": 2}))
        plan = expand(load_spec(spec_path))
        out = f"s3://{s3_server.bucket('multinode')}/nodeloss"
        d = SweepDir(out)
        env = {**os.environ, INJECT_ENV: json.dumps({"sleep": 1.0})}
        cmd = [sys.executable, "-m", "sweeps.run", str(spec_path), "--out", out, "--address",
               cluster.address, "--workers", "2", "--no-progress", "--no-report"]
        p = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        t_end = time.monotonic() + 180
        while p.poll() is None and len(d.list_shards()) < 3 and time.monotonic() < t_end:
            time.sleep(0.1)
        assert p.poll() is None, "the sweep ended before a node could be removed: " + p.communicate()[0]
        cluster.remove_node(nodes[0], allow_graceful=False)
        cluster.add_node(num_cpus=1, resources={"node2": 1})
        log, _ = p.communicate(timeout=400)
        Path(os.environ.get("HORCH_LOG", os.devnull)).write_text(log)
        assert p.returncode == 0, log
        df = load_samples(out).collect()
        ids = collections.Counter(df["job_id"].to_list())
        assert set(ids) == set(plan.job_ids()) and max(ids.values()) == 1, log
        # two original actors plus the lost node's actor restarted on the added node
        assert df["worker"].n_unique() >= 3, (df["worker"].unique().to_list(), log)
        assert "retries remaining" in log or "one by one" in log, log  # the lost batch was redone
    finally:
        if p is not None and p.poll() is None:
            p.kill()
        cluster.shutdown()
