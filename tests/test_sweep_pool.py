"""The worker pool follows the cluster (sweeps/engine/pool.py): actors ask for what their model needs,
as many as the autoscaler can add; a GPU model never lands on a CPU; a worker that cannot reach
the storage stops the sweep in one line; actors see the driver's DLLM_/HF_/AWS_ variables;
weights come once per node from the sweep's bucket (workers/weights.py)."""
from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from sweeps.engine.driver import SweepError, run_sweep
from sweeps.engine.metrics import ProgressMetrics
from sweeps.engine.pool import autoscaler_capacity, needs_gpu, plan_placement, worker_env
from sweeps.engine.spec import spec_from_dict

ROOT = Path(__file__).resolve().parent.parent
NO_GPU = {"CPU": 4.0}


def _spec(model: str, name: str):
    return spec_from_dict({
        "name": name, "models": [model],
        "tasks": [{"name": "countdown", "limit": 2, "gen_length": 8, "block_length": 8}],
        "samplers": [{"name": "confidence"}], "samples": 2, "batch_size": 2})


def test_tiny_models_run_on_cpu_and_real_models_need_a_gpu(small_model_dir):
    assert not needs_gpu("tiny") and not needs_gpu(small_model_dir)
    assert needs_gpu("GSAI-ML/LLaDA-8B-Instruct")
    # a laptop without a GPU: the tiny model gets one CPU actor per slot, as before
    p = plan_placement(["tiny"], "auto", None, batches=10, resources=NO_GPU)
    assert (p.gpu, p.actors) == (False, 4) and "num_gpus" not in p.options(0)
    # an 8B model on a head with CPUs only: GPU actors (pending until a GPU node joins), never CPU
    p = plan_placement(["tiny", "GSAI-ML/LLaDA-8B-Instruct"], "auto", None, batches=10, resources=NO_GPU)
    assert p.gpu and p.options(3)["num_gpus"] == 1 and "needs a GPU" in p.why
    # unless the user says so
    assert not plan_placement(["GSAI-ML/LLaDA-8B-Instruct"], "cpu", None, 10, NO_GPU).gpu
    assert plan_placement(["tiny"], "gpu", 2, 10, NO_GPU).resources == {"CPU": 1.0, "GPU": 1.0}


def test_the_pool_is_sized_by_what_the_autoscaler_can_add(tmp_path, monkeypatch):
    # cluster.yaml: 8 single-GPU workers at most, the head has none
    assert autoscaler_capacity("GPU", str(ROOT / "cluster.yaml")) == 8
    monkeypatch.setenv("DLLM_AUTOSCALING_CONFIG", str(ROOT / "cluster.yaml"))
    p = plan_placement(["GSAI-ML/LLaDA-8B-Instruct"], "auto", None, batches=100, resources={"CPU": 0.0})
    assert p.actors == 8 and "up to 8 with the autoscaler" in p.why
    assert plan_placement(["x/y"], "auto", None, batches=3, resources={}).actors == 3  # one per batch
    assert plan_placement(["x/y"], "auto", 5, batches=100, resources={}).actors == 5   # --max-workers
    # the top-level max_workers caps the sum over node types
    cfg = tmp_path / "c.yaml"
    cfg.write_text(json.dumps({"max_workers": 3, "head_node_type": "h", "available_node_types": {
        "h": {"resources": {"CPU": 0}, "max_workers": 0},
        "big": {"resources": {"GPU": 4}, "max_workers": 2},
        "small": {"resources": {"GPU": 1}, "max_workers": 5}}}))
    assert autoscaler_capacity("GPU", str(cfg)) == 4 * 2 + 1 * 1
    assert autoscaler_capacity("GPU", str(tmp_path / "none.yaml")) is None


