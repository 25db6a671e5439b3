"""Pieces the native LLaDA and Dream modules share: RMSNorm, RoPE, bidirectional
SDPA attention with a real padding mask and optional cached keys/values, and safetensors loading.

Both models are LLaMA/Qwen-style transformers without a causal mask.  What makes a native forward
batch-invariant: padded keys are masked out (SDPA boolean mask) and RoPE positions count only real
tokens (position = number of real tokens before it), so a left-padded prompt sees exactly what it
sees unpadded.  Without padding both equal the published modelling code (positions 0..L-1).

Caching (Fast-dLLM, Wu et al. 2025; 000 App. B): a forward may be handed the keys/values of
positions *before* its tokens (``past``: the prefix cache) and *after* them (``suffix``: Fast-dLLM's
dual cache); the attention mask then covers past + tokens + suffix.  Keys are stored already
rotated, so cached entries are reused as they are.
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Optional, Sequence, Union

import torch
import torch.nn.functional as F
from torch import nn

from workers.denoiser import take_positions

KV = tuple[torch.Tensor, torch.Tensor]     # (keys, values), each [B, H_kv, L, D]


@dataclass
class NativeOutput:
    """What a native forward returns (the field names transformers' outputs use)."""

    logits: torch.Tensor                               # [B, T, V]: one row per input token (or per output row)
    past_key_values: Optional[tuple[KV, ...]] = None   # per layer, keys/values of past + tokens + suffix


class RMSNorm(nn.Module):
    """x / rms(x) · w, computed in fp32 and cast back before the weight (as both published codes do)."""

    def __init__(self, dim: int, eps: float) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.ones(dim))
        self.eps = eps

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = x.float()
        h = h * torch.rsqrt(h.pow(2).mean(-1, keepdim=True) + self.eps)
        return self.weight * h.to(x.dtype)


def rope_cos_sin(positions: torch.Tensor, head_dim: int, theta: float) -> tuple[torch.Tensor, torch.Tensor]:
    """cos, sin [B, 1, T, D] (fp32) for integer positions [B, T]; frequencies θ^(−2i/D), halves duplicated."""
    inv = 1.0 / (theta ** (torch.arange(0, head_dim, 2, device=positions.device, dtype=torch.float32) / head_dim))
    ang = positions.float()[..., None] * inv
    ang = torch.cat([ang, ang], -1)[:, None]
    return ang.cos(), ang.sin()


def apply_rope(t: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor, fp32: bool) -> torch.Tensor:
    """Rotate [B, H, T, D] by the rotate-half convention; ``fp32``: in full precision (LLaDA), else in
    t's dtype (Dream / Qwen2)."""
    x = t.float() if fp32 else t
    c, s = (cos, sin) if fp32 else (cos.to(t.dtype), sin.to(t.dtype))
    half = x.shape[-1] // 2
    rot = torch.cat([-x[..., half:], x[..., :half]], -1)
    return (x * c + rot * s).to(t.dtype)


def positions_and_mask(attention_mask: Optional[torch.Tensor], B: int, n_past: int, T: int, n_suffix: int,
                       device: torch.device) -> tuple[torch.Tensor, Optional[torch.Tensor]]:
    """RoPE positions of the T new tokens [B, T] and the SDPA key mask [B, 1, 1, L] (None: no padding).

    ``attention_mask`` [B, n_past + T + n_suffix] is 1 on real tokens; a real token's position is
    the number of real tokens before it, so left padding shifts nothing."""
    L = n_past + T + n_suffix
    if attention_mask is None or bool(attention_mask.all()):
        if attention_mask is not None and attention_mask.shape[-1] != L:
            raise ValueError(f"attention_mask covers {attention_mask.shape[-1]} positions, expected {L}")
        pos = torch.arange(n_past, n_past + T, device=device).expand(B, T)
        return pos, None
    if attention_mask.shape != (B, L):
        raise ValueError(f"attention_mask has shape {tuple(attention_mask.shape)}, expected {(B, L)}")
    m = attention_mask.to(device).bool()
    pos = (m.long().cumsum(-1) - 1).clamp_min(0)[:, n_past:n_past + T]
    return pos, m[:, None, None, :]


