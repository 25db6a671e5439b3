"""``max_prob``: commit the eligible position with the highest (untempered) max probability, then
draw its token from softmax(ℓ/τ), one token per step (000 Table 1, "Rank-then-Sample").

This is the base rule of IMH's ``position="confidence"`` (000 §4.3): IMH at α = 1 samples exactly
this sampler's law at τ = 1.  It differs from ``confidence`` (Sample-then-Filter: draw everywhere,
keep the position whose *drawn* token is most probable), which is LLaDA's published remasking.
"""
from __future__ import annotations

from workers.samplers.base import Commit, Sampler, Step
from workers.samplers.functional import masked_argmax, one_hot_rows, probs, sample_tokens


class MaxProbSampler(Sampler):
    name = "max_prob"

    def __init__(self, temperature: float = 1.0) -> None:
        super().__init__(temperature=temperature)

    def select(self, step: Step) -> Commit:
        W = step.eligible.shape[1]
        tokens = sample_tokens(step.logits, self.temperature, step.window_rand())
        pick = masked_argmax(probs(step.logits).max(-1).values, step.eligible)
        return Commit(one_hot_rows(pick, W), tokens)
