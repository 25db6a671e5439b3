"""Prefix KV cache for block decoding (Fast-dLLM's prefix cache), as a denoiser wrapper.

    out = sampler.generate(model, prompts, gen_length, block_length, seeds, prefix_cache=True)

The first forward a sample makes in a block runs its whole sequence and keeps, per layer, the
keys/values of its prefix: the prompt and every finished block.  Later forwards in the same block
run only the block and what follows it, attending to the kept prefix.  The samplers see the same
denoiser contract; the decoding loop is untouched (dInfer's split of decoder and cache).

Exact or not: the keys/values of layer 0 depend only on the prefix tokens, but from layer 1 on a
prefix position's state depends on the whole (bidirectional) sequence, including the block being
decoded.  So the cache is exact for a one-layer model and an approximation otherwise: the kept
prefix states are those of the moment the block was still fully masked.  Tests check the
one-layer case token for token; ``benchmarks/bench_prefix_cache.py`` measures the agreement and
the speed-up on the committed tiny model.

Samples are keyed by their prefix (tokens and attention mask), so batches may shrink, reorder or
mix samples in different blocks, and lookahead samplers (IMH) hit the cache for candidates that
stay in the block.  Entries unused for a few forwards are dropped.
"""
from __future__ import annotations

from typing import Any, Optional

import torch


class PrefixCache:
    """A denoiser that serves ``logits`` from a prefix KV cache over ``base`` (see module doc).

    ``base`` must offer ``supports_prefix_cache`` and ``forward_cached`` (``HFDenoiser`` does for
    models whose forward takes ``past_key_values``, such as the tiny model); ``gen_length`` and
    ``block_length`` place the blocks: the generated region is the last ``gen_length`` positions.
    """

    #: forwards an entry may go unused before it is dropped
    KEEP_FOR = 3

    def __init__(self, base: Any, gen_length: int, block_length: int) -> None:
        if not getattr(base, "supports_prefix_cache", False):
            raise ValueError(f"model {getattr(base, 'name', type(base).__name__)!r} does not support a prefix "
                             "cache (its forward takes no past_key_values, or it predicts shifted tokens); "
                             "run without prefix_cache")
        self.base, self.gen_length, self.block_length = base, int(gen_length), int(block_length)
        self._store: dict[bytes, tuple[tuple[torch.Tensor, torch.Tensor], ...]] = {}
        self._used: dict[bytes, int] = {}
        self._tick = 0
        #: rows served by a full forward (cache refresh) and from the cache
        self.full_rows = 0
        self.cached_rows = 0

    def __getattr__(self, name: str) -> Any:  # mask_id, eos_id, tokenizer, decode, device, ...
        return getattr(self.base, name)

    def _prefix_lengths(self, x: torch.Tensor) -> torch.Tensor:
        """Per row: prompt + the finished blocks = the start of the first block with a mask."""
        P = x.shape[1] - self.gen_length
        masked = x[:, P:] == self.base.mask_id
        first = torch.where(masked.any(1), masked.int().argmax(1), torch.full_like(masked[:, 0], self.gen_length,
                                                                                    dtype=torch.long))
        return P + torch.div(first, self.block_length, rounding_mode="floor") * self.block_length

    @staticmethod
    def _key(tokens: torch.Tensor, mask: torch.Tensor) -> bytes:
        return tokens.cpu().numpy().tobytes() + b"|" + mask.to(torch.int8).cpu().numpy().tobytes()

    @staticmethod
    def _put(out: Optional[torch.Tensor], shape: tuple[int, int], rows: torch.Tensor, start: int,
             logits: torch.Tensor) -> torch.Tensor:
        """Write ``logits`` into rows ``rows``, positions ``start:``, of the [B, L, V] output
        (allocated on first use, when V is known)."""
        if out is None:
            out = logits.new_zeros(*shape, logits.shape[-1])
        out[rows, start:] = logits
        return out

    @torch.no_grad()
    def logits(self, x: torch.Tensor, attention_mask: Optional[torch.Tensor] = None) -> torch.Tensor:
        """FloatTensor[B, L, V]; rows of prefix positions are zeros on cached rows (samplers only
        read the generated region's current and later blocks)."""
        B, L = x.shape
        if L < self.gen_length:
            raise ValueError(f"sequence of {L} positions is shorter than gen_length {self.gen_length}")
        x = x.to(self.base.device)
        am = (torch.ones_like(x) if attention_mask is None else attention_mask.to(x.device)).long()
        self._tick += 1
        prefix = self._prefix_lengths(x)
        out: Optional[torch.Tensor] = None
        for g in prefix.unique().tolist():
            rows = (prefix == g).nonzero().squeeze(1)
            keys = [self._key(x[r, :g], am[r, :g]) for r in rows.tolist()]
            hit = torch.tensor([g < L and k in self._store for k in keys], device=x.device)
            if bool(hit.any()):
                idx, hk = rows[hit], [k for k, h in zip(keys, hit.tolist()) if h]
                layers = zip(*(self._store[k] for k in hk))
                past = tuple((torch.cat([kv[0] for kv in layer]), torch.cat([kv[1] for kv in layer])) for layer in layers)
                logits, _ = self.base.forward_cached(x[idx, g:], am[idx], past=past)
                out = self._put(out, (B, L), idx, g, logits)
                for k in hk:
                    self._used[k] = self._tick
                self.cached_rows += len(hk)
            if not bool(hit.all()):
                miss = ~hit
                idx, mk = rows[miss], [k for k, h in zip(keys, hit.tolist()) if not h]
                logits, kv = self.base.forward_cached(x[idx], am[idx], use_cache=True)
                out = self._put(out, (B, L), idx, 0, logits)
                if g < L:
                    for j, k in enumerate(mk):
                        self._store[k] = tuple((kk[j:j + 1, :, :g].clone(), vv[j:j + 1, :, :g].clone()) for kk, vv in kv)
                        self._used[k] = self._tick
                self.full_rows += len(mk)
        for k in [k for k, t in self._used.items() if t < self._tick - self.KEEP_FOR]:
            del self._store[k], self._used[k]
        assert out is not None
        return out
