"""``wedlm``: WeDLM's own decoding rule (WeDLM §4; the published engine's ``Sampler``), threshold-parallel.

At every masked position j of the streaming window (``base.stream_bounds``: W positions from the
first masked one) the rule scores the untempered entropy plus a distance penalty,

    H̃_j = H_j + pos_penalty · (j − first masked index),

commits every position with H̃_j < threshold, else the single lowest, and draws each committed
token from softmax(ℓ/τ) (τ = 0: argmax).  Defaults are the engine's ``SamplingParams``:
threshold (``wedlm_entropy_threshold``) 0.4, pos_penalty (``wedlm_pos_penalty_factor``) 0.02,
temperature 0.2.  The engine's optional top-p / top-k filters are not applied (1.0 / 0 there by
default).  A round that commits only the fallback is an exploration round (002 §3).

The window's first eligible index is its first masked position, so the distance of window index
w is w itself.  On a model without a streaming window (block mode) the distance counts from the
first masked position of the block window.
"""
from __future__ import annotations

import torch

from workers.samplers.base import Commit, Sampler, Step, check_float
from workers.samplers.functional import NEG_INF, entropy, one_hot_rows, probs, sample_tokens

ENGINE_THRESHOLD = 0.4
ENGINE_POS_PENALTY = 0.02
ENGINE_TEMPERATURE = 0.2


class WeDLMSampler(Sampler):
    name = "wedlm"
    tracks_rounds = True

    def __init__(self, threshold: float = ENGINE_THRESHOLD, pos_penalty: float = ENGINE_POS_PENALTY,
                 temperature: float = ENGINE_TEMPERATURE) -> None:
        super().__init__(temperature=temperature, threshold=check_float("threshold", threshold),
                         pos_penalty=check_float("pos_penalty", pos_penalty))
        self.threshold, self.pos_penalty = self._params["threshold"], self._params["pos_penalty"]

    def select(self, step: Step) -> Commit:
        W = step.eligible.shape[1]
        tokens = sample_tokens(step.logits, self.temperature, step.rand(W))
        first = step.eligible.int().argmax(1, keepdim=True)
        dist = (torch.arange(W, device=first.device)[None, :] - first).clamp_min(0)
        score = entropy(probs(step.logits)) + self.pos_penalty * dist.to(step.logits.dtype)
        passing = step.eligible & (score < self.threshold)
        best = one_hot_rows(score.masked_fill(~step.eligible, -NEG_INF).argmin(1), W)
        return Commit(passing | best, tokens, forced=~passing.any(1))
