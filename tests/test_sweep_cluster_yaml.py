"""cluster.yaml is a real Ray cluster-launcher config: it validates against the schema in ray."""
from __future__ import annotations

import copy
import json
import os
from pathlib import Path

import jsonschema
import yaml

ROOT = Path(__file__).resolve().parent.parent


def _config() -> dict:
    return yaml.safe_load((ROOT / "cluster.yaml").read_text())


def test_cluster_yaml_passes_rays_own_validation():
    from ray.autoscaler._private.util import prepare_config, validate_config

    prepared = prepare_config(copy.deepcopy(_config()))  # merges ray's AWS defaults, offline
    validate_config(prepared)
    assert prepared["head_node_type"] in prepared["available_node_types"]


def test_cluster_yaml_matches_the_shipped_json_schema():
    import ray.autoscaler

    schema = json.loads((Path(ray.autoscaler.__file__).parent / "ray-schema.json").read_text())
    jsonschema.validate(_config(), schema)


def test_cluster_yaml_has_gpu_workers_and_installs_the_project():
    cfg = _config()
    types = cfg["available_node_types"]
    gpu = [t for t in types.values() if t.get("resources", {}).get("GPU")]
    assert gpu and all(isinstance(v, int) for t in types.values() for v in t.get("resources", {}).values())
    assert all(0 <= t["min_workers"] <= t["max_workers"] for t in gpu)
    assert cfg["provider"]["type"] == "aws"
    mounts = cfg["file_mounts"]
    repo = [remote for remote, local in mounts.items() if os.path.normpath(local) == "."]
    assert repo, "the checkout must be copied to the nodes"
    assert any(f"pip install" in c and repo[0] in c for c in cfg["setup_commands"])


def test_the_cluster_extra_makes_rays_aws_launcher_importable():
    """What `pip install -e '.[cluster]'` must give: `ray up` with an AWS provider imports
    (ray raises "requires Boto3" otherwise), and `ray up --help` runs."""
    import subprocess
    import sys
    import tomllib
    from importlib.metadata import PackageNotFoundError, version

    from packaging.requirements import Requirement

    extra = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["optional-dependencies"]["cluster"]
    names = [Requirement(r).name for r in extra]
    assert "boto3" in names
    for name in names:  # each installed at a version the extra accepts
        try:
            assert Requirement(next(r for r in extra if Requirement(r).name == name)).specifier.contains(version(name))
        except PackageNotFoundError:
            raise AssertionError(f"{name} (extra [cluster]) is not installed: pip install -e '.[cluster]'")
    from ray.autoscaler._private.providers import _get_node_provider_cls

    cls = _get_node_provider_cls(_config()["provider"])
    assert cls.__name__ == "AWSNodeProvider"
    ray_cli = Path(sys.executable).parent / "ray"
    done = subprocess.run([str(ray_cli), "up", "--help"], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0 and "CLUSTER_CONFIG_FILE" in done.stdout, done.stderr
