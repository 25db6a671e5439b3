"""The pool grows with a real autoscaler (issue 27): a Ray cluster made with Ray's own fake
multi-node provider, whose head offers no CPU (as `ray up` leaves it: the GPU nodes come later)
and whose worker type starts at 0 nodes and may reach 4.  `python sweeps/pareto.py --smoke
--address …` must make the autoscaler add nodes, put its actors on at least three of them at
once, never on the head, and write every job exactly once.

The cluster runs in its own PID, mount and network namespaces (`unshare`): its GCS port is
private, `/tmp/ray` is a folder of the test's own, and when the namespace's first process exits
the kernel ends every process the cluster started and nothing else.  (`AutoscalingCluster` is not
used: it runs `ray stop --force`, which would end every Ray process on the machine.)
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
WORKER_TYPE, MAX_NODES = "cpu_worker", 4

# Ray's fake_multinode provider: each "node" is a raylet (and its workers) on this machine.
CONFIG = {
    "cluster_name": "dllm-fake",
    "max_workers": MAX_NODES,
    "provider": {"type": "fake_multinode", "use_node_id_as_ip": True, "disable_node_updaters": True,
                 "disable_launch_config_check": True, "launch_multiple": True},
    "head_node_type": "ray.head.default",
    "available_node_types": {
        "ray.head.default": {"resources": {"CPU": 0}, "node_config": {}, "max_workers": 0},
        WORKER_TYPE: {"resources": {"CPU": 1, "object_store_memory": 100_000_000}, "node_config": {},
                      "min_workers": 0, "max_workers": MAX_NODES},
    },
    "upscaling_speed": 1.0, "idle_timeout_minutes": 1, "auth": {"ssh_user": "ubuntu"}, "docker": {},
    "file_mounts": {}, "cluster_synced_files": [], "initialization_commands": [], "setup_commands": [],
    "head_setup_commands": [], "worker_setup_commands": [], "head_start_ray_commands": [],
    "worker_start_ray_commands": [],
}

# Runs as PID 1 of the namespaces.  A per-batch sleep (the tests' fault injection) makes each
# batch last like a GPU batch, so nodes that arrive while the sweep runs get work.
INNER = r"""
set -eu
ip link set lo up
mount --bind "$TMP/raytmp" /tmp/ray
export RAY_FAKE_CLUSTER=1 AUTOSCALER_UPDATE_INTERVAL_S=1 RAY_USAGE_STATS_ENABLED=0
"$BIN/ray" start --head --num-cpus=0 --num-gpus=0 --port=6379 --autoscaling-config="$TMP/cluster.yaml" \
    --include-dashboard=true --dashboard-host=127.0.0.1 --dashboard-port=8265 > "$TMP/head.log" 2>&1
set +e
"$BIN/python" - "$TMP/watch.jsonl" "$TMP/stop" <<'PY' > "$TMP/watch.log" 2>&1 &
# Every second, the worker actors alive now and their nodes (Ray's state API, as the dashboard).
import json, os, sys, time
import ray
from ray.util.state import list_actors, list_nodes
ray.init(address="127.0.0.1:6379", logging_level="ERROR")
with open(sys.argv[1], "a") as f:
    while not os.path.exists(sys.argv[2]):
        alive = list_actors(filters=[("class_name", "=", "SweepWorker"), ("state", "=", "ALIVE")],
                            detail=True, limit=1000)
        heads = [n.node_id for n in list_nodes(limit=100) if n.is_head_node]
        f.write(json.dumps(dict(t=time.time(), heads=heads,
                                alive=[dict(node=a.node_id, pid=a.pid) for a in alive])) + "\n")
        f.flush()
        time.sleep(1)
PY
watcher=$!
DLLM_AUTOSCALING_CONFIG="$TMP/cluster.yaml" DLLM_WAIT_TIMEOUT=600 DLLM_SWEEPS_INJECT='{"sleep": 4}' \
    "$BIN/python" sweeps/pareto.py --smoke --address 127.0.0.1:6379 --out "$TMP/out" --batch-size 6 \
    --no-report --no-progress > "$TMP/sweep.log" 2>&1
echo $? > "$TMP/sweep.rc"
touch "$TMP/stop"
wait $watcher
"""


def _namespaces_work() -> bool:
    if not shutil.which("unshare") or not shutil.which("ip"):
        return False
    probe = subprocess.run(["unshare", "--net", "--pid", "--fork", "--mount-proc", "true"],
                           capture_output=True, timeout=30)
    return probe.returncode == 0


@pytest.mark.slow
@pytest.mark.skipif(not _namespaces_work(), reason="needs unshare (PID, mount and network namespaces) and ip")
def test_the_pool_grows_with_the_autoscaler_and_never_uses_the_head(tmp_path):
    from analysis import load_samples

    (tmp_path / "raytmp").mkdir()
    (tmp_path / "cluster.yaml").write_text(yaml.safe_dump(CONFIG))
    os.makedirs("/tmp/ray", exist_ok=True)   # the mount point; the cluster's files go to tmp_path
    env = dict(os.environ, TMP=str(tmp_path), BIN=str(Path(sys.executable).parent))
    for k in [k for k in env if k.startswith("RAY_")]:
        env.pop(k)   # never the test session's own Ray
    subprocess.run(["unshare", "--net", "--pid", "--fork", "--mount-proc", "--kill-child",
                    "bash", "-c", INNER], cwd=ROOT, env=env, timeout=900, check=True)  # ~60 s quiet, 330 s on 2 busy cores
    log = (tmp_path / "sweep.log").read_text()
    assert (tmp_path / "sweep.rc").read_text().strip() == "0", log[-3000:]

    # every job once
    df = load_samples(str(tmp_path / "out")).collect()
    assert df.height == 60 and df["job_id"].n_unique() == 60, log[-3000:]

    seen = [json.loads(line) for line in (tmp_path / "watch.jsonl").read_text().splitlines()]
    assert seen, (tmp_path / "watch.log").read_text()[-2000:]
    head = {h for s in seen for h in s["heads"]}
    on = [{a["node"] for a in s["alive"]} for s in seen]
    # never on the head (it offers no CPU: Ray could not, and the driver must not ask it to)
    assert head and not any(nodes & head for nodes in on)
    # the autoscaler added nodes for the pending actors: at least three actors on three nodes at once
    assert max(len(nodes) for nodes in on) >= 3, [sorted(n)[:4] for n in on]
    # and the rows came from actors on at least three worker nodes
    node_of_pid = {a["pid"]: a["node"] for s in seen for a in s["alive"]}
    writers = {node_of_pid.get(int(w.rsplit(":", 1)[1])) for w in df["worker"].unique().to_list()}
    assert len(writers - {None}) >= 3 and not writers & head, (writers, log[-2000:])
