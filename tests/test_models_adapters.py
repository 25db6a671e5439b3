"""LLaDA and Dream adapters: model quirks hidden behind the denoiser contract.

No 8B weights are reachable here, so a randomly initialised tiny model plays both: wrapped with
LLaDA's special ids, and re-shaped into Dream's convention (logits shifted by one, 4-D boolean
attention mask, explicit position ids).  Through their adapters both must sample exactly what the
plain tiny model samples, and ragged batches must equal one-at-a-time decoding.
"""
from __future__ import annotations

import pytest
import torch
from torch import nn

from workers.models.dream import DreamDenoiser, dream_attention
from workers.models.hf import HFDenoiser
from workers.models.llada import LLaDADenoiser
from workers.samplers import make_sampler
from workers.tinymodel.model import TinyDiffusionConfig, TinyDiffusionLM
from workers.tinymodel.tokenizer import build_tokenizer


@pytest.fixture(scope="module")
def tiny():
    torch.manual_seed(0)
    tok = build_tokenizer()
    cfg = TinyDiffusionConfig(vocab_size=len(tok), hidden_size=32, num_hidden_layers=2,
                              num_attention_heads=2, intermediate_size=64,
                              mask_token_id=tok.mask_token_id)
    return TinyDiffusionLM(cfg).eval(), tok


class DreamLike(nn.Module):
    """The tiny model in Dream's convention: forward(x, mask4d | "full", position_ids), and the
    logits at row i predict position i + 1."""

    def __init__(self, inner: TinyDiffusionLM) -> None:
        super().__init__()
        self.inner, self.config = inner, inner.config

    def forward(self, x, attention_mask="full", position_ids=None):
        mask2d = None
        if not isinstance(attention_mask, str):
            mask2d = attention_mask[:, 0].diagonal(dim1=-2, dim2=-1).long()   # key j is real iff (j, j) is
            assert torch.equal(position_ids[mask2d.bool()], (mask2d.cumsum(-1) - 1)[mask2d.bool()])
        logits = self.inner(input_ids=x, attention_mask=mask2d).logits
        return (torch.cat([logits[:, 1:], logits[:, -1:]], dim=1),)


PROMPTS = ["Numbers: 3 5 7 Target: 22\n", "Compute 2+3\n", "Numbers: 9 1 Target: 10\n"]


def decode_all(adapter, prompts, seeds):
    ids = [adapter.encode_prompt(p) for p in prompts]
    return make_sampler("confidence", temperature=1.0).generate(
        adapter, ids, gen_length=16, block_length=8, seeds=seeds).tokens


def test_llada_and_dream_adapters_sample_what_the_original_samples(tiny):
    model, tok = tiny
    plain = HFDenoiser(model, tok, name="tiny")
    llada = LLaDADenoiser(model, tok, name="llada-like", mask_id=tok.mask_token_id,
                          eos_id=tok.eos_token_id, pad_id=tok.pad_token_id,
                          stop_ids=(tok.eos_token_id,))
    dream = DreamDenoiser(DreamLike(model), tok, name="dream-like", mask_id=tok.mask_token_id,
                          eos_id=tok.eos_token_id, pad_id=tok.pad_token_id)
    want = decode_all(plain, PROMPTS, seeds=[0, 1, 2])
    for adapter in (llada, dream):
        assert torch.equal(decode_all(adapter, PROMPTS, seeds=[0, 1, 2]), want), adapter.name


@pytest.mark.parametrize("wrap", ["plain", "dream"])
def test_ragged_batches_equal_one_at_a_time(tiny, wrap):
    model, tok = tiny
    adapter = (HFDenoiser(model, tok, name="tiny") if wrap == "plain" else
               DreamDenoiser(DreamLike(model), tok, name="dream-like", mask_id=tok.mask_token_id,
                             eos_id=tok.eos_token_id, pad_id=tok.pad_token_id))
    batch = decode_all(adapter, PROMPTS, seeds=[5, 6, 7])
    for i, p in enumerate(PROMPTS):
        assert torch.equal(decode_all(adapter, [p], seeds=[5 + i])[0], batch[i])


def test_dream_attention_convention():
    full, pos = dream_attention(torch.ones(2, 4, dtype=torch.long))
    assert full == "full" and pos is None
    mask, pos = dream_attention(torch.tensor([[0, 1, 1], [1, 1, 1]]))
    assert mask.shape == (2, 1, 3, 3) and not mask[0, 0, 0].any() and mask[0, 0, 1, 2]
    assert pos.tolist() == [[1, 0, 1], [0, 1, 2]]


def test_presets_pick_the_adapter_and_a_model_without_a_mask_token_is_refused(tiny):
    from workers.models import PRESETS

    assert PRESETS["llada-8b-instruct"].adapter is LLaDADenoiser
    assert PRESETS["gsai-ml/llada-8b-instruct"].adapter is LLaDADenoiser
    assert PRESETS["dream-7b-instruct"].adapter is DreamDenoiser
    model, tok = tiny

    class NoMask:
        mask_token_id = None
        eos_token_id = pad_token_id = None

        def __len__(self):
            return 10

    model.config.mask_token_id = None
    try:
        with pytest.raises(ValueError, match="no mask token") as err:
            HFDenoiser(model, NoMask(), name="plain-lm")
        assert "\n" not in str(err.value)
    finally:
        model.config.mask_token_id = tok.mask_token_id