class Attention(nn.Module):
    """Bidirectional multi-head (grouped-query) attention with optional cached keys/values."""

    def __init__(self, dim: int, n_heads: int, n_kv_heads: int, qkv_bias: bool, theta: float,
                 rope_fp32: bool) -> None:
        super().__init__()
        self.n_heads, self.n_kv, self.head_dim = n_heads, n_kv_heads, dim // n_heads
        self.rope_fp32 = rope_fp32
        self.q = nn.Linear(dim, n_heads * self.head_dim, bias=qkv_bias)
        self.k = nn.Linear(dim, n_kv_heads * self.head_dim, bias=qkv_bias)
        self.v = nn.Linear(dim, n_kv_heads * self.head_dim, bias=qkv_bias)
        self.o = nn.Linear(n_heads * self.head_dim, dim, bias=False)

    def forward(self, x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor, key_mask: Optional[torch.Tensor],
                past: Optional[KV], suffix: Optional[KV]) -> tuple[torch.Tensor, KV]:
        B, T, _ = x.shape
        q = self.q(x).view(B, T, self.n_heads, self.head_dim).transpose(1, 2)
        k = self.k(x).view(B, T, self.n_kv, self.head_dim).transpose(1, 2)
        v = self.v(x).view(B, T, self.n_kv, self.head_dim).transpose(1, 2)
        q, k = apply_rope(q, cos, sin, self.rope_fp32), apply_rope(k, cos, sin, self.rope_fp32)
        ks, vs = [k], [v]
        if past is not None:
            ks.insert(0, past[0].expand(B, -1, -1, -1))   # expand: candidates share one prefix entry
            vs.insert(0, past[1].expand(B, -1, -1, -1))
        if suffix is not None:
            ks.append(suffix[0].expand(B, -1, -1, -1))
            vs.append(suffix[1].expand(B, -1, -1, -1))
        k_all, v_all = (torch.cat(ks, 2), torch.cat(vs, 2)) if len(ks) > 1 else (k, v)
        kk, vv = k_all, v_all
        if self.n_kv != self.n_heads:   # grouped-query attention: repeat kv heads (Dream's repeat_kv)
            rep = self.n_heads // self.n_kv
            kk, vv = kk.repeat_interleave(rep, 1), vv.repeat_interleave(rep, 1)
        out = F.scaled_dot_product_attention(q, kk, vv, attn_mask=key_mask)
        return self.o(out.transpose(1, 2).reshape(B, T, -1)), (k_all, v_all)


