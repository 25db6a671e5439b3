"""`ray up cluster-local.yaml` brings a cluster up over SSH, and a sweep submitted as a Ray job
(the way docs/cluster.md says to run overnight) writes every job once (issue 27, on-prem).

Two "hosts" on this machine: network namespaces h1 (head, 10.99.0.1) and h2 (GPU host,
10.99.0.2) joined by a bridge, each with its own sshd on port 22, so each Ray node has its own
address and ports, as on two machines.  Everything runs inside private PID, mount and network
namespaces (`unshare`): the home directory is an overlay whose writes go to a tmpfs (`ray up`
leaves `~/ray_bootstrap_config.yaml` there, which the pool would read), `/tmp/ray` is private,
and when the namespace's first process exits the kernel ends every process the cluster started.

What is changed from cluster-local.yaml, and why: the addresses and ssh key; no docker (no
engine here) and hence, as the yaml's comments say for docker-less hosts, no `ray stop`; `ray`
is this environment's own binary; the setup commands, which `pip install` the checkout, are
replaced by a check that `ray up` copied it (both hosts share this machine's environment).
Ports, the head's `--num-cpus=0 --num-gpus=0`, file mounts and rsync filter are the yaml's own.
Needs sshd, rsync, unshare and ip (`.ci/run` installs openssh-server and rsync where it can);
skipped otherwise.
"""
from __future__ import annotations

import getpass
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
SSHD = "/usr/sbin/sshd"
HEAD, WORKER = "10.99.0.1", "10.99.0.2"

INNER = r"""
set -eu
ip link set lo up
mount -t tmpfs tmpfs "$TMP/ov"
mkdir -p "$TMP/ov/up" "$TMP/ov/work" "$TMP/ov/ray" /run/sshd /run/netns
mount -t overlay overlay -o lowerdir="$HOME",upperdir="$TMP/ov/up",workdir="$TMP/ov/work" "$HOME"
mount --bind "$TMP/ov/ray" /tmp/ray
mount -t tmpfs tmpfs /run/netns
ip link add br0 type bridge
ip addr add 10.99.0.254/24 dev br0
ip link set br0 up
for i in 1 2; do
  ip netns add h$i
  ip link add v$i type veth peer name e$i
  ip link set e$i netns h$i
  ip link set v$i master br0
  ip link set v$i up
  ip netns exec h$i ip link set lo up
  ip netns exec h$i ip addr add 10.99.0.$i/24 dev e$i
  ip netns exec h$i ip link set e$i up
  ip netns exec h$i ip route add default via 10.99.0.254   # Ray finds its address by this route
  ip netns exec h$i "$SSHD" -f "$TMP/sshd_config" -E "$TMP/sshd$i.log"
done
set +e
t0=$(date +%s.%N)
"$BIN/ray" up -y --no-config-cache "$TMP/cluster.yaml" > "$TMP/up.log" 2>&1
echo $? > "$TMP/up.rc"
t1=$(date +%s.%N)
"$BIN/python" - "$TMP/out/shards" "$TMP/first_rows" <<'PY' &
import os, sys, time
t0 = time.time()
while time.time() - t0 < 400:
    if os.path.isdir(sys.argv[1]) and any(f.endswith(".parquet") for f in os.listdir(sys.argv[1])):
        open(sys.argv[2], "w").write(str(time.time()))
        break
    time.sleep(0.5)
PY
"$BIN/ray" job submit --address "http://10.99.0.1:8275" --working-dir . \
    --runtime-env-json '{"env_vars": {"DLLM_WAIT_TIMEOUT": "400"}}' -- \
    "$BIN/python" sweeps/pareto.py --smoke --out "$TMP/out" --no-report --no-progress > "$TMP/job.log" 2>&1
echo $? > "$TMP/job.rc"
wait
"$BIN/ray" exec "$TMP/cluster.yaml" "$BIN/ray status --address 10.99.0.1:6390" > "$TMP/status.log" 2>&1
echo "{\"start\": $t0, \"head_up\": $t1}" > "$TMP/times.json"
"""


