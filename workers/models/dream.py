"""Dream-7B behind the denoiser contract (Ye et al. 2025).

Dream was initialised from an autoregressive LM and keeps its alignment: the logits at position
i−1 predict the token at position i.  The adapter shifts them back (``shift_logits``) so that row
i predicts position i, as every sampler expects.  Its attention-mask convention: with left
padding, Dream's forward takes a 4-D boolean mask [B, 1, L, L] (query and key both real) and
position ids that count only real tokens (cumsum of the 2-D mask − 1); without padding, the
string ``"full"``.  Mask id 151666, pad (= EOS ``<|endoftext|>``) 151643 by default (the
checkpoint's config and tokenizer come first); decoding also stops at ``<|im_end|>``.

``impl="native"`` (default) runs ``workers/models/native_dream.py`` (2-D padding mask, caches);
``impl="remote"`` the checkpoint's own code (``trust_remote_code``).

Step schedule when comparing with Dream's published numbers: ``diffusion_generate`` with
steps = gen_length does not commit one token per step.  Its schedule commits
int(n·(1 − s/t)) tokens at each step (n masked tokens left, times t > s on a linear grid), which
rounds to an empty first step and two tokens at the end; the project's one-token samplers commit
exactly one per step.
"""
from __future__ import annotations

from typing import Any, Iterable, Optional

import torch

from workers.denoiser import take_positions
from workers.models.hf import HFDenoiser, _first_int
from workers.models.native_common import forward_rows
from workers.models.native_dream import NativeDream
from workers.models.registry import Preset, register_preset

DREAM_MASK_ID = 151666
DREAM_PAD_ID = 151643


def dream_attention(attention_mask: Optional[torch.Tensor]) -> tuple[object, Optional[torch.Tensor]]:
    """2-D padding mask → (Dream's 4-D boolean mask or "full", position ids or None)."""
    if attention_mask is None or bool((attention_mask != 0).all()):
        return "full", None
    m = attention_mask.bool()
    pos = attention_mask.long().cumsum(-1) - 1
    pos = pos.masked_fill(~m, 1)
    return m[:, None, None, :] & m[:, None, :, None], pos


class DreamDenoiser(HFDenoiser):
    trust_remote_code = True
    shift_logits = True
    native_module = NativeDream
    default_ids = {"mask_id": DREAM_MASK_ID, "eos_id": DREAM_PAD_ID, "pad_id": DREAM_PAD_ID}
    end_of_turn_tokens = ("<|im_end|>",)

    def __init__(self, model: Any, tokenizer: Any, *, name: str, mask_id: Optional[int] = None,
                 eos_id: Optional[int] = None, pad_id: Optional[int] = None,
                 stop_ids: Iterable[int] = ()) -> None:
        cfg = getattr(model, "config", None)   # explicit ids, else the model's config, else Dream-7B's
        super().__init__(model, tokenizer, name=name,
                         mask_id=_first_int(mask_id, getattr(cfg, "mask_token_id", None), DREAM_MASK_ID),
                         eos_id=eos_id, pad_id=_first_int(pad_id, getattr(cfg, "pad_token_id", None), DREAM_PAD_ID),
                         stop_ids=stop_ids)

    def _forward(self, x: torch.Tensor, attention_mask: Optional[torch.Tensor],
                 rows: Optional[torch.Tensor] = None) -> torch.Tensor:
        if getattr(self.model, "native", False):   # the native module takes the 2-D mask itself
            return forward_rows(self.model, rows, input_ids=x, attention_mask=attention_mask)[0]
        mask, pos = dream_attention(attention_mask)
        out = self.model(x, mask, pos)
        logits = out.logits if hasattr(out, "logits") else out[0]
        return logits if rows is None else take_positions(logits, rows)


for _name, _hub in (("dream-7b-instruct", "Dream-org/Dream-v0-Instruct-7B"),
                    ("dream-7b-base", "Dream-org/Dream-v0-Base-7B")):
    register_preset(Preset(_name, DreamDenoiser, _hub))
    register_preset(Preset(_hub, DreamDenoiser, _hub))
