"""Random-weight LLaDA / Dream / WeDLM checkpoints in the published layout (tests and benchmarks).

No 8B weights are reachable here, so tests and benchmarks write checkpoint folders the way the
published ones look: ``config.json`` with the published field names (architectures, model_type,
auto_map, special ids), ``model.safetensors`` with the published parameter names and shapes (the
ones LLaDA-8B's, Dream-7B's and WeDLM-8B's ``model.safetensors.index.json`` list), and a tokenizer.  The
names below are written out from the published index, not derived from the native modules, so
loading such a folder checks the modules' name mapping.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Optional, Union

import torch

#: LLaDA-8B's config.json (the fields that matter), shape overridable
LLADA_8B: dict[str, Any] = {
    "architectures": ["LLaDAModelLM"], "model_type": "llada",
    "auto_map": {"AutoConfig": "configuration_llada.LLaDAConfig", "AutoModel": "modeling_llada.LLaDAModelLM",
                 "AutoModelForCausalLM": "modeling_llada.LLaDAModelLM"},
    "d_model": 4096, "n_heads": 32, "n_kv_heads": 32, "n_layers": 32, "mlp_hidden_size": 12288,
    "mlp_ratio": 4, "vocab_size": 126464, "embedding_size": 126464, "max_sequence_length": 4096,
    "rope_theta": 500000.0, "rms_norm_eps": 1e-05, "block_type": "llama", "layer_norm_type": "rms",
    "activation_type": "silu", "include_bias": False, "include_qkv_bias": False, "weight_tying": False,
    "rope": True, "rope_full_precision": True, "scale_logits": False, "input_emb_norm": False, "alibi": False,
    "mask_token_id": 126336, "eos_token_id": 126081, "pad_token_id": 126081, "torch_dtype": "bfloat16",
}

#: Dream-v0-7B's config.json (the fields that matter), shape overridable
DREAM_7B: dict[str, Any] = {
    "architectures": ["DreamModel"], "model_type": "Dream",
    "auto_map": {"AutoConfig": "configuration_dream.DreamConfig", "AutoModel": "modeling_dream.DreamModel"},
    "hidden_size": 3584, "intermediate_size": 18944, "num_hidden_layers": 28, "num_attention_heads": 28,
    "num_key_value_heads": 4, "vocab_size": 152064, "max_position_embeddings": 131072, "rope_theta": 1000000.0,
    "rms_norm_eps": 1e-06, "hidden_act": "silu", "tie_word_embeddings": False, "rope_scaling": None,
    "mask_token_id": 151666, "pad_token_id": 151643, "bos_token_id": 151643, "eos_token_id": 151643,
    "torch_dtype": "bfloat16",
}

#: WeDLM-8B's config.json (the fields that matter: a Qwen3-8B shape with q/k norm, no attention
#: bias; ``auto_map`` names the published hf_compat files), shape overridable
WEDLM_8B: dict[str, Any] = {
    "architectures": ["WeDLMForCausalLM"], "model_type": "wedlm",
    "auto_map": {"AutoConfig": "configuration_wedlm.WeDLMConfig", "AutoModel": "modeling_wedlm.WeDLMModel",
                 "AutoModelForCausalLM": "modeling_wedlm.WeDLMForCausalLM"},
    "hidden_size": 4096, "intermediate_size": 12288, "num_hidden_layers": 36, "num_attention_heads": 32,
    "num_key_value_heads": 8, "head_dim": 128, "vocab_size": 151936, "max_position_embeddings": 32768,
    "rope_theta": 1000000.0, "rms_norm_eps": 1e-06, "hidden_act": "silu", "tie_word_embeddings": False,
    "rope_scaling": None, "attention_bias": False, "qk_norm": True, "use_sliding_window": False,
    "mask_token_id": 151665, "pad_token_id": 151643, "bos_token_id": 151643, "eos_token_id": 151645,
    "torch_dtype": "bfloat16",
}


def llada_parameters(c: dict[str, Any]) -> dict[str, tuple[int, ...]]:
    """LLaDA's published parameter names and shapes."""
    d, h, kv = c["d_model"], c["mlp_hidden_size"], c["n_kv_heads"] * (c["d_model"] // c["n_heads"])
    V = c.get("embedding_size") or c["vocab_size"]
    out = {"model.transformer.wte.weight": (V, d), "model.transformer.ln_f.weight": (d,),
           "model.transformer.ff_out.weight": (V, d)}
    for i in range(c["n_layers"]):
        b = f"model.transformer.blocks.{i}."
        out.update({b + "attn_norm.weight": (d,), b + "ff_norm.weight": (d,), b + "q_proj.weight": (d, d),
                    b + "k_proj.weight": (kv, d), b + "v_proj.weight": (kv, d), b + "attn_out.weight": (d, d),
                    b + "ff_proj.weight": (h, d), b + "up_proj.weight": (h, d), b + "ff_out.weight": (d, h)})
    return out


def dream_parameters(c: dict[str, Any]) -> dict[str, tuple[int, ...]]:
    """Dream's published (Qwen2) parameter names and shapes."""
    d, h, V = c["hidden_size"], c["intermediate_size"], c["vocab_size"]
    kv = c["num_key_value_heads"] * (d // c["num_attention_heads"])
    out = {"model.embed_tokens.weight": (V, d), "model.norm.weight": (d,), "lm_head.weight": (V, d)}
    for i in range(c["num_hidden_layers"]):
        b = f"model.layers.{i}."
        out.update({b + "input_layernorm.weight": (d,), b + "post_attention_layernorm.weight": (d,),
                    b + "self_attn.q_proj.weight": (d, d), b + "self_attn.q_proj.bias": (d,),
                    b + "self_attn.k_proj.weight": (kv, d), b + "self_attn.k_proj.bias": (kv,),
                    b + "self_attn.v_proj.weight": (kv, d), b + "self_attn.v_proj.bias": (kv,),
                    b + "self_attn.o_proj.weight": (d, d), b + "mlp.gate_proj.weight": (h, d),
                    b + "mlp.up_proj.weight": (h, d), b + "mlp.down_proj.weight": (d, h)})
    return out


def wedlm_parameters(c: dict[str, Any]) -> dict[str, tuple[int, ...]]:
    """WeDLM's published (Qwen2/Qwen3-style) parameter names and shapes; q/k/v biases when
    ``attention_bias``, per-head q/k norms when ``qk_norm``."""
    d, h, V = c["hidden_size"], c["intermediate_size"], c["vocab_size"]
    hd = c.get("head_dim") or d // c["num_attention_heads"]
    q, kv = c["num_attention_heads"] * hd, c["num_key_value_heads"] * hd
    out = {"model.embed_tokens.weight": (V, d), "model.norm.weight": (d,)}
    if not c.get("tie_word_embeddings"):
        out["lm_head.weight"] = (V, d)
    for i in range(c["num_hidden_layers"]):
        b = f"model.layers.{i}."
        out.update({b + "input_layernorm.weight": (d,), b + "post_attention_layernorm.weight": (d,),
                    b + "self_attn.q_proj.weight": (q, d), b + "self_attn.k_proj.weight": (kv, d),
                    b + "self_attn.v_proj.weight": (kv, d), b + "self_attn.o_proj.weight": (d, q),
                    b + "mlp.gate_proj.weight": (h, d), b + "mlp.up_proj.weight": (h, d),
                    b + "mlp.down_proj.weight": (d, h)})
        if c.get("attention_bias", True):
            out.update({b + "self_attn.q_proj.bias": (q,), b + "self_attn.k_proj.bias": (kv,),
                        b + "self_attn.v_proj.bias": (kv,)})
        if c.get("qk_norm"):
            out.update({b + "self_attn.q_norm.weight": (hd,), b + "self_attn.k_norm.weight": (hd,)})
    return out


def write_random_checkpoint(folder: Union[str, Path], family: str, seed: int = 0, tokenizer: Any = None,
                            dtype: torch.dtype = torch.float32, **shape: Any) -> Path:
    """Write a random ``family`` ("llada" / "dream" / "wedlm") checkpoint; ``shape`` overrides config fields
    (e.g. d_model=64, n_layers=2); ``tokenizer`` (saved with ``save_pretrained``) defaults to none."""
    from safetensors.torch import save_file

    base, params = {"llada": (LLADA_8B, llada_parameters), "dream": (DREAM_7B, dream_parameters),
                    "wedlm": (WEDLM_8B, wedlm_parameters)}[family]
    cfg = {**base, **shape}
    g = torch.Generator().manual_seed(seed)
    tensors = {}
    for name, shp in params(cfg).items():
        if name.endswith("norm.weight") or name.endswith("ln_f.weight"):
            t = 1.0 + 0.1 * torch.randn(shp, generator=g)
        else:
            t = torch.randn(shp, generator=g) * (0.5 if len(shp) == 1 else 1.0 / shp[-1] ** 0.5)
        tensors[name] = t.to(dtype).contiguous()
    out = Path(folder)
    out.mkdir(parents=True, exist_ok=True)
    (out / "config.json").write_text(json.dumps(cfg, indent=1))
    save_file(tensors, str(out / "model.safetensors"), metadata={"format": "pt"})
    if tokenizer is not None:
        tokenizer.save_pretrained(str(out))
    return out


def tiny_wedlm_checkpoint(folder: Union[str, Path], seed: int = 0) -> Path:
    """A tiny random WeDLM in the published layout with the project's tiny tokenizer (its ids:
    mask 1, EOS 2, pad 0, end of turn ``<|im_end|>`` 100): what ``reproduce.py --smoke`` runs
    WeDLM specs on, so their path — causal reordered forward, streaming window, IMH with a window —
    runs on CPU."""
    return write_random_checkpoint(folder, "wedlm", seed=seed, tokenizer=tiny_tokenizer("<|im_end|>"),
                                   hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=4,
                                   num_key_value_heads=2, head_dim=8, vocab_size=101, mask_token_id=1,
                                   eos_token_id=2, pad_token_id=0, bos_token_id=0)


def tiny_tokenizer(end_of_turn: Optional[str] = None) -> Any:
    """The project's tiny character tokenizer, optionally with an end-of-turn special token."""
    from workers.tinymodel.tokenizer import build_tokenizer

    tok = build_tokenizer()
    if end_of_turn:
        tok.add_special_tokens({"additional_special_tokens": [end_of_turn]})
    return tok


class _Ids:
    """A stand-in tokenizer for random-weight models (prompts are random ids; nothing is decoded)."""

    def __init__(self, vocab: int, mask: int, eos: int, pad: int) -> None:
        self.vocab, self.mask_token_id, self.eos_token_id, self.pad_token_id = vocab, mask, eos, pad
        self.chat_template = None

    def __len__(self) -> int:
        return self.vocab

    def encode(self, text: str, add_special_tokens: bool = True) -> list[int]:
        return [200 + (ord(c) % 1000) for c in text]

    def decode(self, ids: Any, **kw: Any) -> str:
        return " ".join(map(str, ids))


def random_native_denoiser(family: str, device: Union[str, torch.device] = "cpu", dtype: torch.dtype = torch.float32,
                           seed: int = 0, **shape: Any) -> Any:
    """A native LLaDA / Dream / WeDLM with random weights built in memory (no folder: 8B weights would be
    16 GB on disk), behind its adapter.  ``shape`` overrides the published config's fields."""
    from workers.models.dream import DreamDenoiser
    from workers.models.llada import LLaDADenoiser
    from workers.models.native_dream import DreamConfig, NativeDream
    from workers.models.native_llada import LLaDAConfig, NativeLLaDA
    from workers.models.native_wedlm import NativeWeDLM, WeDLMConfig
    from workers.models.wedlm import WeDLMDenoiser

    base, cfg_cls, mod_cls, adapter = {"llada": (LLADA_8B, LLaDAConfig, NativeLLaDA, LLaDADenoiser),
                                       "dream": (DREAM_7B, DreamConfig, NativeDream, DreamDenoiser),
                                       "wedlm": (WEDLM_8B, WeDLMConfig, NativeWeDLM, WeDLMDenoiser)}[family]
    cfg = {**base, **shape}
    torch.manual_seed(seed)
    with torch.device("meta"):
        model = mod_cls(cfg_cls.from_dict(cfg)).to(dtype)   # allocate once, in the target dtype
    model = model.to_empty(device=device)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if "norm" in name:
                p.fill_(1.0)
            else:
                p.normal_(0.0, 1.0 / p.shape[-1] ** 0.5)
    model = model.eval().requires_grad_(False)
    V = cfg.get("embedding_size") or cfg["vocab_size"]
    tok = _Ids(V, cfg["mask_token_id"], cfg["eos_token_id"], cfg["pad_token_id"])
    return adapter(model, tok, name=f"{family}-random", mask_id=cfg["mask_token_id"], eos_id=cfg["eos_token_id"],
                   pad_id=cfg["pad_token_id"], stop_ids=())
