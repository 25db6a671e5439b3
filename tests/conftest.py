"""Shared test fixtures.

``ray_session``: ONE private local Ray for the whole test session (``ray.init`` costs seconds on
a small machine).  Ray's temp dir is private to this run (``RAY_TMPDIR``), so nothing here
attaches to — or advertises itself to — any other Ray on the machine; subprocesses inherit it.
``small_model_dir``: an untrained, very small tiny-model checkpoint (fast; for plumbing tests).
``s3_server``: a local S3 API (moto) on loopback; the AWS variables point there for the whole
session, set before any Ray starts so Ray workers inherit them (workers/testing.py).
"""
from __future__ import annotations

import os
import shutil
import tempfile

import pytest

from workers import testing as _s3

_s3.configure_env()  # before any Ray starts: its workers inherit the loopback endpoint
_RAY_TMP = tempfile.mkdtemp(prefix="rt", dir="/tmp")  # short: Ray's socket paths are length-limited
os.environ["RAY_TMPDIR"] = _RAY_TMP
os.environ.setdefault("RAY_AUTH_MODE", "disabled")
os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
os.environ.pop("RAY_ADDRESS", None)


@pytest.fixture(scope="session")
def ray_session():
    """A private local Ray with 2 CPU slots, shared by every test that needs one."""
    import ray

    ctx = ray.init(address="local", num_cpus=2, include_dashboard=False, logging_level="WARNING",
                   log_to_driver=False, _temp_dir=os.path.join(_RAY_TMP, "ray"))
    yield ctx
    ray.shutdown()


@pytest.fixture(scope="session")
def ray_address(ray_session) -> str:
    """GCS address of the shared session (for driver subprocesses: ``--address``)."""
    return ray_session.address_info["gcs_address"]


@pytest.fixture(scope="session")
def s3_server():
    """moto's S3 server on 127.0.0.1 (skips without moto[server]); ``.bucket()`` makes a bucket."""
    pytest.importorskip("moto.server", reason="moto[server] (the test extra) is not installed")
    pytest.importorskip("boto3", reason="boto3 is not installed")
    server = _s3.start(os.environ["AWS_ENDPOINT_URL"])
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def small_model_dir(tmp_path_factory) -> str:
    """An untrained 1-layer tiny model saved with save_pretrained (loads via load_model(dir))."""
    import torch

    from workers.tinymodel.model import TinyDiffusionConfig, TinyDiffusionLM
    from workers.tinymodel.tokenizer import build_tokenizer

    out = tmp_path_factory.mktemp("small_model")
    tok = build_tokenizer()
    torch.manual_seed(0)
    cfg = TinyDiffusionConfig(vocab_size=len(tok), hidden_size=32, num_hidden_layers=1,
                              num_attention_heads=2, intermediate_size=64,
                              mask_token_id=tok.mask_token_id, pad_token_id=tok.pad_token_id,
                              eos_token_id=tok.eos_token_id)
    TinyDiffusionLM(cfg).save_pretrained(out)
    tok.save_pretrained(out)
    return str(out)



@pytest.fixture(scope="module")
def one_torch_thread():
    """One torch thread for a module, as a sweep worker uses (a shared 2-core machine thrashes with
    more); restored after it."""
    import torch

    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


@pytest.fixture(scope="session")
def lmeval_tasks_dir(tmp_path_factory):
    """The local lm-eval fixture tasks (tests/fixtures/lmeval) with absolute data paths."""
    from lmeval_helpers import local_task_dir

    return local_task_dir(tmp_path_factory.mktemp("lmeval"))

def pytest_sessionfinish(session, exitstatus):
    shutil.rmtree(_RAY_TMP, ignore_errors=True)
