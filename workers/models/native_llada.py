"""The project's own LLaDA (Nie et al. 2025): a LLaMA-style transformer without a causal mask.

Reads the published checkpoint as it is: ``config.json`` (OLMo-style field names: ``d_model``,
``n_heads``, ``n_kv_heads``, ``n_layers``, ``mlp_hidden_size``, ``embedding_size``, ``rope_theta``,
``rms_norm_eps``) and ``model.safetensors[.index.json]`` with the published parameter names
(``model.transformer.wte``, ``blocks.{i}.{q,k,v}_proj``, ``attn_out``, ``ff_proj`` (gate),
``up_proj``, ``ff_out`` (down), ``attn_norm``, ``ff_norm``, ``ln_f``, ``ff_out`` (head)).

Differences from the published modelling code, on purpose: the padding mask is honoured (the
published attention passes ``attn_mask=None``) and RoPE positions count real tokens only, so a
left-padded prompt gives the logits it gives alone; prefix / dual caches (``native_common``).
Without padding the logits equal the published code's (fp32 max abs diff in README).
RoPE is applied in fp32 (the published ``rope_full_precision``).
"""
from __future__ import annotations

import json
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any, Optional, Union

from workers.models.native_common import NativeTransformer


@dataclass(frozen=True)
class LLaDAConfig:
    """The fields of LLaDA's config.json the forward needs (defaults: LLaDA-8B)."""

    d_model: int = 4096
    n_heads: int = 32
    n_kv_heads: Optional[int] = 32
    n_layers: int = 32
    mlp_hidden_size: int = 12288
    vocab_size: int = 126464
    embedding_size: Optional[int] = 126464
    rope_theta: float = 500000.0
    rms_norm_eps: float = 1e-5
    include_bias: bool = False
    include_qkv_bias: bool = False
    weight_tying: bool = False
    block_type: str = "llama"
    layer_norm_type: str = "rms"
    activation_type: str = "silu"
    scale_logits: bool = False
    input_emb_norm: bool = False
    alibi: bool = False
    rope: bool = True

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "LLaDAConfig":
        cfg = cls(**{f.name: d[f.name] for f in fields(cls) if f.name in d and d[f.name] is not None})
        unsupported = [what for what, bad in (
            ("block_type != llama", cfg.block_type != "llama"), ("layer_norm_type != rms", cfg.layer_norm_type != "rms"),
            ("activation_type != silu", cfg.activation_type not in ("silu", "swiglu")),
            ("include_bias", cfg.include_bias), ("scale_logits", cfg.scale_logits),
            ("input_emb_norm", cfg.input_emb_norm), ("alibi", cfg.alibi), ("rope off", not cfg.rope)) if bad]
        if unsupported:
            raise ValueError(f"native LLaDA does not implement {', '.join(unsupported)}; use impl='remote'")
        return cfg

    @classmethod
    def from_folder(cls, folder: Union[str, Path]) -> "LLaDAConfig":
        return cls.from_dict(json.loads((Path(folder) / "config.json").read_text()))


_NAMES = [  # published name (regex) -> ours
    (r"model\.transformer\.wte\.weight", "embed.weight"),
    (r"model\.transformer\.ln_f\.weight", "norm.weight"),
    (r"model\.transformer\.ff_out\.weight", "head.weight"),
    (r"model\.transformer\.blocks\.(\d+)\.attn_norm\.weight", r"blocks.\1.attn_norm.weight"),
    (r"model\.transformer\.blocks\.(\d+)\.ff_norm\.weight", r"blocks.\1.mlp_norm.weight"),
    (r"model\.transformer\.blocks\.(\d+)\.([qkv])_proj\.(weight|bias)", r"blocks.\1.attn.\2.\3"),
    (r"model\.transformer\.blocks\.(\d+)\.attn_out\.weight", r"blocks.\1.attn.o.weight"),
    (r"model\.transformer\.blocks\.(\d+)\.ff_proj\.weight", r"blocks.\1.mlp.gate.weight"),
    (r"model\.transformer\.blocks\.(\d+)\.up_proj\.weight", r"blocks.\1.mlp.up.weight"),
    (r"model\.transformer\.blocks\.(\d+)\.ff_out\.weight", r"blocks.\1.mlp.down.weight"),
]


class NativeLLaDA(NativeTransformer):
    """LLaDA's forward: ``model(input_ids, attention_mask, past_key_values, use_cache, suffix_key_values)``;
    row i of the logits predicts position i (no shift)."""

    names = _NAMES
    config_class = LLaDAConfig

    def __init__(self, cfg: LLaDAConfig) -> None:
        vocab = cfg.embedding_size or cfg.vocab_size
        super().__init__(vocab, cfg.d_model, cfg.mlp_hidden_size, cfg.n_layers, cfg.n_heads,
                         cfg.n_kv_heads or cfg.n_heads, cfg.include_qkv_bias, cfg.rope_theta, cfg.rms_norm_eps,
                         rope_fp32=True)
        self.config, self.tied = cfg, cfg.weight_tying

