"""The per-round information budget of the dynamic-factor rule (paper 002 Thm 3.2; docs/design.md §5).

Under Fast-dLLM's factor rule every token committed in an exploitation round of k tokens has
probability > 1 − f/(k+1) (confidence = probability of the drawn token), so that round reveals
< −k·ln(1 − f/(k+1)) nats.  The budget per round is B(f) = sup_k −k·ln(1 − f/(k+1)), hence

    exploit_rounds ≥ exploit_bits · ln 2 / B(f)        (bits are log₂, B is in nats).
"""
from __future__ import annotations

import math

import numpy as np

__all__ = ["LN2", "bits_budget", "rounds_bound"]

LN2 = math.log(2.0)
_K_CAP = 4096


def bits_budget(f: float) -> float:
    """B(f) = sup_{k≥1} −k·ln(1 − f/(k+1)) in nats.

    For 0 < f < 2 the terms tend to f from below (−k·ln(1 − f/(k+1)) = f − (f − f²/2)/(k+1) +
    O(k⁻²)), so the supremum is max(f, max over k ≤ 4096): B(0.5) = 0.5, B(1) = 1, B(1.5) = 1.5,
    B(1.9) = ln 20 ≈ 3.0 (reached at k = 1).  At f ≥ 2 rank 1 passes whatever its
    probability: B = ∞.  At f ≤ 0 nothing passes the rule (only forced commits): B = 0.
    """
    f = float(f)
    if math.isnan(f):
        return math.nan
    if f <= 0:
        return 0.0
    if f >= 2:
        return math.inf
    k = np.arange(1, _K_CAP + 1, dtype=np.float64)
    return float(max(f, np.max(-k * np.log1p(-f / (k + 1)))))


def rounds_bound(bits: float | np.ndarray, f: float) -> float | np.ndarray:
    """Fewest exploitation rounds that can reveal ``bits`` bits under factor ``f``."""
    budget = bits_budget(f)
    bits = np.asarray(bits, dtype=np.float64)
    if budget == 0:
        return np.where(bits > 0, np.inf, 0.0)
    return bits * LN2 / budget
