"""The project's own Dream (Ye et al. 2025): a Qwen2-style transformer without a causal mask.

Reads the published checkpoint as it is: ``config.json`` (Qwen2 field names: ``hidden_size``,
``intermediate_size``, ``num_hidden_layers``, ``num_attention_heads``, ``num_key_value_heads``,
``rope_theta``, ``rms_norm_eps``, ``tie_word_embeddings``) and ``model.safetensors[.index.json]``
with the published names (``model.embed_tokens``, ``model.layers.{i}.self_attn.{q,k,v,o}_proj``
(q/k/v with bias), ``mlp.{gate,up,down}_proj``, ``input_layernorm``, ``post_attention_layernorm``,
``model.norm``, ``lm_head``).

Like the published model it returns logits where row i predicts position i + 1 (Dream keeps its
autoregressive initialisation's alignment); ``DreamDenoiser`` shifts them.  The padding mask is
a plain 2-D mask here (the published forward wants a 4-D boolean mask and position ids); RoPE is
applied in the weights' dtype, as Qwen2 does.  Prefix / dual caches: ``native_common``.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any, Optional, Union

from workers.models.native_common import NativeTransformer


@dataclass(frozen=True)
class DreamConfig:
    """The fields of Dream's config.json the forward needs (defaults: Dream-v0-7B)."""

    hidden_size: int = 3584
    intermediate_size: int = 18944
    num_hidden_layers: int = 28
    num_attention_heads: int = 28
    num_key_value_heads: int = 4
    vocab_size: int = 152064
    rope_theta: float = 1000000.0
    rms_norm_eps: float = 1e-6
    tie_word_embeddings: bool = False
    hidden_act: str = "silu"
    rope_scaling: Optional[dict] = None

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "DreamConfig":
        cfg = cls(**{f.name: d[f.name] for f in fields(cls) if f.name in d})
        if cfg.hidden_act != "silu" or cfg.rope_scaling:
            raise ValueError("native Dream implements silu and plain RoPE only (no rope_scaling); use impl='remote'")
        return cfg

    @classmethod
    def from_folder(cls, folder: Union[str, Path]) -> "DreamConfig":
        return cls.from_dict(json.loads((Path(folder) / "config.json").read_text()))


_NAMES = [  # published name (regex) -> ours
    (r"model\.embed_tokens\.weight", "embed.weight"),
    (r"model\.norm\.weight", "norm.weight"),
    (r"lm_head\.weight", "head.weight"),
    (r"model\.layers\.(\d+)\.input_layernorm\.weight", r"blocks.\1.attn_norm.weight"),
    (r"model\.layers\.(\d+)\.post_attention_layernorm\.weight", r"blocks.\1.mlp_norm.weight"),
    (r"model\.layers\.(\d+)\.self_attn\.([qkvo])_proj\.(weight|bias)", r"blocks.\1.attn.\2.\3"),
    (r"model\.layers\.(\d+)\.mlp\.(gate|up|down)_proj\.weight", r"blocks.\1.mlp.\2.weight"),
]


class NativeDream(NativeTransformer):
    """Dream's forward: ``model(input_ids, attention_mask, past_key_values, use_cache, suffix_key_values)``;
    row i of the logits predicts position i + 1."""

    names = _NAMES
    config_class = DreamConfig

    def __init__(self, cfg: DreamConfig) -> None:
        super().__init__(cfg.vocab_size, cfg.hidden_size, cfg.intermediate_size, cfg.num_hidden_layers,
                         cfg.num_attention_heads, cfg.num_key_value_heads, True, cfg.rope_theta,
                         cfg.rms_norm_eps, rope_fp32=False)
        self.config, self.tied = cfg, cfg.tie_word_embeddings

