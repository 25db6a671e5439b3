"""LLaDA-8B (Instruct / Base) behind the denoiser contract (Nie et al. 2025; 000 §5, App. B).

Two implementations of the same weights (``load_model(..., impl=...)``):

- ``"native"`` (default): ``workers/models/native_llada.py``, the project's own module.  It honours
  the padding mask, so ragged batches are batch-invariant, and takes prefix / dual caches.
- ``"remote"``: the checkpoint's own ``trust_remote_code`` modelling code.  Its attention ignores
  ``attention_mask`` (and positions count padding), so left padding changes a prompt's logits: the
  load-time probe marks it ``honours_attention_mask = False`` and ``generate`` then never mixes
  prompt lengths in one forward.  Its code imports ``einops``.

Either way row i of the logits predicts position i.  Special ids come from the checkpoint's config
and tokenizer; the defaults below (mask 126336, EOS 126081, end-of-turn <|eot_id|> 126348: the
Instruct model ends its answer with EoT, then pads with EOS) fill what they leave unset.
"""
from __future__ import annotations

from typing import Any, Iterable, Optional

from workers.models.hf import HFDenoiser, _first_int
from workers.models.native_llada import NativeLLaDA
from workers.models.registry import Preset, register_preset

LLADA_MASK_ID = 126336
LLADA_EOS_ID = 126081
LLADA_EOT_ID = 126348


class LLaDADenoiser(HFDenoiser):
    trust_remote_code = True
    native_module = NativeLLaDA
    default_ids = {"mask_id": LLADA_MASK_ID, "eos_id": LLADA_EOS_ID, "pad_id": LLADA_EOS_ID}
    end_of_turn_tokens = ("<|eot_id|>",)

    def __init__(self, model: Any, tokenizer: Any, *, name: str, mask_id: Optional[int] = None,
                 eos_id: Optional[int] = None, pad_id: Optional[int] = None,
                 stop_ids: Optional[Iterable[int]] = None) -> None:
        # explicit ids, else the model's config (a checkpoint may differ from LLaDA-8B), else LLaDA-8B's
        d, cfg = self.default_ids, getattr(model, "config", None)
        ids = {k: _first_int(v, getattr(cfg, c, None), d[k]) for k, v, c in (
            ("mask_id", mask_id, "mask_token_id"), ("eos_id", eos_id, "eos_token_id"), ("pad_id", pad_id, "pad_token_id"))}
        super().__init__(model, tokenizer, name=name, **ids,
                         stop_ids=(LLADA_EOS_ID, LLADA_EOT_ID) if stop_ids is None else stop_ids)


for _name, _hub in (("llada-8b-instruct", "GSAI-ML/LLaDA-8B-Instruct"),
                    ("llada-8b-base", "GSAI-ML/LLaDA-8B-Base")):
    register_preset(Preset(_name, LLaDADenoiser, _hub))
    register_preset(Preset(_hub, LLaDADenoiser, _hub))   # the hub id picks the adapter too
