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


def test_a_share_of_arith_examples_uses_the_infilling_layout():
    from workers.tasks import arith
    from workers.tinymodel.tokenizer import build_tokenizer

    tok = build_tokenizer()
    layouts = []
    for frac in (0.0, 0.5, 1.0):
        x, resp, _ = train.TaskStream("arith", 0, tok, 64, infill_frac=frac).batch(64)
        texts = [tok.decode(row[r].tolist(), skip_special_tokens=True) for row, r in zip(x, resp)]
        at = arith.INFILL_REASONING_LENGTH
        layouts.append(sum(t[at:at + len(arith.INFILL_DELIMITER)] == arith.INFILL_DELIMITER for t in texts))
    assert layouts[0] == 0 and 16 < layouts[1] < 48 and layouts[2] == 64
    # countdown has no infilling layout: the share is ignored
    assert train.TaskStream("countdown", 0, tok, 8, infill_frac=1.0).infill_frac == 0.0


def test_bad_infill_share_is_rejected(tmp_path):
    with pytest.raises(SystemExit, match="infill-frac"):
        train.main(TINY_ARGS + ["--infill-frac", "1.5", "--out", str(tmp_path)])


def test_bad_mix_is_rejected():
    with pytest.raises(SystemExit, match="unknown task"):
        train.parse_mix("countdown=1,poetry=1")
