"""``entropy``: commit the lowest-entropy eligible position, one token per step (000 Table 1, "Rank-then-Sample").

The position is ranked on the untempered marginal; its token is then drawn from softmax(ℓ/τ).
"""
from __future__ import annotations

from workers.samplers.base import Commit, Sampler, Step
from workers.samplers.functional import entropy, masked_argmax, one_hot_rows, probs, sample_tokens


class EntropySampler(Sampler):
    name = "entropy"

    def __init__(self, temperature: float = 1.0) -> None:
        super().__init__(temperature=temperature)

    def select(self, step: Step) -> Commit:
        W = step.eligible.shape[1]
        tokens = sample_tokens(step.logits, self.temperature, step.window_rand())
        pick = masked_argmax(-entropy(probs(step.logits)), step.eligible)
        return Commit(one_hot_rows(pick, W), tokens)
