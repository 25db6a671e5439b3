"""Prefix KV cache and Fast-dLLM's dual cache for block decoding, as a denoiser wrapper.

    out = sampler.generate(model, prompts, gen_length, block_length, seeds, prefix_cache=True)
    out = sampler.generate(model, prompts, gen_length, block_length, seeds, prefix_cache="dual")

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

Dual cache (Fast-dLLM, Wu et al. 2025, §3.2; native LLaDA / Dream modules only): the refresh
also keeps the keys/values of every position *after* the block, and later forwards run the
block alone against prefix and suffix.  Rows after the block are then not recomputed: they hold
the refresh's logits (stale), which matters only to samplers that read beyond the current block
(IMH's default lookahead window, ETE's cross-block rounds).

Shifted models (Dream: row i−1 predicts position i) run from one position before the block, so
the block's first row is computed too; the cache then holds one position less.

Samples are keyed by their prefix (tokens and attention mask; in dual mode also the suffix
tokens), so batches may shrink, reorder or mix samples in different blocks, and lookahead samplers
(IMH) hit the cache for candidates that stay in the block: rows that share an entry are served
one stored copy as a broadcast view (000 App. B's copy-on-write cache for IMH's T+1 candidate
rows; each layer's attention still concatenates it per row, transiently).  Entries unused
for a few forwards are dropped.
"""
from __future__ import annotations

import inspect
from typing import Any, Optional

import torch

from workers.denoiser import take_positions


