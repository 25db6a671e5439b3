"""Small tensor helpers shared by the samplers (pure functions, no state).

All take window logits ``[A, W, V]`` (A active samples, W window positions) and work on the
untempered model marginal p = softmax(ℓ) unless they say otherwise (docs/design.md §5 notation).
"""
from __future__ import annotations

import torch

NEG_INF = float("-inf")


def probs(logits: torch.Tensor) -> torch.Tensor:
    """The model marginal p_j = softmax(ℓ_j)."""
    return torch.softmax(logits, dim=-1)


def entropy(p: torch.Tensor) -> torch.Tensor:
    """H_j = −Σ_v p_j(v) ln p_j(v), in nats (0·ln 0 = 0)."""
    return torch.special.entr(p).sum(-1)


def margin(p: torch.Tensor) -> torch.Tensor:
    """p(v1) − p(v2) of the two most likely tokens."""
    top2 = p.topk(2, dim=-1).values
    return top2[..., 0] - top2[..., 1]


def sample_tokens(logits: torch.Tensor, temperature: float, u: torch.Tensor) -> torch.Tensor:
    """Draw one token per position from softmax(ℓ/τ) by inverting the CDF with uniforms ``u``.

    τ = 0 is greedy (argmax).  One uniform per position (rather than V Gumbels) keeps each
    sample's random stream small and independent of the vocabulary size.
    """
    if temperature == 0:
        return logits.argmax(-1)
    p = torch.softmax(logits / temperature, dim=-1)
    cdf = p.cumsum(-1)
    target = (u.to(cdf.dtype) * cdf[..., -1]).unsqueeze(-1)
    tok = torch.searchsorted(cdf, target, right=True).squeeze(-1).clamp_max(p.shape[-1] - 1)
    # Float rounding at the very top of the CDF can land on a zero-probability id; fall back to
    # the mode there (probability of this event ~1e-7 per draw).
    bad = p.gather(-1, tok.unsqueeze(-1)).squeeze(-1) <= 0
    return torch.where(bad, p.argmax(-1), tok)


def masked_argmax(score: torch.Tensor, eligible: torch.Tensor) -> torch.Tensor:
    """Index of the highest score among eligible positions (first one on ties): [A, W] -> [A]."""
    return score.masked_fill(~eligible, NEG_INF).argmax(-1)


def one_hot_rows(index: torch.Tensor, width: int) -> torch.Tensor:
    """Boolean [A, width] with a single True per row at ``index``."""
    out = torch.zeros(index.shape[0], width, dtype=torch.bool, device=index.device)
    out[torch.arange(index.shape[0], device=index.device), index] = True
    return out


def top_k_mask(score: torch.Tensor, eligible: torch.Tensor, k: torch.Tensor) -> torch.Tensor:
    """Boolean mask of the k[a] highest-scoring eligible positions of each row (stable on ties)."""
    order = score.masked_fill(~eligible, NEG_INF).sort(dim=-1, descending=True, stable=True).indices
    ranks = torch.arange(score.shape[-1], device=score.device).expand_as(score)
    take = ranks < k.unsqueeze(-1)
    out = torch.zeros_like(eligible)
    out.scatter_(-1, order, take)
    return out & eligible
