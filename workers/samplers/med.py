"""``med``: multi-token entropy decoding (004 §4.2).

Commit up to ``k_max`` eligible positions with H_j < λ, lowest entropy first; if none qualifies,
the single lowest-entropy position (the forced fallback = an exploration round).  Because
KL(joint ‖ product of marginals) ≤ Σ_committed H_j, the per-step error is ≤ λ·k_max.
Defaults are 004 App. A's: k_max = 32 tokens decoded in parallel at most, λ = 0.2 (§5.1), and
greedy ``temperature`` 0: 004 reports one accuracy per configuration, and its Table 6 accuracies
are identical for one-token entropy decoding and MED λ ≤ 0.2 (LLaDA 78.01), which greedy
decoding explains and sampling would not.  MED also samples at τ > 0 (it serves
methods that need several samples per prompt, 004 §2).
"""
from __future__ import annotations

from workers.samplers.base import Commit, Sampler, Step, check_float, check_int
from workers.samplers.functional import entropy, probs, sample_tokens, top_k_mask


class MEDSampler(Sampler):
    name = "med"
    tracks_rounds = True

    def __init__(self, lam: float = 0.2, k_max: int = 32, temperature: float = 0.0) -> None:
        super().__init__(temperature=temperature, lam=check_float("lam", lam),
                         k_max=check_int("k_max", k_max))
        self.lam, self.k_max = self._params["lam"], self._params["k_max"]

    def select(self, step: Step) -> Commit:
        tokens = sample_tokens(step.logits, self.temperature, step.window_rand())
        H = entropy(probs(step.logits))
        below = (step.eligible & (H < self.lam)).sum(1)
        k = below.clamp(min=1, max=self.k_max)
        return Commit(top_k_mask(-H, step.eligible, k), tokens, forced=below == 0)