def _tools_here() -> bool:
    if not all(shutil.which(t) for t in ("unshare", "ip", "rsync", "ssh", "ssh-keygen")) or not os.path.exists(SSHD):
        return False
    probe = subprocess.run(["unshare", "--net", "--pid", "--mount", "--fork", "--mount-proc", "bash", "-c",
                            "ip link add br9 type bridge && mount -t tmpfs tmpfs /mnt"],
                           capture_output=True, timeout=30)
    return probe.returncode == 0


def local_cluster_config(key: Path, bin_dir: Path) -> dict:
    """cluster-local.yaml for the two namespace hosts, changed only where the docstring says."""
    cfg = yaml.safe_load((ROOT / "cluster-local.yaml").read_text())
    cfg["provider"].update(head_ip=HEAD, worker_ips=[WORKER])
    cfg["auth"] = {"ssh_user": getpass.getuser(), "ssh_private_key": str(key)}
    assert cfg.pop("docker")["container_name"] != "ray_container"
    assert any("pip install" in c and "~/dllm-sweeps" in c for c in cfg["setup_commands"])
    cfg["setup_commands"] = ["test -f ~/dllm-sweeps/sweeps/pareto.py && test -f ~/dllm-sweeps/cluster-local.yaml"]

    def own_ray(cmds: list[str]) -> list[str]:
        kept = [c for c in cmds if c.strip() != "ray stop"]
        return [re.sub(r"(^|[;\s])ray start", rf"\1{bin_dir}/ray start", c) for c in kept]

    cfg["head_start_ray_commands"] = own_ray(cfg["head_start_ray_commands"])
    cfg["worker_start_ray_commands"] = own_ray(cfg["worker_start_ray_commands"])
    return cfg


@pytest.mark.slow
@pytest.mark.skipif(not _tools_here(), reason="needs sshd, rsync, unshare and ip (network namespaces, a bridge)")
def test_ray_up_of_cluster_local_yaml_over_ssh_runs_a_sweep_job(tmp_path):
    from analysis import load_samples

    for name in ("id", "hostkey"):
        subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(tmp_path / name)], check=True)
    shutil.copy(tmp_path / "id.pub", tmp_path / "authorized_keys")
    (tmp_path / "sshd_config").write_text(
        f"ListenAddress 0.0.0.0\nPort 22\nHostKey {tmp_path}/hostkey\n"
        f"AuthorizedKeysFile {tmp_path}/authorized_keys\nPermitRootLogin prohibit-password\n"
        "PasswordAuthentication no\nStrictModes no\nUsePAM no\nPidFile none\n")
    bin_dir = Path(sys.executable).parent
    (tmp_path / "cluster.yaml").write_text(yaml.safe_dump(local_cluster_config(tmp_path / "id", bin_dir)))
    (tmp_path / "ov").mkdir()
    os.makedirs("/tmp/ray", exist_ok=True)   # a mount point; the cluster's files go to a tmpfs
    env = {k: v for k, v in os.environ.items() if not k.startswith("RAY_")}
    env.update(TMP=str(tmp_path), BIN=str(bin_dir), SSHD=SSHD, HOME=str(Path.home()))
    subprocess.run(["unshare", "--net", "--pid", "--mount", "--fork", "--mount-proc", "--kill-child",
                    "bash", "-c", INNER], cwd=ROOT, env=env, timeout=900, check=True)

    def log(name: str) -> str:
        p = tmp_path / name
        return p.read_text()[-3000:] if p.exists() else f"({name} missing)"

    assert log("up.rc").strip() == "0", log("up.log")
    assert log("job.rc").strip() == "0", log("job.log") + log("status.log")
    assert "succeeded" in log("job.log").lower()
    df = load_samples(str(tmp_path / "out")).collect()
    assert df.height == 60 and df["job_id"].n_unique() == 60
    # both hosts joined: the head (no CPU for actors, --num-cpus=0) and the worker host the autoscaler started
    assert re.search(r"\b2 local\.cluster\.node", log("status.log")), log("status.log")
    times = json.loads((tmp_path / "times.json").read_text())
    first = float((tmp_path / "first_rows").read_text())
    print(f"\nray up {times['head_up'] - times['start']:.0f} s; ray up -> first rows "
          f"{first - times['start']:.0f} s")
