"""LLaDA-8B (Instruct / Base) behind the denoiser contract (Nie et al. 2025; 000 §5, App. B).

LLaDA's modelling code lives in its hub repository (``trust_remote_code``); its forward takes
``input_ids`` and an optional 2-D ``attention_mask`` and returns logits where row i predicts
position i, so the generic adapter needs only LLaDA's special ids: mask 126336, EOS 126081 and
the end-of-turn token 126348 (the Instruct model ends its answer with EoT, then pads with EOS).
The chat template comes from the tokenizer (``encode_prompt``).
"""
from __future__ import annotations

from workers.models.hf import HFDenoiser
from workers.models.registry import Preset, register_preset

LLADA_MASK_ID = 126336
LLADA_EOS_ID = 126081
LLADA_EOT_ID = 126348


class LLaDADenoiser(HFDenoiser):
    trust_remote_code = True

    def __init__(self, model, tokenizer, *, name: str, mask_id: int = LLADA_MASK_ID,
                 eos_id: int = LLADA_EOS_ID, pad_id: int = LLADA_EOS_ID,
                 stop_ids=(LLADA_EOS_ID, LLADA_EOT_ID)) -> None:
        super().__init__(model, tokenizer, name=name, mask_id=mask_id, eos_id=eos_id,
                         pad_id=pad_id, stop_ids=stop_ids)


for _name, _hub in (("llada-8b-instruct", "GSAI-ML/LLaDA-8B-Instruct"),
                    ("llada-8b-base", "GSAI-ML/LLaDA-8B-Base")):
    register_preset(Preset(_name, LLaDADenoiser, _hub))
    register_preset(Preset(_hub, LLaDADenoiser, _hub))   # the hub id picks the adapter too