class MLP(nn.Module):
    """SwiGLU: down(silu(gate(x)) · up(x))."""

    def __init__(self, dim: int, hidden: int) -> None:
        super().__init__()
        self.gate = nn.Linear(dim, hidden, bias=False)
        self.up = nn.Linear(dim, hidden, bias=False)
        self.down = nn.Linear(hidden, dim, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.down(F.silu(self.gate(x)) * self.up(x))


class Block(nn.Module):
    """Pre-norm transformer block: x + attn(norm(x)), then + mlp(norm(x))."""

    def __init__(self, dim: int, hidden: int, n_heads: int, n_kv: int, qkv_bias: bool, theta: float,
                 eps: float, rope_fp32: bool) -> None:
        super().__init__()
        self.attn_norm, self.mlp_norm = RMSNorm(dim, eps), RMSNorm(dim, eps)
        self.attn = Attention(dim, n_heads, n_kv, qkv_bias, theta, rope_fp32)
        self.mlp = MLP(dim, hidden)

    def forward(self, x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor, key_mask: Optional[torch.Tensor],
                past: Optional[KV], suffix: Optional[KV]) -> tuple[torch.Tensor, KV]:
        a, kv = self.attn(self.attn_norm(x), cos, sin, key_mask, past, suffix)
        x = x + a
        return x + self.mlp(self.mlp_norm(x)), kv


def head_rows(model: nn.Module, h: torch.Tensor, rows: Optional[torch.Tensor]) -> torch.Tensor:
    """``model.head(model.norm(h))`` on the hidden rows ``rows`` [B, S] of ``h`` [B, T, D] only (all
    rows when None): a step reads ~32 positions, and the [B, T, V] logits of every position are
    the largest tensor of a forward (issue 27: B = 32, T = 300, V = 126,464 is 2.4 GB in bf16)."""
    if rows is not None:
        h = take_positions(h, rows.to(h.device))
    return model.head(model.norm(h))


def forward_rows(model: Any, rows: Optional[torch.Tensor], **inputs: Any) -> tuple[torch.Tensor, Any]:
    """(logits, output) of ``model(**inputs)``, the logits of the hidden rows ``rows`` [B, S] only
    (None: all rows): passed as ``output_rows`` to a module that takes it (``supports_output_rows``:
    the native modules, the tiny model), else sliced from its full logits (remote code: correct,
    but no memory saved)."""
    if rows is not None and getattr(model, "supports_output_rows", False):
        inputs["output_rows"] = rows
    out = model(**inputs)
    logits = out.logits if hasattr(out, "logits") else out[0]
    if rows is not None and "output_rows" not in inputs:
        logits = take_positions(logits, rows.to(logits.device))
    return logits, out


class NativeTransformer(nn.Module):
    """Embedding → blocks → final norm → output head; the LLaDA and Dream modules subclass it
    with their config and their checkpoint's parameter names (``rename``)."""

    #: the denoiser adapters read these: a real padding mask, cached keys/values and ``output_rows``
    #: are accepted
    native = True
    supports_prefix_cache = True
    supports_output_rows = True
    #: subclasses: (published name regex, ours) pairs, and the config dataclass (with from_folder)
    names: Sequence[tuple[str, str]] = ()
    config_class: Any = None

    def rename(self, name: str) -> Optional[str]:
        """Our parameter name for a published one (unknown names are reported by load_checkpoint)."""
        for pat, repl in self.names:
            if re.fullmatch(pat, name):
                return re.sub(pat, repl, name)
        return name

    @classmethod
    def from_folder(cls, folder: Union[str, Path], dtype: torch.dtype = torch.float32,
                    device: Union[str, torch.device] = "cpu") -> "NativeTransformer":
        """Build on the meta device (no memory for 8B of random weights), then load the checkpoint."""
        cfg = cls.config_class.from_folder(folder)
        with torch.device("meta"):
            model = cls(cfg)
        return model.load_checkpoint(Path(folder), dtype, torch.device(device))

    def __init__(self, vocab: int, dim: int, hidden: int, n_layers: int, n_heads: int, n_kv: int,
                 qkv_bias: bool, theta: float, eps: float, rope_fp32: bool) -> None:
        super().__init__()
        self.embed = nn.Embedding(vocab, dim)
        self.blocks = nn.ModuleList(Block(dim, hidden, n_heads, n_kv, qkv_bias, theta, eps, rope_fp32)
                                    for _ in range(n_layers))
        self.norm = RMSNorm(dim, eps)
        self.head = nn.Linear(dim, vocab, bias=False)
        self.head_dim, self.theta = dim // n_heads, theta

    def forward(self, input_ids: torch.Tensor, attention_mask: Optional[torch.Tensor] = None,
                past_key_values: Optional[Sequence[KV]] = None, use_cache: bool = False,
                suffix_key_values: Optional[Sequence[KV]] = None,
                output_rows: Optional[torch.Tensor] = None) -> NativeOutput:
        """Logits of ``input_ids`` [B, T]; ``past_key_values`` / ``suffix_key_values`` (per layer,
        batch 1 or B) stand for positions before / after them, ``attention_mask`` covers all three.
        ``output_rows`` [B, S] (indices into the T tokens): the final norm and head run on those
        rows only and the logits are [B, S, V] (``head_rows``)."""
        B, T = input_ids.shape
        n_past = 0 if past_key_values is None else past_key_values[0][0].shape[2]
        n_suf = 0 if suffix_key_values is None else suffix_key_values[0][0].shape[2]
        pos, key_mask = positions_and_mask(attention_mask, B, n_past, T, n_suf, input_ids.device)
        cos, sin = rope_cos_sin(pos, self.head_dim, self.theta)
        x = self.embed(input_ids)
        present = []
        for i, blk in enumerate(self.blocks):
            x, kv = blk(x, cos, sin, key_mask, None if past_key_values is None else past_key_values[i],
                        None if suffix_key_values is None else suffix_key_values[i])
            if use_cache:
                present.append(kv)
        return NativeOutput(head_rows(self, x, output_rows), tuple(present) if use_cache else None)

    # ------------------------------------------------------------------------ checkpoints
    def load_checkpoint(self, folder: Path, dtype: torch.dtype, device: torch.device) -> "NativeTransformer":
        """Load ``model.safetensors`` (or the shards its index lists) by the published names."""
        from safetensors.torch import load_file

        folder = Path(folder)
        index = folder / "model.safetensors.index.json"
        files = (sorted(set(json.loads(index.read_text())["weight_map"].values())) if index.is_file()
                 else ["model.safetensors"])
        ours = dict(self.named_parameters())
        loaded: dict[str, torch.Tensor] = {}
        for f in files:
            if not (folder / f).is_file():
                raise ValueError(f"checkpoint {folder} is missing {f}")
            for name, t in load_file(str(folder / f), device="cpu").items():
                mine = self.rename(name)
                if mine is None:
                    continue
                if mine not in ours:
                    raise ValueError(f"checkpoint {folder}: parameter {name} has no place in {type(self).__name__}")
                if tuple(t.shape) != tuple(ours[mine].shape):
                    raise ValueError(f"checkpoint {folder}: {name} has shape {tuple(t.shape)}, "
                                     f"the config says {tuple(ours[mine].shape)}")
                loaded[mine] = t.to(device=device, dtype=dtype)
        if getattr(self, "tied", False) and "head.weight" not in loaded and "embed.weight" in loaded:
            loaded["head.weight"] = loaded["embed.weight"]
        missing = sorted(set(ours) - set(loaded))
        if missing:
            raise ValueError(f"checkpoint {folder} lacks {len(missing)} parameters (first: {missing[0]})")
        self.load_state_dict(loaded, strict=True, assign=True)
        return self.eval().requires_grad_(False)
