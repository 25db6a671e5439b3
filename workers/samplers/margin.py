"""``margin``: commit the eligible position with the largest p(v1) − p(v2), one token per step
(000 Table 1, "Rank-then-Sample"); its token is drawn from softmax(ℓ/τ)."""
from __future__ import annotations

from workers.samplers.base import Commit, Sampler, Step
from workers.samplers.functional import margin, masked_argmax, one_hot_rows, probs, sample_tokens


class MarginSampler(Sampler):
    name = "margin"

    def __init__(self, temperature: float = 1.0) -> None:
        super().__init__(temperature=temperature)

    def select(self, step: Step) -> Commit:
        W = step.eligible.shape[1]
        tokens = sample_tokens(step.logits, self.temperature, step.window_rand())
        pick = masked_argmax(margin(probs(step.logits)), step.eligible)
        return Commit(one_hot_rows(pick, W), tokens)