class PrefixCache:
    """A denoiser that serves ``logits`` from a prefix (or dual) KV cache over ``base``.

    ``base`` must offer ``supports_prefix_cache`` and ``forward_cached`` (``HFDenoiser`` does for
    models whose forward takes ``past_key_values``: the tiny model, the native LLaDA / Dream);
    ``mode="dual"`` also needs ``supports_dual_cache`` (the native modules).  ``gen_length`` and
    ``block_length`` place the blocks: the generated region is the last ``gen_length`` positions.
    """

    #: forwards an entry may go unused before it is dropped
    KEEP_FOR = 3
    MODES = ("prefix", "dual")

    def __init__(self, base: Any, gen_length: int, block_length: int, mode: str = "prefix") -> None:
        name = getattr(base, "name", type(base).__name__)
        if mode not in self.MODES:
            raise ValueError(f"prefix_cache must be True, 'prefix' or 'dual', got {mode!r}")
        if not getattr(base, "supports_prefix_cache", False):
            raise ValueError(f"model {name!r} does not support a prefix cache (its forward takes no "
                             "past_key_values); run without prefix_cache")
        if mode == "dual" and not getattr(base, "supports_dual_cache", False):
            raise ValueError(f"model {name!r} does not support the dual cache (only the native LLaDA / Dream "
                             "modules do); use prefix_cache=True")
        self.base, self.gen_length, self.block_length, self.mode = base, int(gen_length), int(block_length), mode
        self.shift = 1 if getattr(base, "shift_logits", False) else 0
        # key -> (prefix kv per layer, suffix kv per layer or None, stale suffix logits or None)
        self._store: dict[bytes, tuple[Any, Any, Optional[torch.Tensor]]] = {}
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

    def _key(self, tokens: torch.Tensor, mask: torch.Tensor, s0: int, e: int) -> bytes:
        """What an entry depends on: the tokens and mask outside the recomputed span [s0, e)."""
        keep = torch.cat([tokens[:s0], tokens[e:]]) if self.mode == "dual" else tokens[:s0]
        return keep.cpu().numpy().tobytes() + b"|" + mask.to(torch.int8).cpu().numpy().tobytes()

    @staticmethod
    def _put(out: Optional[torch.Tensor], shape: tuple[int, int], rows: torch.Tensor,
             logits: torch.Tensor) -> torch.Tensor:
        """Write ``logits`` into rows ``rows`` of the [B, S, V] output (allocated on first use, when
        V is known)."""
        if out is None:
            out = logits.new_zeros(*shape, logits.shape[-1])
        out[rows] = logits.to(out.dtype)
        return out

    @staticmethod
    def _shared(entries: list[Any], inverse: torch.Tensor) -> Any:
        """Per-layer (k, v) for the rows: one batch-1 entry is broadcast (no copy); several are
        stacked once and indexed."""
        if entries[0] is None:
            return None
        if len(entries) == 1:   # a view: R rows, one copy in memory
            R = inverse.numel()
            return tuple((k.expand(R, -1, -1, -1), v.expand(R, -1, -1, -1)) for k, v in entries[0])
        return tuple((torch.cat([e[i][0] for e in entries])[inverse], torch.cat([e[i][1] for e in entries])[inverse])
                     for i in range(len(entries[0])))

    @torch.no_grad()
    def logits(self, x: torch.Tensor, attention_mask: Optional[torch.Tensor] = None,
               positions: Optional[torch.Tensor] = None) -> torch.Tensor:
        """FloatTensor[B, L, V], or [B, S, V] of ``positions`` [B, S] (the denoiser contract; the
        head then runs on those rows only).  Positions before a row's block are zeros on cached rows
        (samplers only read the generated region's current and later blocks)."""
        B, L = x.shape
        if L < self.gen_length:
            raise ValueError(f"sequence of {L} positions is shorter than gen_length {self.gen_length}")
        x = x.to(self.base.device)
        am = (torch.ones_like(x) if attention_mask is None else attention_mask.to(x.device)).long()
        pos = (torch.arange(L, device=x.device).expand(B, L) if positions is None
               else positions.to(x.device))
        S = pos.shape[1]
        self._tick += 1
        prefix = self._prefix_lengths(x)
        dual = self.mode == "dual"
        out: Optional[torch.Tensor] = None
        for g in prefix.unique().tolist():
            rows = (prefix == g).nonzero().squeeze(1)
            s0 = g - self.shift                               # first recomputed position
            e = min(g + self.block_length, L) if dual else L  # end of the recomputed span
            usable = 0 < s0 and g < L
            keys = [self._key(x[r], am[r], s0, e) for r in rows.tolist()]
            hit = torch.tensor([usable and k in self._store for k in keys], device=x.device)
            if bool(hit.any()):
                idx, hk = rows[hit], [k for k, h in zip(keys, hit.tolist()) if h]
                uniq = list(dict.fromkeys(hk))
                inverse = torch.tensor([uniq.index(k) for k in hk], device=x.device)
                entries = [self._store[k] for k in uniq]
                past = self._shared([en[0] for en in entries], inverse)
                suffix = self._shared([en[1] for en in entries], inverse)
                kw = {"suffix": suffix} if dual else {}
                p = pos[idx]
                logits, _ = self._forward_cached(x[idx, s0:e], am[idx], past=past,
                                                 positions=(p - s0).clamp(0, e - s0 - 1), **kw)
                logits = logits.masked_fill((p < g)[..., None], 0.0)   # before the block: not computed
                if dual and e < L:   # positions after the block: the refresh's logits
                    stale = torch.cat([en[2] for en in entries])[inverse]
                    stale = take_positions(stale, (p - e).clamp(0, L - e - 1))
                    logits = torch.where((p >= e)[..., None], stale.to(logits.dtype), logits)
                out = self._put(out, (B, S), idx, logits)
                for k in uniq:
                    self._used[k] = self._tick
                self.cached_rows += len(hk)
            if not bool(hit.all()):
                miss = ~hit
                idx, mk = rows[miss], [k for k, h in zip(keys, hit.tolist()) if not h]
                want = pos[idx]
                if dual and usable:   # the refresh also computes every row after the block (kept, stale)
                    want = torch.cat([want, torch.arange(e, L, device=x.device).expand(len(idx), -1)], 1)
                logits, kv = self._forward_cached(x[idx], am[idx], use_cache=True, positions=want)
                out = self._put(out, (B, S), idx, logits[:, :S])
                if usable:
                    for j, k in enumerate(mk):
                        pre = tuple((kk[j:j + 1, :, :s0].clone(), vv[j:j + 1, :, :s0].clone()) for kk, vv in kv)
                        suf = (tuple((kk[j:j + 1, :, e:].clone(), vv[j:j + 1, :, e:].clone()) for kk, vv in kv)
                               if dual else None)
                        stale = logits[j:j + 1, S:].to(self._stale_dtype()).clone() if dual else None
                        self._store[k] = (pre, suf, stale)
                        self._used[k] = self._tick
                self.full_rows += len(mk)
        for k in [k for k, t in self._used.items() if t < self._tick - self.KEEP_FOR]:
            del self._store[k], self._used[k]
        assert out is not None
        return out

    def _forward_cached(self, x: torch.Tensor, am: torch.Tensor, positions: torch.Tensor,
                        **kw: Any) -> tuple[torch.Tensor, Any]:
        """``base.forward_cached`` at ``positions`` [B, S] (indices into x); a base whose
        ``forward_cached`` predates the keyword gives all rows, sliced here."""
        if "positions" in inspect.signature(self.base.forward_cached).parameters:
            return self.base.forward_cached(x, am, positions=positions, **kw)
        logits, kv = self.base.forward_cached(x, am, **kw)
        return take_positions(logits, positions.to(logits.device)), kv

    def _stale_dtype(self) -> torch.dtype:
        """Stale suffix logits are kept in the weights' dtype (bf16 on GPU: half the memory)."""
        model = getattr(self.base, "model", None)
        try:
            return next(model.parameters()).dtype if model is not None else torch.float32
        except StopIteration:  # pragma: no cover
            return torch.float32
