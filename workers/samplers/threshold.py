"""``threshold``: Fast-dLLM's static parallel decoding (docs/design.md §5).

Draw a token at every eligible position (as ``confidence`` does); its confidence is the model
probability of the drawn token.  Commit every eligible position with confidence ≥ threshold, and
always at least the most confident one — a round that commits only that fallback is an
exploration round, every other round is exploitation (002 §3).

``temperature`` defaults to 0 (greedy): Fast-dLLM accelerates argmax decoding and 002 §4.3 runs
this baseline greedily ("following Yu et al. (2025), ETE performs greedy decoding").
"""
from __future__ import annotations

from workers.samplers.base import Commit, Sampler, Step, check_float
from workers.samplers.functional import masked_argmax, one_hot_rows, probs, sample_tokens


class ThresholdSampler(Sampler):
    name = "threshold"
    tracks_rounds = True

    def __init__(self, threshold: float = 0.9, temperature: float = 0.0) -> None:
        super().__init__(temperature=temperature,
                         threshold=check_float("threshold", threshold, high=1.0))
        self.threshold = self._params["threshold"]

    def select(self, step: Step) -> Commit:
        W = step.eligible.shape[1]
        tokens = sample_tokens(step.logits, self.temperature, step.window_rand())
        conf = probs(step.logits).gather(-1, tokens[..., None]).squeeze(-1)
        passing = step.eligible & (conf >= self.threshold)
        best = one_hot_rows(masked_argmax(conf, step.eligible), W)
        return Commit(passing | best, tokens, forced=~passing.any(1))
