"""The training script: runs end to end, is seeded, records its provenance, output loads."""
from __future__ import annotations

import json
import math

import pytest
import torch
from safetensors.torch import load_file

from workers.models import load_model
from workers.tinymodel import train

TINY_ARGS = ["--steps", "3", "--batch-size", "4", "--hidden-size", "16", "--layers", "1",
             "--heads", "2", "--chunk", "16", "--eval-every", "0", "--warmup", "1"]


@pytest.fixture(autouse=True)
def _keep_thread_count():
    n = torch.get_num_threads()  # train.main sets its own count; do not leak it into other tests
    yield
    torch.set_num_threads(n)


def test_training_is_seeded_and_writes_a_loadable_checkpoint(tmp_path):
    a, b = tmp_path / "a", tmp_path / "b"
    train.main(TINY_ARGS + ["--out", str(a)])
    train.main(TINY_ARGS + ["--out", str(b)])
    wa, wb = load_file(a / "model.safetensors"), load_file(b / "model.safetensors")
    assert wa.keys() == wb.keys() and all((wa[k] == wb[k]).all() for k in wa)

    rec = json.loads((a / "training.json").read_text())
    assert rec["command"].startswith("python -m workers.tinymodel.train ") and "--steps 3" in rec["command"]
    assert rec["seed"] == 0 and rec["steps"] == 3 and math.isfinite(rec["final_loss"])
    assert set(rec["tasks"]) == {"countdown", "arith"}
    assert all(t["version"] for t in rec["tasks"].values())
    assert rec["wall_time_s"] >= 0 and (a / "TRAINING.md").read_text().count(rec["command"]) == 1

    m = load_model(str(a))
    assert m.vocab_size == 100 and m.decode(m.encode_prompt("1+2=3")) == "1+2=3"


def test_bad_mix_is_rejected():
    with pytest.raises(SystemExit, match="unknown task"):
        train.parse_mix("countdown=1,poetry=1")
