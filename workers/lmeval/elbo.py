"""The masked-diffusion ELBO of a continuation given a context (LLaDA, Nie et al. 2025, Eq. (6) and
App. B.6's conditional likelihood estimate), used for lm-eval's ``loglikelihood`` requests.

For a continuation r of L tokens after a context p, a masked diffusion model bounds

    log p(r | p)  >=  E_{l ~ U{1..L}} E_{S ⊂ [L], |S| = l} [ (L / l) Σ_{i ∈ S} log p_θ(r_i | p, r_{S^c}) ]

(mask exactly l continuation tokens chosen uniformly without replacement; the context is never
masked).  This is the lower-variance form the LLaDA paper uses for evaluation, rather than the
continuous-time one that masks each token independently with probability t.  The estimate averages
``n_draws`` Monte Carlo draws (128 by default, LLaDA's setting).  The draws' masked counts are
stratified: l_j = ((k + ⌊j·L/n⌋) mod L) + 1 with one k ~ U{0..L-1}, so each l_j is marginally
uniform on {1..L} (the estimate stays unbiased for the bound) while the draws cover the mask ratios
evenly.  Every random choice comes from a ``torch.Generator`` seeded by ``seed``: the same request
gets the same estimate in any batch, on any worker.
"""
from __future__ import annotations

import itertools
import math
from typing import Any, Sequence

import torch

from workers.denoiser import logits_at

#: LLaDA's evaluation setting (App. B.6: 128 Monte Carlo samples for the likelihood tasks).
DEFAULT_DRAWS = 128


def mask_counts(L: int, n_draws: int, gen: torch.Generator) -> torch.Tensor:
    """Stratified masked counts l_1..l_n in {1..L}, each marginally uniform (module docstring)."""
    k = int(torch.randint(0, L, (1,), generator=gen))
    offsets = torch.div(torch.arange(n_draws) * L, n_draws, rounding_mode="floor")
    return (k + offsets) % L + 1


@torch.no_grad()
def elbo_draws(model: Any, context: Sequence[int], continuation: Sequence[int], n_draws: int = DEFAULT_DRAWS,
               seed: int = 0, batch_size: int = 32) -> torch.Tensor:
    """The ``n_draws`` single-draw estimates (L/l)·Σ_{i∈S} log p(r_i | p, r_{S^c}), in nats: their
    mean is the ELBO estimate, their spread its Monte Carlo error."""
    L = len(continuation)
    if L == 0:
        raise ValueError("the continuation is empty: its log-likelihood is not defined by the ELBO")
    P = len(context)
    seq = torch.tensor([*context, *continuation], dtype=torch.long)
    target = seq[P:]
    gen = torch.Generator().manual_seed(int(seed))
    counts = mask_counts(L, n_draws, gen)
    # choose each draw's masked set: the l smallest of L uniform keys is a uniform l-subset
    keys = torch.rand(n_draws, L, generator=gen)
    ranks = keys.argsort(1).argsort(1)
    masked = ranks < counts[:, None]                                    # [n, L]
    out = torch.empty(n_draws, dtype=torch.float64)
    for s in range(0, n_draws, batch_size):
        m = masked[s:s + batch_size]
        x = seq.repeat(m.shape[0], 1)
        x[:, P:] = torch.where(m, torch.full_like(m, model.mask_id, dtype=torch.long), target)
        logits = logits_at(model, x.to(model.device), torch.arange(P, P + L)).double().cpu()
        logp = torch.log_softmax(logits, -1).gather(-1, target.expand(m.shape[0], L)[..., None])[..., 0]
        out[s:s + m.shape[0]] = (logp * m).sum(1) * L / counts[s:s + m.shape[0]].double()
    return out


def elbo(model: Any, context: Sequence[int], continuation: Sequence[int], n_draws: int = DEFAULT_DRAWS,
         seed: int = 0, batch_size: int = 32) -> float:
    """The Monte Carlo ELBO estimate of log p(continuation | context), in nats."""
    return float(elbo_draws(model, context, continuation, n_draws, seed, batch_size).mean())


@torch.no_grad()
def exact_elbo(model: Any, context: Sequence[int], continuation: Sequence[int]) -> float:
    """The bound itself, by enumerating every masked set (2^L forwards: small L only, for tests)."""
    L, P = len(continuation), len(context)
    seq = torch.tensor([*context, *continuation], dtype=torch.long)
    total = 0.0
    for l in range(1, L + 1):
        subsets = list(itertools.combinations(range(L), l))
        x = seq.repeat(len(subsets), 1)
        for r, S in enumerate(subsets):
            x[r, [P + i for i in S]] = model.mask_id
        logp = torch.log_softmax(logits_at(model, x, torch.arange(P, P + L)).double(), -1)
        for r, S in enumerate(subsets):
            total += sum(float(logp[r, i, continuation[i]]) for i in S) * (L / l) / (L * math.comb(L, l))
    return total


__all__ = ["DEFAULT_DRAWS", "elbo", "elbo_draws", "exact_elbo", "mask_counts"]
