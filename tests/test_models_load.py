"""load_model: presets, local directories, hub ids, and its one-line errors."""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import torch

from workers.denoiser import Denoiser, accepts_attention_mask, check_denoiser
from workers.models import PRESETS, TINY_CHECKPOINT, HFDenoiser, load_model

REPO = Path(__file__).resolve().parent.parent


def test_tiny_preset_resolves_inside_the_package_not_the_cwd():
    assert PRESETS["tiny"].source == str(TINY_CHECKPOINT)
    assert TINY_CHECKPOINT.is_absolute()
    assert TINY_CHECKPOINT.parent.name == "tinymodel"


def test_load_model_tiny_offline_in_a_fresh_process(tmp_path):
    """The committed checkpoint loads with HF_HUB_OFFLINE=1 from another working directory, and
    an unknown name fails with one line naming what was tried."""
    script = textwrap.dedent("""
        import json, torch
        from workers.models import load_model
        m = load_model("tiny")
        x = torch.tensor([m.encode_prompt("Numbers: 3 5 7 Target: 22\\n") + [m.mask_id] * 4])
        out = {"name": m.name, "mask": m.mask_id, "eos": m.eos_id, "pad": m.pad_id,
               "vocab": m.vocab_size, "device": str(m.device), "shape": list(m.logits(x).shape)}
        try:
            load_model("no-such-org/no-such-model")
        except ValueError as e:
            out["error"] = str(e)
        print(json.dumps(out))
    """)
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1",
           "PYTHONPATH": str(REPO), "HF_HOME": str(tmp_path / "hf")}
    res = subprocess.run([sys.executable, "-c", script], cwd=tmp_path, env=env,
                         capture_output=True, text=True, timeout=120)
    assert res.returncode == 0, res.stderr[-2000:]
    out = json.loads(res.stdout.strip().splitlines()[-1])
    assert out["name"] == "tiny" and out["vocab"] == 100 and out["device"] == "cpu"
    assert out["shape"] == [1, 26 + 4, 100]
    assert len({out["mask"], out["eos"], out["pad"]}) == 3
    assert "\n" not in out["error"] and "no-such-org/no-such-model" in out["error"]
    assert "hub" in out["error"] and "preset" in out["error"]


def test_adapter_satisfies_the_denoiser_contract(small_model_dir):
    m = load_model(small_model_dir)
    assert isinstance(m, Denoiser) and isinstance(m, HFDenoiser)
    check_denoiser(m)
    assert accepts_attention_mask(m)
    assert m.name == small_model_dir and m.device == torch.device("cpu")
    assert m.tokenizer.mask_token_id == m.mask_id
    x = torch.full((2, 10), m.mask_id)
    logits = m.logits(x)
    assert logits.shape == (2, 10, m.vocab_size) and logits.dtype == torch.float32
    assert not logits.requires_grad


def test_adapter_logits_respect_left_padding(small_model_dir):
    m = load_model(small_model_dir)
    a = m.encode_prompt("Compute 1+2\n") + [m.mask_id] * 3
    b = m.encode_prompt("Compute 10+20*3\n") + [m.mask_id] * 3
    x = torch.full((2, len(b)), m.pad_id)
    attn = torch.zeros_like(x)
    x[0, len(b) - len(a):], attn[0, len(b) - len(a):] = torch.tensor(a), 1
    x[1], attn[1] = torch.tensor(b), 1
    batched = m.logits(x, attention_mask=attn)
    torch.testing.assert_close(batched[0, len(b) - len(a):], m.logits(torch.tensor([a]))[0], atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(batched[1], m.logits(torch.tensor([b]))[0], atol=1e-5, rtol=1e-5)


def test_save_then_load_through_load_model_gives_identical_logits(small_model_dir, tmp_path):
    m = load_model(small_model_dir)
    m.model.save_pretrained(tmp_path)
    m.tokenizer.save_pretrained(tmp_path)
    m2 = load_model(str(tmp_path))
    x = torch.tensor([m.encode_prompt("Numbers: 1 2 3 Target: 6\n") + [m.mask_id] * 8])
    assert torch.equal(m.logits(x), m2.logits(x))


def test_encode_decode_round_trip(small_model_dir):
    m = load_model(small_model_dir)
    text = "7*3=21 12+21=33 \\boxed{33}"
    ids = m.encode_prompt(text)
    assert len(ids) == len(text) and m.decode(ids) == text
    # decode stops at the first EOS and drops pad / mask tokens
    tail = [m.eos_id] + m.encode_prompt("junk")
    assert m.decode(torch.tensor([m.pad_id] + ids[:3] + [m.mask_id] + ids[3:] + tail)) == text
    assert m.decode([m.eos_id, *ids]) == ""


def test_dtype_argument(small_model_dir):
    m = load_model(small_model_dir, device="cpu", dtype="bf16")
    assert next(m.model.parameters()).dtype == torch.bfloat16
    # logits stay in the model's dtype (a fp32 copy of [B, L, V] would not fit beside 8B weights);
    # the samplers upcast the window they read (tests/test_sampler_memory.py)
    assert m.logits(torch.full((1, 4), m.mask_id)).dtype == torch.bfloat16
    with pytest.raises(ValueError, match="unknown dtype"):
        load_model(small_model_dir, dtype="float7")


@pytest.mark.parametrize("missing", ["config.json", "model.safetensors", "tokenizer_config.json"])
def test_checkpoint_missing_a_file_is_a_one_line_error(small_model_dir, tmp_path, missing):
    ckpt = tmp_path / "ckpt"
    shutil.copytree(small_model_dir, ckpt)
    (ckpt / missing).unlink()
    with pytest.raises(ValueError) as e:
        load_model(str(ckpt))
    assert missing in str(e.value) and str(ckpt) in str(e.value) and "\n" not in str(e.value)


def test_tiny_preset_checks_for_tokenizer_json(small_model_dir, tmp_path, monkeypatch):
    from workers.models import registry

    ckpt = tmp_path / "ckpt"
    shutil.copytree(small_model_dir, ckpt)
    (ckpt / "tokenizer.json").unlink()
    monkeypatch.setitem(registry.PRESETS, "tiny", registry.Preset("tiny", HFDenoiser, str(ckpt), local=True))
    with pytest.raises(ValueError, match=r"missing tokenizer\.json") as e:
        load_model("tiny")
    assert "\n" not in str(e.value)


def test_bad_paths_are_one_line_errors(tmp_path):
    for bad in [str(tmp_path / "nope"), "./no/such/dir"]:
        with pytest.raises(ValueError, match="no such checkpoint directory") as e:
            load_model(bad)
        assert "\n" not in str(e.value)
    f = tmp_path / "file.txt"
    f.write_text("x")
    with pytest.raises(ValueError, match="no such checkpoint directory"):
        load_model(str(f))


def test_model_without_mask_token_is_a_one_line_error(small_model_dir, tmp_path):
    ckpt = tmp_path / "nomask"
    shutil.copytree(small_model_dir, ckpt)
    cfg = json.loads((ckpt / "config.json").read_text())
    cfg["mask_token_id"] = None
    (ckpt / "config.json").write_text(json.dumps(cfg))
    tc = json.loads((ckpt / "tokenizer_config.json").read_text())
    tc.pop("mask_token", None)
    (ckpt / "tokenizer_config.json").write_text(json.dumps(tc))
    with pytest.raises(ValueError, match="no mask token") as e:
        load_model(str(ckpt))
    assert "\n" not in str(e.value)
    assert load_model(str(ckpt), mask_id=1).mask_id == 1  # the fix the message names