def test_actors_get_the_drivers_dllm_hf_aws_variables(monkeypatch):
    monkeypatch.setenv("DLLM_MODEL_IMPL", "native")
    monkeypatch.setenv("HF_TOKEN", "t")
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://minio:9000")
    monkeypatch.setenv("UNRELATED_SECRET", "no")
    monkeypatch.delenv("DLLM_WEIGHTS_URI", raising=False)
    env = worker_env()
    assert env["DLLM_MODEL_IMPL"] == "native" and env["HF_TOKEN"] == "t"
    assert env["AWS_ENDPOINT_URL"] == "http://minio:9000" and "UNRELATED_SECRET" not in env
    assert "HF_HUB_OFFLINE" not in env
    monkeypatch.setenv("DLLM_WEIGHTS_URI", "s3://b/weights")  # weights come from the bucket
    assert worker_env()["HF_HUB_OFFLINE"] == "1"
    assert plan_placement(["tiny"], "cpu", 1, 1, NO_GPU).options(0)["runtime_env"]["env_vars"]["HF_TOKEN"] == "t"


def test_a_gpu_sweep_without_gpus_waits_then_names_the_cause(ray_session, tmp_path, monkeypatch):
    monkeypatch.setenv("DLLM_WAIT_TIMEOUT", "3")
    lines: list[str] = []
    with pytest.raises(SweepError, match=r"no worker started in 3 s: 1 actor\(s\) each need "
                                         r"\{CPU 1, GPU 1\}; the cluster has GPU 0 free of 0") as e:
        run_sweep(_spec("tiny", "nogpu"), str(tmp_path / "o"), device="gpu", progress=False,
                  report=False, log=lines.append)
    assert "--device cpu" in str(e.value)
    assert any("up to 1 GPU actor(s) (--device gpu" in x for x in lines), lines
    assert not list((tmp_path / "o" / "shards").glob("*.parquet"))  # nothing ran on a CPU


def test_a_worker_that_cannot_reach_storage_fails_the_sweep_within_a_minute(ray_session, s3_server):
    out = f"s3://{s3_server.bucket('dead')}/sw"
    t0 = time.monotonic()
    with pytest.raises(SweepError) as e:  # the driver reaches S3; its worker's node does not
        run_sweep(_spec("tiny", "deadstore"), out, device="cpu", workers=1, progress=False, report=False,
                  inject={"worker_env": {"AWS_ENDPOINT_URL": "http://127.0.0.1:1"}}, log=lambda s: None)
    took = time.monotonic() - t0
    msg = str(e.value)
    assert "\n" not in msg and "cannot write" in msg and "127.0.0.1:1" in msg, msg
    assert took < 60, f"took {took:.0f} s"


def test_weights_are_fetched_once_per_node_and_load_model_reads_them(s3_server, small_model_dir, tmp_path,
                                                                     monkeypatch):
    import pyarrow.fs as pafs

    from workers.models import load_model
    from workers.weights import fetch_weights, local_copy

    bucket = s3_server.bucket("weights")
    fs, root = pafs.FileSystem.from_uri(f"s3://{bucket}/weights/org/small")
    pafs.copy_files(small_model_dir, root, source_filesystem=pafs.LocalFileSystem(), destination_filesystem=fs)
    monkeypatch.setenv("DLLM_WEIGHTS_CACHE", str(tmp_path / "cache"))
    assert local_copy("org/small") is None
    got = fetch_weights("org/small", f"s3://{bucket}/weights")
    assert got == tmp_path / "cache" / "org" / "small" and (got / "config.json").is_file()
    (got / "config.json").touch()
    before = (got / "config.json").stat().st_mtime_ns
    assert fetch_weights("org/small", f"s3://{bucket}/weights") == got  # cached: not copied again
    assert (got / "config.json").stat().st_mtime_ns == before
    assert fetch_weights("org/absent", f"s3://{bucket}/weights") is None  # not mirrored: the Hub
    assert fetch_weights("tiny", f"s3://{bucket}/weights") is None        # presets are packaged
    m = load_model("org/small")   # a hub id, read from the node cache (no Hub access here)
    assert m.name == "org/small"


def test_progress_metrics_rate():
    m = ProgressMetrics("s", total=10)
    m.points.append((time.monotonic() - 10.0, 0))
    assert 0.9 < m.update(10, 1) <= 1.0
