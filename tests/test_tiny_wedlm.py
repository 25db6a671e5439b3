"""The project's tiny WeDLM (``tiny-wedlm``, issue 28 item 5): trained with WeDLM's dual-stream
reordered-mask loss (WeDLM §4.2), shipped in the published WeDLM layout, decoding arith on CPU
with WeDLM's own rule and with IMH on a 16-token window (000 §5, App. B)."""
from __future__ import annotations

import json

import pytest
import torch

from workers.models import load_model
from workers.models.native_wedlm import NativeWeDLM, reordered_logits
from workers.models.random_checkpoint import tiny_tokenizer, wedlm_parameters
from workers.models.wedlm import WeDLMDenoiser
from workers.samplers import make_sampler
from workers.tasks import load_task
from workers.tinymodel import WEDLM_CHECKPOINT_DIR
from workers.tinymodel.wedlm import (END_OF_TURN, build_wedlm, dual_stream_batch, dual_stream_logits, save_wedlm,
                                     wedlm_config)

pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(scope="module")
def model():
    return load_model("tiny-wedlm", device="cpu")


@pytest.fixture(scope="module")
def problems():
    """Arith test problems of every tier: prompts of different lengths (a ragged batch)."""
    task = load_task("arith")
    probs = [p for tier in task.tiers for p in task.by_difficulty(tier)[:2]]
    return task, probs


def test_the_preset_is_a_wedlm_checkpoint_in_the_published_layout(model):
    from safetensors import safe_open

    assert isinstance(model, WeDLMDenoiser) and isinstance(model.model, NativeWeDLM)
    cfg = json.loads((WEDLM_CHECKPOINT_DIR / "config.json").read_text())
    assert cfg["model_type"] == "wedlm" and cfg["architectures"] == ["WeDLMForCausalLM"]
    with safe_open(str(WEDLM_CHECKPOINT_DIR / "model.safetensors"), "pt") as f:
        shapes = {k: tuple(f.get_slice(k).get_shape()) for k in f.keys()}
    assert shapes == wedlm_parameters(cfg)
    tok = tiny_tokenizer(END_OF_TURN)
    assert (model.mask_id, model.eos_id, model.pad_id) == (tok.mask_token_id, tok.eos_token_id, tok.pad_token_id)
    assert model.stream_window == 16


@pytest.mark.parametrize("name,kw", [
    ("wedlm", {"temperature": 0.0}),
    ("imh", {"alpha": 2.0, "chain_length": 8, "window": 16, "position": "entropy"}),   # α: its own τ = 1/α
])
def test_it_answers_arith_and_a_ragged_batch_decodes_each_prompt_as_alone(model, problems, name, kw):
    task, probs = problems
    prompts = [model.encode_prompt(p.prompt) for p in probs]
    assert len({len(p) for p in prompts}) > 1 and len(prompts) >= 5
    seeds = list(range(11, 11 + len(probs)))
    s = make_sampler(name, **kw)
    batch = s.generate(model, prompts, gen_length=task.gen_length, block_length=task.block_length, seeds=seeds)
    grades = [task.grade(p, model.decode(t)) for p, t in zip(probs, batch.tokens)]
    assert all(g.extracted is not None for g in grades), [model.decode(t) for t in batch.tokens]
    if name == "wedlm":      # greedy: the trained model solves some (its accuracy: wedlm/TRAINING.md)
        assert any(g.correct for g in grades)
    for b in (0, len(prompts) - 1):
        alone = s.generate(model, [prompts[b]], gen_length=task.gen_length, block_length=task.block_length,
                           seeds=[seeds[b]])
        assert alone.tokens[0].tolist() == batch.tokens[b].tolist(), (name, b)


def test_the_training_loss_predicts_masks_as_the_reordered_inference_forward_reads_them():
    """WeDLM §4.2: a masked token of block k sees the prompt, the clean history before block k and
    the tokens of block k before it in the reordered order, at its logical position: exactly the
    row ``reordered_logits`` gives it on [prompt][clean history][block k] at inference."""
    tok = tiny_tokenizer(END_OF_TURN)
    m = build_wedlm(wedlm_config(tok, 32, 2, 4, 2, 64), init_std=0.2).eval()
    N, P, G, B = 3, 5, 8, 4
    g = torch.Generator().manual_seed(0)
    x = torch.randint(5, 90, (N, P + G), generator=g)
    attn = torch.ones(N, P + G, dtype=torch.long)
    attn[1, :2], x[1, :2] = 0, tok.pad_token_id            # one left-padded prompt
    resp = torch.zeros(N, P + G, dtype=torch.bool)
    resp[:, P:] = True
    ids, positions, mask, masked, _ = dual_stream_batch(x, resp, attn, tok.mask_token_id, block=B,
                                                        generator=torch.Generator().manual_seed(3))
    logits = dual_stream_logits(m, ids, positions, mask)[:, P + G:]      # the prediction stream
    assert masked.any() and not masked.all()
    for n in range(N):
        for k in range(G // B):
            s = P + k * B
            blockm = masked[n, k * B:(k + 1) * B]
            canvas = torch.cat([x[n, :s], torch.where(blockm, tok.mask_token_id, x[n, s:s + B])])[None]
            ref = reordered_logits(m, canvas, tok.mask_token_id, attn[n:n + 1, :s + B])[0, s:]
            torch.testing.assert_close(logits[n, k * B:(k + 1) * B][blockm], ref[blockm], atol=1e-5, rtol=1e-5)


def test_a_trained_wedlm_is_saved_under_the_published_names_and_loads_back(tmp_path):
    tok = tiny_tokenizer(END_OF_TURN)
    cfg = wedlm_config(tok, 32, 2, 4, 2, 64)
    m = build_wedlm(cfg, init_std=0.2).eval()
    save_wedlm(m, cfg, tok, tmp_path)
    back = load_model(str(tmp_path), device="cpu")
    x = torch.tensor([back.encode_prompt("12+3=") + [tok.mask_token_id] * 4])
    torch.testing.assert_close(reordered_logits(back.model, x, tok.mask_token_id),
                               reordered_logits(m, x, tok.mask_token_id))


def test_smoke_runs_of_wedlm_specs_use_the_tiny_trained_wedlm(tmp_path, monkeypatch):
    import workers.tinymodel
    from sweeps.reproduce import smoke_model

    assert smoke_model(["wedlm-8b-instruct"], str(tmp_path)) == "tiny-wedlm"
    assert smoke_model(["llada-8b-instruct", "wedlm-8b"], str(tmp_path)) == "tiny"
    monkeypatch.setattr(workers.tinymodel, "WEDLM_CHECKPOINT_DIR", tmp_path / "absent")
    folder = smoke_model(["wedlm-8b-instruct"], str(tmp_path))     # fallback: a tiny random WeDLM
    assert folder.endswith("smoke-model-wedlm") and json.loads(
        (tmp_path / "smoke-model-wedlm" / "config.json").read_text())["model_type"] == "wedlm"
