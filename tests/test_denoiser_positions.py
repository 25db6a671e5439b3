"""The denoiser contract's ``positions`` keyword (issue 27): ``logits(x, positions=p)`` [B, S, V] is
``logits(x)`` at those positions, row by row, on every model the project ships — and a denoiser
without the keyword still serves ``logits_at`` (its full logits, sliced)."""
from __future__ import annotations

import pytest
import torch

from workers.denoiser import accepts_positions, logits_at, take_positions
from workers.exact_models import ProductModel
from workers.models import load_model
from workers.models.random_checkpoint import random_native_denoiser
from workers.prefix_cache import PrefixCache

SHAPES = {
    "llada": dict(d_model=32, n_heads=4, n_kv_heads=4, n_layers=2, mlp_hidden_size=48, vocab_size=64,
                  embedding_size=64),
    "dream": dict(hidden_size=32, intermediate_size=48, num_hidden_layers=2, num_attention_heads=4,
                  num_key_value_heads=2, vocab_size=64),
    "wedlm": dict(hidden_size=32, intermediate_size=48, num_hidden_layers=2, num_attention_heads=4,
                  num_key_value_heads=2, head_dim=8, vocab_size=64),
}
MASK = 60


def native(family: str):
    return random_native_denoiser(family, seed=1, mask_token_id=MASK, eos_token_id=2, pad_token_id=0,
                                  **SHAPES[family])


def canvas(B: int = 4, L: int = 12, filled: int = 7) -> torch.Tensor:
    g = torch.Generator().manual_seed(0)
    x = torch.randint(3, 50, (B, L), generator=g)
    x[:, filled:] = MASK
    x[B - 1, 5] = MASK                  # a mask before the others: WeDLM reorders around it
    return x


def assert_rows(model, x, positions, attention_mask=None):
    full = model.logits(x) if attention_mask is None else model.logits(x, attention_mask=attention_mask)
    got = logits_at(model, x, positions, attention_mask)
    assert got.shape == (x.shape[0], positions.shape[-1], full.shape[-1])
    # equal up to the head matmul's rounding (fewer rows may take another kernel)
    torch.testing.assert_close(got, take_positions(full, positions.expand(x.shape[0], -1)), rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("family", sorted(SHAPES))
def test_native_models_compute_the_rows_of_the_positions_asked(family):
    m = native(family)
    assert accepts_positions(m) and getattr(m.model, "supports_output_rows", False)
    x = canvas()
    positions = torch.tensor([[0, 7, 8, 11], [11, 7, 7, 1], [3, 9, 10, 11], [6, 5, 4, 0]])   # any order, repeats
    assert_rows(m, x, positions)
    am = torch.ones_like(x)
    am[0, :2] = 0                                                                     # left padding
    assert_rows(m, x, positions, am)
    assert_rows(m, x, torch.arange(12))                                               # one set for all rows


def test_wedlm_shared_prefix_rows_before_and_after_the_first_mask():
    """IMH's candidates share a prefix: its rows come from the prefix forward, the others from
    the tails, and a row may ask for both."""
    m = native("wedlm")
    x = canvas(B=1).repeat(3, 1)
    x[1, 9], x[2, 8] = 7, 9
    assert_rows(m, x, torch.tensor([[0, 4, 5, 11], [2, 9, 9, 6], [10, 1, 8, 5]]))
    assert_rows(m, x, torch.tensor([8, 9, 10]))                                      # tails only


def test_dream_position_zero_is_predicted_by_row_zero_as_with_the_shift():
    m = native("dream")
    x = canvas()
    full = m.logits(x)
    torch.testing.assert_close(m.logits(x, positions=torch.zeros(4, 1, dtype=torch.long))[:, 0], full[:, 0])
    torch.testing.assert_close(m.logits(x, positions=torch.full((4, 1), 8))[:, 0], full[:, 8])


def test_the_tiny_model_runs_its_head_on_the_rows_asked():
    m = load_model("tiny", device="cpu")
    x = torch.randint(3, 20, (3, 10), generator=torch.Generator().manual_seed(1))
    x[:, 6:] = m.mask_id
    assert_rows(m, x, torch.tensor([[6, 7], [9, 9], [0, 8]]))


@pytest.mark.parametrize("family,mode", [("llada", "prefix"), ("llada", "dual"), ("dream", "prefix"),
                                         ("dream", "dual")])
def test_the_prefix_cache_serves_positions_as_it_serves_full_logits(family, mode):
    """Refresh (miss) and cached (hit) forwards alike: the asked rows of the cache's own output."""
    base = native(family)
    x = canvas(B=2, L=16, filled=8)
    x[1, 5] = 4
    positions = torch.tensor([[8, 9, 10, 11, 15], [9, 12, 3, 8, 14]])   # 3: a prompt row (zeros on hits)
    for step in range(3):   # step 0 refreshes, then the block's entry is reused
        full = PrefixCache(base, gen_length=8, block_length=4, mode=mode)
        part = PrefixCache(base, gen_length=8, block_length=4, mode=mode)
        for _ in range(step + 1):
            want = full.logits(x)
            got = part.logits(x, positions=positions)
        torch.testing.assert_close(got, take_positions(want, positions), rtol=1e-5, atol=1e-5)
        assert (part.cached_rows > 0) == (step > 0)


def test_a_denoiser_without_positions_is_served_by_slicing():
    class Plain:   # the contract before issue 27: logits(x) only
        def __init__(self):
            self.inner = ProductModel.random(V=3, n=4)
            self.mask_id, self.vocab_size = self.inner.mask_id, self.inner.vocab_size

        def logits(self, x):
            return self.inner.logits(x)

    class Forwarding(Plain):   # **kwargs may hide a model without the keyword: not taken as support
        def logits(self, x, **kw):
            return self.inner.logits(x, **kw)

    x = torch.full((2, 6), 3)
    for m in (Plain(), Forwarding()):
        assert not accepts_positions(m)
        got = logits_at(m, x, torch.tensor([[2, 5], [4, 4]]))
        assert torch.equal(got, take_positions(m.inner.logits(x), torch.tensor([[2, 5], [4, 4]])))


def test_the_prefix_cache_slices_a_base_whose_forward_cached_predates_positions():
    class OldBase:   # forward_cached without the keyword (a user's base before issue 27)
        def __init__(self, m):
            self.m = m

        def __getattr__(self, name):
            return getattr(self.m, name)

        def forward_cached(self, x, attention_mask, past=None, use_cache=False, suffix=None):
            return self.m.forward_cached(x, attention_mask, past=past, use_cache=use_cache, suffix=suffix)

    base = native("llada")
    x = canvas(B=2, L=16, filled=8)
    positions = torch.tensor([[8, 9, 15], [10, 12, 3]])
    new, old = PrefixCache(base, 8, 4), PrefixCache(OldBase(base), 8, 4)
    for _ in range(2):   # a refresh, then a cached forward
        torch.testing.assert_close(old.logits(x, positions=positions), new.logits(x, positions=positions))
    assert old.cached_rows == new.cached_rows > 0
