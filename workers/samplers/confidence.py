"""``confidence``: LLaDA's low-confidence remasking, one token per step (000 Table 1, "Sample-then-Filter").

Draw a token at every eligible position from softmax(ℓ/τ), score each position by the model
probability of its drawn token (untempered), commit the best one.  τ = 0: argmax token, score =
max probability.
"""
from __future__ import annotations

from workers.samplers.base import Commit, Sampler, Step
from workers.samplers.functional import masked_argmax, one_hot_rows, probs, sample_tokens


class ConfidenceSampler(Sampler):
    name = "confidence"

    def __init__(self, temperature: float = 1.0) -> None:
        super().__init__(temperature=temperature)

    def select(self, step: Step) -> Commit:
        W = step.eligible.shape[1]
        tokens = sample_tokens(step.logits, self.temperature, step.window_rand())
        score = probs(step.logits).gather(-1, tokens[..., None]).squeeze(-1)
        return Commit(one_hot_rows(masked_argmax(score, step.eligible), W), tokens)
