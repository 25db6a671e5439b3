"""The bits-to-rounds bound for factor decoding (002 Thm 3.2 as reconstructed in docs/design.md §5).

Under the factor rule every token committed in an exploitation round of k tokens has
p ≥ c(k) > 1 − f/(k+1), so the round carries < −k·ln(1 − f/(k+1)) nats, and at most
B(f) = sup_k −k·ln(1 − f/(k+1)) nats.  Hence exploitation rounds ≥ exploit_bits·ln 2 / B(f).

It applies to the ``factor`` sampler's design reading (``mode="design"``), whose every committed
token meets its rank's threshold, the theorem's premise.  Fast-dLLM's published rule
(``mode="fastdllm"``) also commits a last rank that failed its threshold, so it is not checked.
"""
from __future__ import annotations

import math
from typing import Iterable


def round_budget_nats(f: float, k: int) -> float:
    """−k·ln(1 − f/(k+1)): the most information an exploitation round of k tokens can carry."""
    x = f / (k + 1)
    return math.inf if x >= 1 else -k * math.log1p(-x)


def factor_budget_nats(f: float, k_max: int = 100_000) -> float:
    """B(f) = sup_k −k·ln(1 − f/(k+1)) (nats).  Infinite for f ≥ 2; tends to f as k → ∞."""
    if f >= 2:
        return math.inf
    # The sequence is unimodal in k; its supremum is either an early term or the limit f.
    return max(f, max(round_budget_nats(f, k) for k in range(1, min(k_max, 64) + 1)))


def bound_holds(rounds: Iterable[tuple[int, float, bool]], f: float) -> bool:
    """Every exploitation round of k tokens carried < −k·ln(1 − f/(k+1)) nats, and therefore
    exploitation rounds ≥ exploitation nats / B(f).  ``rounds``: (tokens, nats, forced)."""
    rounds = list(rounds)
    exploit = [(k, nats) for k, nats, forced in rounds if not forced]
    per_round = all(nats < round_budget_nats(f, k) + 1e-9 for k, nats in exploit)
    budget = factor_budget_nats(f)
    total = sum(n for _, n in exploit)
    aggregate = math.isinf(budget) or len(exploit) >= total / budget - 1e-9
    return per_round and aggregate
