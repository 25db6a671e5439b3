"""``factor``: Fast-dLLM's dynamic (factor-based) parallel decoding (docs/design.md §5), in two readings.

Draw a token at every eligible position, sort the confidences c(1) ≥ c(2) ≥ … of the N eligible
positions (confidence = model probability of the drawn token, untempered).

- ``mode="design"`` (default; docs/design.md §5 and 002 §3): commit the longest prefix with
  (n+1)(1 − c(n)) < f for every rank n in it; rank 1 is always committed, and a round where rank
  1 fails the test is an exploration round (the forced fallback).  Every token of an exploitation
  round of k tokens then has p > 1 − f/(k+1), the premise of 002 Thm 3.2, so the round carries
  < −k·ln(1 − f/(k+1)) nats: the bits-to-rounds bound (``workers/bounds.py``) holds for this mode.
- ``mode="fastdllm"``: Fast-dLLM's published ``get_transfer_index_dynamic``: rank n passes when
  c(n) ≥ 1 − f/(n+1), rank 1 always passes; commit the passing prefix, except that when exactly
  the last rank fails (k = N−1) all N are committed.  That last token can carry any number of
  bits, so the 002 bound is not checked in this mode (``bound_ok`` is None).  A round is counted
  as exploration when rank 1 fails the test, as in the design mode.

``temperature`` defaults to 0 (greedy): Fast-dLLM's rule accelerates argmax decoding, and 002 §5.1
checks the bits-to-rounds bound under greedy decoding.
"""
from __future__ import annotations

from typing import Optional

import torch

from workers.bounds import bound_holds
from workers.samplers.base import Commit, Sampler, Step, Trace, check_float
from workers.samplers.functional import NEG_INF, probs, sample_tokens, top_k_mask

MODES = ("design", "fastdllm")


class FactorSampler(Sampler):
    name = "factor"
    tracks_rounds = True

    def __init__(self, factor: float = 1.0, temperature: float = 0.0, mode: str = "design") -> None:
        if mode not in MODES:
            raise ValueError(f"factor mode must be one of {', '.join(MODES)}, got {mode!r}")
        super().__init__(temperature=temperature, factor=check_float("factor", factor, strict=True), mode=mode)
        self.factor, self.mode = self._params["factor"], mode

    def select(self, step: Step) -> Commit:
        W = step.eligible.shape[1]
        tokens = sample_tokens(step.logits, self.temperature, step.window_rand())
        conf = probs(step.logits).gather(-1, tokens[..., None]).squeeze(-1)
        c_sorted = conf.masked_fill(~step.eligible, NEG_INF).sort(dim=-1, descending=True, stable=True).values
        n = torch.arange(1, W + 1, device=conf.device, dtype=conf.dtype)
        N = step.eligible.sum(1, keepdim=True)
        rank1 = 2 * (1 - c_sorted[:, 0]) < self.factor
        if self.mode == "design":
            ok = ((n + 1) * (1 - c_sorted) < self.factor) & (n <= N)
            k = ok.long().cumprod(-1).sum(-1)                      # longest passing prefix
            return Commit(top_k_mask(conf, step.eligible, k.clamp_min(1)), tokens, forced=k == 0)
        # Fast-dLLM: threshold 1 − f/(n+1) with ≥, rank 1 always passes (its threshold is −1)
        ok = ((c_sorted >= 1 - self.factor / (n + 1)) | (n == 1)) & (n <= N)
        k = ok.long().cumprod(-1).sum(-1)
        k = torch.where(k == N.squeeze(1) - 1, k + 1, k)          # only the last rank failed: take all
        return Commit(top_k_mask(conf, step.eligible, k), tokens, forced=~rank1)

    def finish_trace(self, trace: Trace) -> None:
        """Record whether this sample obeys the bits-to-rounds bound (002 Thm 3.2); only the
        design reading satisfies the theorem's premise, so the fastdllm mode records None."""
        ok: Optional[bool] = None
        if self.mode == "design":
            ok = bound_holds(trace.extra.get("rounds", []), self.factor)
        trace.extra["bound_ok"] = ok
