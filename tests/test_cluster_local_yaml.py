"""cluster-local.yaml (Ray's local provider, SSH hosts) is a valid launcher config whose start
commands cannot stop another user's Ray: Ray runs in its own named container, on non-default ports."""
from __future__ import annotations

import copy
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent


def _config() -> dict:
    return yaml.safe_load((ROOT / "cluster-local.yaml").read_text())


def test_cluster_local_yaml_passes_rays_own_validation():
    from ray.autoscaler._private.util import prepare_config, validate_config

    cfg = _config()
    assert cfg["provider"]["type"] == "local"
    prepared = prepare_config(copy.deepcopy(cfg))
    validate_config(prepared)
    head = next(c for c in cfg["head_start_ray_commands"] if "ray start" in c)
    assert "--num-cpus=0" in head and "--num-gpus=0" in head  # the head only hosts the driver


def test_ray_stop_only_ever_runs_inside_this_clusters_own_container():
    cfg = _config()
    docker = cfg.get("docker") or {}
    assert docker.get("container_name") not in (None, "", "ray_container")  # not Ray's default name
    starts = cfg["head_start_ray_commands"] + cfg["worker_start_ray_commands"]
    assert any("ray stop" in c for c in starts) <= bool(docker)  # ray stop only inside a container
    assert not any("--force" in c for c in starts)
    for c in starts:
        if "ray start" in c:
            assert "6379" not in c and "8265" not in c  # the ports another Ray on the host holds
