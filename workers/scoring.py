"""Rescoring a finished completion under the same model.

``left_to_right_bits``: the completion's left-to-right NLL (002 §5.1 computes the "true joint
log-probability" of each generated sequence this way): Σ_j −log2 p(x_j | prompt, x_<j, masks
after j), with all G prefixes of a sample forwarded as one batch of rows.
"""
from __future__ import annotations

import math
from typing import Any, Sequence

import torch

from workers.samplers.base import build_canvas


@torch.no_grad()
def left_to_right_bits(model: Any, prompts: Sequence[Sequence[int]], completions: torch.Tensor,
                       max_rows: int = 1024) -> list[float]:
    """Left-to-right NLL in bits of each completion row [B, G] given its prompt."""
    completions = torch.as_tensor(completions, dtype=torch.long)
    B, G = completions.shape
    if len(prompts) != B:
        raise ValueError(f"got {len(prompts)} prompts for {B} completions")
    x, attn, ragged, P = build_canvas(model, prompts, G)
    completions = completions.to(x.device)
    ar = torch.arange(G, device=x.device)
    out: list[float] = []
    for b in range(B):
        rows = x[b].repeat(G, 1)                       # row j reveals x_<j, masks j..G-1
        revealed = ar[None, :] < ar[:, None]
        rows[:, P:] = torch.where(revealed, completions[b][None, :], rows[:, P:])
        nats = 0.0
        for k in range(0, G, max_rows):
            chunk = rows[k:k + max_rows]
            kw = {"attention_mask": attn[b].repeat(len(chunk), 1)} if ragged else {}
            logits = model.logits(chunk, **kw)[:, P:, :].double()
            logits[..., model.mask_id] = -math.inf
            j = ar[k:k + len(chunk)]
            lp = torch.log_softmax(logits[torch.arange(len(chunk)), j], -1)
            nats -= float(lp.gather(-1, completions[b, j][:, None]).sum())
        out.append(nats / math.log(2))
    return out
