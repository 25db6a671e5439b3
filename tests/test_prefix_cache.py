"""Prefix KV cache (Fast-dLLM's prefix cache): exact where it can be, and switchable.

Exactness: layer-0 keys/values depend only on the prefix tokens, so for a one-layer model the
cached path must give the same tokens as no cache, for every sampler, seed and ragged batch.  For
deeper (bidirectional) models the cache is an approximation — measured by
benchmarks/bench_prefix_cache.py, not asserted here.
"""
from __future__ import annotations

import pytest
import torch

from workers.models.hf import HFDenoiser
from workers.prefix_cache import PrefixCache
from workers.samplers import make_sampler
from workers.tinymodel.model import TinyDiffusionConfig, TinyDiffusionLM
from workers.tinymodel.tokenizer import build_tokenizer

PROMPTS = ["Compute 3+4\n", "Numbers: 1 2 3 Target: 6\n", "Compute 12*3-7+1\n", "x\n"]


def denoiser(layers: int) -> HFDenoiser:
    tok = build_tokenizer()
    torch.manual_seed(layers)
    cfg = TinyDiffusionConfig(vocab_size=len(tok), hidden_size=32, num_hidden_layers=layers,
                              num_attention_heads=2, intermediate_size=64, mask_token_id=tok.mask_token_id,
                              pad_token_id=tok.pad_token_id, eos_token_id=tok.eos_token_id)
    return HFDenoiser(TinyDiffusionLM(cfg).eval(), tok, name=f"tiny-{layers}l")


def run(model, sampler, cache: bool):
    prompts = [model.encode_prompt(p) for p in PROMPTS for _ in range(2)]
    return sampler.generate(model, prompts, gen_length=12, block_length=4, seeds=list(range(len(prompts))),
                            prefix_cache=cache)


@pytest.mark.parametrize("name,params", [
    ("confidence", {"temperature": 0.0}), ("random", {"temperature": 1.0}), ("entropy", {"temperature": 1.0}),
    ("margin", {"temperature": 0.5}), ("threshold", {"threshold": 0.05, "temperature": 1.0}),
    ("eb", {"gamma": 0.5, "temperature": 1.0}), ("imh", {"alpha": 2.0, "chain_length": 2}),
])
def test_one_layer_model_gives_identical_tokens_with_and_without_the_cache(name, params):
    model, sampler = denoiser(1), make_sampler(name, **params)
    plain, cached = run(model, sampler, False), run(model, sampler, True)
    assert torch.equal(plain.tokens, cached.tokens)
    assert [t.nfe for t in plain.traces] == [t.nfe for t in cached.traces]


class Checked(PrefixCache):
    """Compares every cached answer with the full forward on the same input."""

    worst = 0.0

    def logits(self, x, attention_mask=None):
        out = super().logits(x, attention_mask)
        full = self.base.logits(x, attention_mask=attention_mask)
        keep = self._prefix_lengths(x)
        for r, g in enumerate(keep.tolist()):
            self.worst = max(self.worst, float((out[r, g:] - full[r, g:]).abs().max()))
        return out


@pytest.mark.parametrize("layers,exact", [(1, True), (2, False)])
def test_cached_logits_equal_full_forward_logits_only_for_one_layer(layers, exact):
    model = Checked(denoiser(layers), gen_length=12, block_length=4)
    prompts = [model.encode_prompt(p) for p in PROMPTS]
    make_sampler("confidence", temperature=0.0).decode(model, *_canvas(model, prompts), block_length=4, seeds=range(4))
    assert model.cached_rows > 0
    assert (model.worst < 1e-5) if exact else (model.worst > 1e-4)


def test_the_cache_serves_most_forwards_and_stays_small():
    model = PrefixCache(denoiser(2), gen_length=12, block_length=4)
    prompts = [model.encode_prompt(p) for p in PROMPTS]
    make_sampler("confidence", temperature=0.0).decode(
        model, *_canvas(model, prompts), block_length=4, seeds=range(4))
    # 3 blocks of 4 one-token steps: one refresh per block and sample, the other 3 steps cached
    assert (model.full_rows, model.cached_rows) == (3 * 4, 3 * 3 * 4)
    assert len(model._store) <= 4 * (PrefixCache.KEEP_FOR + 1)


def _canvas(model, prompts):
    from workers.samplers.base import build_canvas

    x, attn, ragged, P = build_canvas(model, prompts, 12)
    return x, attn, ragged, P


