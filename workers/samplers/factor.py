"""``factor``: Fast-dLLM's dynamic (factor-based) parallel decoding (DESIGN §5).

Draw a token at every eligible position, sort the confidences c(1) ≥ c(2) ≥ …, and commit the
longest prefix with (n+1)(1 − c(n)) < f for every rank n in it; rank 1 is always committed.  A
round where rank 1 fails the test is an exploration round (the forced fallback).  This is the
rule under which 002's bits-to-rounds bound holds: each exploitation round of k tokens carries
< −k·ln(1 − f/(k+1)) nats.
"""
from __future__ import annotations

import torch

from workers.bounds import bound_holds
from workers.samplers.base import Commit, Sampler, Step, Trace, check_float
from workers.samplers.functional import NEG_INF, probs, sample_tokens, top_k_mask


class FactorSampler(Sampler):
    name = "factor"
    tracks_rounds = True

    def __init__(self, factor: float = 1.0, temperature: float = 1.0) -> None:
        super().__init__(temperature=temperature, factor=check_float("factor", factor, strict=True))
        self.factor = self._params["factor"]

    def select(self, step: Step) -> Commit:
        W = step.eligible.shape[1]
        tokens = sample_tokens(step.logits, self.temperature, step.rand(W))
        conf = probs(step.logits).gather(-1, tokens[..., None]).squeeze(-1)
        c_sorted = conf.masked_fill(~step.eligible, NEG_INF).sort(dim=-1, descending=True, stable=True).values
        n = torch.arange(1, W + 1, device=conf.device, dtype=conf.dtype)
        ok = ((n + 1) * (1 - c_sorted) < self.factor) & (n <= step.eligible.sum(1, keepdim=True))
        k = ok.long().cumprod(-1).sum(-1)                      # longest passing prefix
        return Commit(top_k_mask(conf, step.eligible, k.clamp_min(1)), tokens, forced=k == 0)

    def finish_trace(self, trace: Trace) -> None:
        """Record whether this sample obeys the bits-to-rounds bound (002 Thm 3.2)."""
        trace.extra["bound_ok"] = bound_holds(trace.extra.get("rounds", []), self.factor)
