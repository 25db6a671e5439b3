"""The tiny masked-diffusion model: Auto registration, padding invariance, save/load, loss."""
from __future__ import annotations

import pytest
import torch

from workers.tinymodel.model import (
    MODEL_TYPE,
    TinyDiffusionConfig,
    TinyDiffusionLM,
    masked_diffusion_loss,
)
from workers.tinymodel.tokenizer import build_tokenizer


def small_model(seed: int = 0, layers: int = 2) -> TinyDiffusionLM:
    torch.manual_seed(seed)
    cfg = TinyDiffusionConfig(vocab_size=100, hidden_size=32, num_hidden_layers=layers,
                              num_attention_heads=4, intermediate_size=64, mask_token_id=1,
                              pad_token_id=0, eos_token_id=2)
    return TinyDiffusionLM(cfg).eval()


def test_registered_with_the_auto_classes(tmp_path):
    from transformers import AutoConfig, AutoModel, AutoModelForMaskedLM

    model = small_model()
    model.save_pretrained(tmp_path)
    assert AutoConfig.from_pretrained(tmp_path).model_type == MODEL_TYPE
    for auto in (AutoModel, AutoModelForMaskedLM):
        assert isinstance(auto.from_pretrained(tmp_path), TinyDiffusionLM)


def test_logits_shape_and_bidirectional():
    model = small_model()
    x = torch.randint(4, 100, (3, 12))
    with torch.no_grad():
        logits = model(x).logits
        assert logits.shape == (3, 12, 100)
        # no causal mask: changing the LAST token changes the logits at the FIRST position
        y = x.clone()
        y[:, -1] = (y[:, -1] + 1 - 4) % 96 + 4
        assert not torch.allclose(model(y).logits[:, 0], logits[:, 0])


def test_left_padding_with_attention_mask_matches_unpadded_rows():
    model = small_model(layers=3)
    g = torch.Generator().manual_seed(1)
    rows = [torch.randint(4, 100, (n,), generator=g) for n in (5, 9, 14)]
    L = max(r.numel() for r in rows)
    x = torch.zeros(len(rows), L, dtype=torch.long)  # pad id 0 on the left
    attn = torch.zeros(len(rows), L, dtype=torch.long)
    for i, r in enumerate(rows):
        x[i, L - r.numel():] = r
        attn[i, L - r.numel():] = 1
    with torch.no_grad():
        batched = model(x, attention_mask=attn).logits
        for i, r in enumerate(rows):
            alone = model(r[None]).logits[0]
            torch.testing.assert_close(batched[i, L - r.numel():], alone, atol=1e-5, rtol=1e-5)
        # an all-ones mask is the same as no mask
        torch.testing.assert_close(model(x, attention_mask=torch.ones_like(x)).logits, model(x).logits)


def test_save_then_load_gives_identical_logits(tmp_path):
    from transformers import AutoModelForMaskedLM

    model = small_model(seed=3)
    model.save_pretrained(tmp_path)
    assert (tmp_path / "model.safetensors").is_file()
    loaded = AutoModelForMaskedLM.from_pretrained(tmp_path).eval()
    x = torch.randint(4, 100, (2, 20))
    with torch.no_grad():
        assert torch.equal(model(x).logits, loaded(x).logits)


def test_loss_only_counts_masked_response_positions():
    model = small_model()
    model.train()
    x = torch.randint(4, 100, (8, 16))
    resp = torch.zeros_like(x, dtype=torch.bool)
    resp[:, 10:] = True
    g = torch.Generator().manual_seed(0)
    loss = masked_diffusion_loss(model, x, resp, None, mask_id=1, generator=g)
    assert torch.isfinite(loss) and loss.item() > 0
    loss.backward()
    # no response -> nothing is masked -> zero loss
    zero = masked_diffusion_loss(model, x, torch.zeros_like(resp), None, mask_id=1, generator=g)
    assert zero.item() == 0.0
    # same generator seed -> same loss (the objective is seeded, hence reproducible training)
    a = masked_diffusion_loss(model, x, resp, None, 1, generator=torch.Generator().manual_seed(5))
    b = masked_diffusion_loss(model, x, resp, None, 1, generator=torch.Generator().manual_seed(5))
    assert a.item() == pytest.approx(b.item(), abs=0)


def test_vocab_matches_tokenizer():
    tok = build_tokenizer()
    assert len(tok) == 100 == TinyDiffusionConfig().vocab_size


def test_rao_blackwellised_weight_is_the_conditional_mean_of_inv_t():
    """E[1/t | k of n masked] = (n+1)/k for t ~ U(0, 1), k ~ Binomial(n, t): the "rb" weighting
    has the same expectation as LLaDA's 1/t (numerical integration over t)."""
    n = 24
    t = torch.linspace(1e-6, 1 - 1e-6, 200001, dtype=torch.float64)
    for k in (1, 2, 5, 12, 24):
        like = torch.exp(torch.lgamma(torch.tensor(n + 1.0)) - torch.lgamma(torch.tensor(k + 1.0))
                         - torch.lgamma(torch.tensor(n - k + 1.0)) + k * t.log() + (n - k) * (1 - t).log())
        cond_mean = torch.trapezoid(like / t, t) / torch.trapezoid(like, t)
        assert cond_mean.item() == pytest.approx((n + 1) / k, rel=1e-3)


@pytest.mark.parametrize("weighting", ["rb", "inv_t", "flat"])
def test_weightings_run_and_bad_name_is_rejected(weighting):
    model = small_model()
    x = torch.randint(4, 100, (4, 10))
    resp = torch.zeros_like(x, dtype=torch.bool)
    resp[:, 5:] = True
    loss = masked_diffusion_loss(model, x, resp, None, 1, torch.Generator().manual_seed(0), weighting=weighting)
    assert torch.isfinite(loss)
    with pytest.raises(ValueError, match="unknown weighting"):
        masked_diffusion_loss(model, x, resp, None, 1, weighting="nope")
