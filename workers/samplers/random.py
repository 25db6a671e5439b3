"""``random``: one token per step at a uniformly random masked position (docs/design.md §5).

With temperature 1 and one token per step this is ancestral sampling in a random order, which
samples the model's joint exactly when the marginals are exact (any order gives the chain rule).
"""
from __future__ import annotations

import torch

from workers.samplers.base import Commit, Sampler, Step
from workers.samplers.functional import one_hot_rows, sample_tokens


class RandomSampler(Sampler):
    name = "random"

    def __init__(self, temperature: float = 1.0) -> None:
        super().__init__(temperature=temperature)

    @property
    def deterministic(self) -> bool:
        return False   # the position is drawn at every τ

    def select(self, step: Step) -> Commit:
        A, W = step.eligible.shape
        u = step.rand(W + 1)
        tokens = sample_tokens(step.logits, self.temperature, u[:, :W])
        count = step.eligible.sum(1)
        k = (u[:, W] * count).long().clamp_max(count - 1)              # k-th eligible position
        rank = step.eligible.long().cumsum(1) - 1
        pick = ((rank == k[:, None]) & step.eligible).int().argmax(1)
        return Commit(one_hot_rows(pick, W), tokens)