def test_first_forward_of_a_block_is_exact_on_a_deep_model():
    base = denoiser(3)
    cache = PrefixCache(base, gen_length=8, block_length=4)
    x = torch.tensor([base.encode_prompt("Compute 1+2\n") + [base.mask_id] * 8])
    assert torch.equal(cache.logits(x), base.logits(x))          # a refresh is a full forward
    x[0, -8] = 5                                                  # one token into block 0
    approx = cache.logits(x)[0, -8:]
    assert torch.allclose(approx, base.logits(x)[0, -8:], atol=1.0)  # close, not equal: bidirectional
    assert cache.cached_rows == 1


def test_models_without_cache_support_are_refused_in_one_line():
    from workers.exact_models import ProductModel

    with pytest.raises(ValueError, match="does not support a prefix cache") as e:
        make_sampler("confidence").generate(ProductModel(torch.rand(3, 4)), [[0]], gen_length=3, prefix_cache=True)
    assert "\n" not in str(e.value)


# ------------------------------------------------------------------ native LLaDA / Dream
@pytest.fixture(scope="module")
def native_one_layer(tmp_path_factory):
    from workers.models import load_model
    from workers.models.random_checkpoint import tiny_tokenizer, write_random_checkpoint

    root = tmp_path_factory.mktemp("native_cache")
    shapes = {"llada": dict(d_model=32, n_heads=4, n_kv_heads=4, n_layers=1, mlp_hidden_size=48, vocab_size=100,
                            embedding_size=100, mask_token_id=1, eos_token_id=2, pad_token_id=0),
              "dream": dict(hidden_size=32, num_attention_heads=4, num_key_value_heads=2, num_hidden_layers=1,
                            intermediate_size=48, vocab_size=100, mask_token_id=1, eos_token_id=2, pad_token_id=0)}
    return {f: load_model(str(write_random_checkpoint(root / f, f, seed=2, tokenizer=tiny_tokenizer(), **s)))
            for f, s in shapes.items()}


NATIVE_CASES = [(f, m, n, p) for f in ("llada", "dream") for m in (True, "dual") for n, p in (
    ("confidence", {"temperature": 1.0}), ("imh", {"alpha": 2.0, "chain_length": 2, "window": "block"}))]
NATIVE_CASES += [("llada", "dual", "factor", {"factor": 1.0, "mode": "fastdllm"}),
                 ("dream", True, "threshold", {"threshold": 0.05, "temperature": 1.0})]


@pytest.mark.parametrize("family,mode,name,params", NATIVE_CASES)
def test_native_one_layer_models_give_identical_tokens_with_prefix_and_dual_cache(native_one_layer, family, mode,
                                                                                   name, params):
    """Layer 0's keys/values depend only on their own tokens, so both caches are exact at one layer;
    Dream runs from one position before the block (shifted logits)."""
    model, sampler = native_one_layer[family], make_sampler(name, **params)
    prompts = [model.encode_prompt(p) for p in PROMPTS]

    def run(cache):
        return sampler.generate(model, prompts, gen_length=8, block_length=4, seeds=range(4), prefix_cache=cache)

    plain, cached = run(False), run(mode)
    assert torch.equal(plain.tokens, cached.tokens)
    assert [t.nfe for t in plain.traces] == [t.nfe for t in cached.traces]


def test_dual_cache_needs_a_native_module():
    with pytest.raises(ValueError, match="does not support the dual cache") as e:
        make_sampler("confidence").generate(denoiser(1), [[5, 6]], gen_length=4, prefix_cache="dual")
    assert "\n" not in str(e.value)


def test_candidates_of_one_sample_share_one_cache_entry(native_one_layer):
    """IMH's T+1 candidate rows hit one entry: served as a broadcast view, not T+1 copies."""
    model = native_one_layer["llada"]
    cache = PrefixCache(model, gen_length=8, block_length=4)
    x = torch.tensor([model.encode_prompt("Compute 1+2\n") + [model.mask_id] * 8])
    cache.logits(x)                                           # refresh: stores the prefix
    cands = x.repeat(3, 1)
    cands[:, -8] = torch.tensor([5, 6, 7])                    # three candidates in block 0
    seen = []
    orig = model.model.forward

    def spy(*a, **kw):
        seen.append(kw.get("past_key_values"))
        return orig(*a, **kw)

    model.model.forward = spy
    try:
        out = cache.logits(cands)
    finally:
        del model.model.forward
    k = seen[0][0][0]
    assert k.shape[0] == 3 and k.stride(0) == 0               # one copy, broadcast to 3 rows
    torch.testing.assert_close(out[:, -8:], model.logits(cands)[:, -8:], atol=1e-5, rtol=1e-5)
