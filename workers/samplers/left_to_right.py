"""``left_to_right``: commit the leftmost masked position, one token per step (autoregressive order)."""
from __future__ import annotations

from workers.samplers.base import Commit, Sampler, Step
from workers.samplers.functional import one_hot_rows, sample_tokens


class LeftToRightSampler(Sampler):
    name = "left_to_right"

    def __init__(self, temperature: float = 1.0) -> None:
        super().__init__(temperature=temperature)

    def select(self, step: Step) -> Commit:
        W = step.eligible.shape[1]
        tokens = sample_tokens(step.logits, self.temperature, step.window_rand())
        return Commit(one_hot_rows(step.eligible.int().argmax(1), W), tokens)
