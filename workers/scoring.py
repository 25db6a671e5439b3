"""Rescoring a finished completion under the same model.

``left_to_right_bits``: the completion's left-to-right NLL (002 §5.1 computes the "true joint
log-probability" of each generated sequence this way): Σ_j −log2 p(x_j | prompt, x_<j, masks
after j).  Every sample's G prefixes are rows of one flat batch, forwarded ``max_rows`` at a
time across samples (a sweep's ``bits_l2r`` column, when a job asks for it).
"""
from __future__ import annotations

import math
from typing import Any, Sequence

import torch

from workers.denoiser import logits_at
from workers.samplers.base import build_canvas


@torch.no_grad()
def left_to_right_bits(model: Any, prompts: Sequence[Sequence[int]], completions: torch.Tensor,
                       max_rows: int = 1024) -> list[float]:
    """Left-to-right NLL in bits of each completion row [B, G] given its prompt."""
    completions = torch.as_tensor(completions, dtype=torch.long)
    B, G = completions.shape
    if len(prompts) != B:
        raise ValueError(f"got {len(prompts)} prompts for {B} completions")
    if max_rows < 1:
        raise ValueError(f"max_rows must be >= 1, got {max_rows}")
    x, attn, ragged, P = build_canvas(model, prompts, G)
    completions = completions.to(x.device)
    ar = torch.arange(G, device=x.device)
    revealed = ar[None, :] < ar[:, None]                   # row j reveals x_<j, masks j..G-1
    # Flat row r = (sample r // G, position r % G); built chunk by chunk to bound memory.
    nats = torch.zeros(B, dtype=torch.float64, device=x.device)
    for k in range(0, B * G, max_rows):
        r = torch.arange(k, min(k + max_rows, B * G), device=x.device)
        b, j = r // G, r % G
        rows = x[b].clone()
        rows[:, P:] = torch.where(revealed[j], completions[b], rows[:, P:])
        # the one position each row scores (issue 27: not the [rows, L, V] logits of every position)
        logits = logits_at(model, rows, (P + j)[:, None], attn[b] if ragged else None)[:, 0].double()
        logits[..., model.mask_id] = -math.inf
        lp = torch.log_softmax(logits, -1).gather(-1, completions[b, j][:, None]).squeeze(-1)
        nats.index_add_(0, b, -lp)
    return (nats / math.log(2)).tolist()
