"""WeDLM-8B (Base / Instruct) behind the denoiser contract (Liu et al. 2025; 000 §5, App. B).

WeDLM is a causal transformer: the adapter's ``logits(x)`` runs WeDLM's topologically reordered
forward over the canvas (``native_wedlm.reordered_logits``: filled tokens first, masks after, each
at its logical RoPE position) and puts the rows back, so row i predicts position i like every
other denoiser.  Because attention is causal in the reordered order, a mask sees every filled
token and the masks before it, never the masks after it: trailing masks change nothing upstream,
which is what lets the streaming window (``stream_window``) decode a long answer W positions at
a time (WeDLM §4; the samplers' ``window_bounds``).

Two implementations of the same weights (``load_model(..., impl=...)``): ``"native"`` (default,
``workers/models/native_wedlm.py``: SDPA, real padding mask, prefix KV cache) and ``"remote"``
(the checkpoint's published ``WeDLMForCausalLM``, only with ``trust_remote_code``).

Special ids come from the checkpoint's config and tokenizer; the defaults (mask 151665 as the
published engine's fallback, pad ``<|endoftext|>`` 151643, EOS ``<|im_end|>`` 151645: Qwen3's
chat tokens) fill what they leave unset.  ``random`` order is refused on WeDLM (000 §5: its
left-to-right training bias makes random-order decoding degenerate).
"""
from __future__ import annotations

from typing import Any, Iterable, Optional

import torch

from workers.models.hf import HFDenoiser, _first_int
from workers.models.native_wedlm import NativeWeDLM, reordered_logits, shared_prefix_logits
from workers.models.registry import Preset, register_preset
from workers.tinymodel import WEDLM_CHECKPOINT_DIR

WEDLM_MASK_ID = 151665
WEDLM_PAD_ID = 151643
WEDLM_EOS_ID = 151645
#: The published engine's sliding window (wedlm/config.py ``wedlm_window_size``) and 000's N = 16
WEDLM_WINDOW = 16
#: 000 App. B: IMH on WeDLM runs T = 8 proposals per step, Δ̂ over the 16 positions after i (§5);
#: the paper specs (sweeps/specs/papers/000-*.yaml) set them on WeDLM rows
WEDLM_IMH = {"chain_length": 8, "window": WEDLM_WINDOW}


class WeDLMDenoiser(HFDenoiser):
    trust_remote_code = True
    native_module = NativeWeDLM
    default_ids = {"mask_id": WEDLM_MASK_ID, "eos_id": WEDLM_EOS_ID, "pad_id": WEDLM_PAD_ID}
    end_of_turn_tokens = ("<|im_end|>", "<|endoftext|>")
    #: the samplers decode WeDLM in a sliding window of this many generated positions
    stream_window: Optional[int] = WEDLM_WINDOW
    #: sampler name -> why it is refused on this model (``Sampler.generate`` reads it)
    refused_samplers = {"random": "000 §5: WeDLM's left-to-right (causal) training bias makes random-order "
                                  "decoding degenerate, so 000 does not run it on WeDLM"}

    def __init__(self, model: Any, tokenizer: Any, *, name: str, mask_id: Optional[int] = None,
                 eos_id: Optional[int] = None, pad_id: Optional[int] = None,
                 stop_ids: Iterable[int] = (), stream_window: Optional[int] = WEDLM_WINDOW) -> None:
        """``stream_window``: the sliding window's width (0 / None: block mode, as the published
        ``generate_wedlm``: the samplers' block semi-AR windows alone)."""
        self.stream_window = int(stream_window) if stream_window else None
        cfg = getattr(model, "config", None)
        ids = {k: _first_int(v, getattr(cfg, c, None), self.default_ids[k]) for k, v, c in (
            ("mask_id", mask_id, "mask_token_id"), ("eos_id", eos_id, "eos_token_id"), ("pad_id", pad_id, "pad_token_id"))}
        super().__init__(model, tokenizer, name=name, **ids, stop_ids=stop_ids)

    @classmethod
    def _load_model(cls, src: str, dtype: torch.dtype, trust: bool = False) -> Any:
        """The published ``WeDLMForCausalLM`` (its auto_map's causal-LM class: the bare AutoModel
        would have no output head)."""
        from transformers import AutoModelForCausalLM

        return AutoModelForCausalLM.from_pretrained(src, dtype=dtype, trust_remote_code=trust)

    #: share the prompt + confirmed-prefix KV cache between rows with the same prefix (IMH's
    #: candidates; native module only); False: every row forwards its whole canvas
    share_prefix: bool = True

    def _forward(self, x: torch.Tensor, attention_mask: Optional[torch.Tensor],
                 rows: Optional[torch.Tensor] = None) -> torch.Tensor:
        """Canvas-order logits (no shift: ``rows`` are positions), through the reordered forward."""
        if attention_mask is not None and bool(attention_mask.all()):
            attention_mask = None
        if self.share_prefix and isinstance(self.model, NativeWeDLM) and x.shape[0] > 1:
            out = shared_prefix_logits(self.model, x, self.mask_id, attention_mask, rows)
            if out is not None:
                return out
        return reordered_logits(self.model, x, self.mask_id, attention_mask, rows)

    # The prefix / dual caches of workers/prefix_cache.py assume bidirectional attention; WeDLM's
    # cache is the causal one of its confirmed prefix (native_wedlm, ``past_key_values``).
    @property
    def supports_prefix_cache(self) -> bool:
        return False

    @property
    def supports_dual_cache(self) -> bool:
        return False


for _name, _hub in (("wedlm-8b-instruct", "tencent/WeDLM-8B-Instruct"),
                    ("wedlm-8b", "tencent/WeDLM-8B-Base")):
    register_preset(Preset(_name, WeDLMDenoiser, _hub))
    register_preset(Preset(_hub, WeDLMDenoiser, _hub))
# The project's own tiny WeDLM (arith; workers/tinymodel/wedlm/TRAINING.md): the WeDLM path on CPU
register_preset(Preset("tiny-wedlm", WeDLMDenoiser, str(WEDLM_CHECKPOINT_DIR), local=True))
