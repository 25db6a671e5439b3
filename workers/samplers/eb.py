"""``eb``: the entropy-bounded (EB) sampler of Ben-Hamu et al. (docs/design.md §5).

Sort eligible entropies ascending H(1) ≤ H(2) ≤ …, commit the largest k with
Σ_{i≤k} H(i) − H(k) ≤ γ (k ≥ 1 always holds).  Tokens are drawn from softmax(ℓ/τ) at the chosen
positions.  Round accounting: a round is exploration when only one token was committed and its
entropy alone exceeds γ (the rule's fallback; with γ ≥ H(1) a single commit is still exploitation).
"""
from __future__ import annotations

from workers.samplers.base import Commit, Sampler, Step, check_float
from workers.samplers.functional import entropy, probs, sample_tokens, top_k_mask

import torch


class EBSampler(Sampler):
    name = "eb"
    tracks_rounds = True

    def __init__(self, gamma: float = 0.1, temperature: float = 1.0) -> None:
        super().__init__(temperature=temperature, gamma=check_float("gamma", gamma))
        self.gamma = self._params["gamma"]

    def select(self, step: Step) -> Commit:
        W = step.eligible.shape[1]
        tokens = sample_tokens(step.logits, self.temperature, step.window_rand())
        H = entropy(probs(step.logits))
        h_sorted = H.masked_fill(~step.eligible, float("inf")).sort(dim=-1, stable=True).values
        # Σ_{i≤k} H(i) − H(k) = Σ_{i<k} H(i): an exclusive prefix sum, non-decreasing in k.
        exclusive = torch.cat([torch.zeros_like(h_sorted[:, :1]), h_sorted[:, :-1].cumsum(-1)], -1)
        n_elig = step.eligible.sum(1)
        ranks = torch.arange(W, device=H.device)
        k = ((exclusive <= self.gamma) & (ranks < n_elig[:, None])).sum(-1).clamp_min(1)
        forced = (k == 1) & (h_sorted[:, 0] > self.gamma)
        return Commit(top_k_mask(-H, step.eligible, k), tokens, forced=forced)
