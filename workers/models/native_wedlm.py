"""The project's own WeDLM (Liu et al. 2025, arXiv 2512.22737): a causal Qwen-style transformer
that fills masked positions under ordinary causal attention.

Reads the published checkpoint as it is: ``config.json`` (Qwen2/Qwen3 field names: ``hidden_size``,
``intermediate_size``, ``num_hidden_layers``, ``num_attention_heads``, ``num_key_value_heads``,
``head_dim``, ``rope_theta``, ``rms_norm_eps``, ``tie_word_embeddings``, ``attention_bias``,
``qk_norm``, ``mask_token_id``) and ``model.safetensors[.index.json]`` with the published names
(``model.embed_tokens``, ``model.layers.{i}.self_attn.{q,k,v,o}_proj``, optional
``self_attn.{q,k}_norm``, ``mlp.{gate,up,down}_proj``, ``input_layernorm``,
``post_attention_layernorm``, ``model.norm``, ``lm_head``).

The forward is the published one (RMSNorm in fp32, SwiGLU, RoPE computed in fp32 and applied in
the weights' dtype, q/k RMSNorm per head before RoPE when ``qk_norm``, GQA, causal attention)
with three additions:

- ``position_ids``: WeDLM's *topological reordering* (WeDLM §3) feeds the filled tokens of a
  window before its masks, each keeping its logical position for RoPE, so causal attention lets
  every mask see every filled token.  ``reorder`` / ``reordered_logits`` build that input and map
  the logits back: row i then predicts position i (a mask's own row predicts it, WeDLM's MLM loss;
  no shift as in Dream).
- a real padding mask (SDPA boolean mask: causal and key-real), with positions counting real
  tokens only, so a left-padded prompt gives the logits it gives alone;
- ``past_key_values``: keys/values of the confirmed prefix (prompt + tokens that left the window),
  stored already rotated; a window forward then attends to them plus its own causal part.  With a
  batch-1 past and B rows (IMH's candidates) the prefix is shared, not copied (``expand``).
"""
from __future__ import annotations

import json
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any, Optional, Sequence, Union

import torch
import torch.nn.functional as F
from torch import nn

from workers.denoiser import take_positions
from workers.models.native_common import (KV, MLP, NativeOutput, NativeTransformer, RMSNorm, apply_rope, head_rows,
                                          forward_rows, rope_cos_sin)


@dataclass(frozen=True)
class WeDLMConfig:
    """The fields of WeDLM's config.json the forward needs (defaults: WeDLM-8B, a Qwen3-8B shape)."""

    hidden_size: int = 4096
    intermediate_size: int = 12288
    num_hidden_layers: int = 36
    num_attention_heads: int = 32
    num_key_value_heads: int = 8
    head_dim: Optional[int] = 128
    vocab_size: int = 151936
    rope_theta: float = 1000000.0
    rms_norm_eps: float = 1e-6
    tie_word_embeddings: bool = False
    attention_bias: bool = True      # the published config's default (Qwen2.5 style)
    qk_norm: bool = False            # the published config's default; Qwen3-based WeDLM-8B sets it
    hidden_act: str = "silu"
    rope_scaling: Optional[dict] = None
    use_sliding_window: bool = False

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "WeDLMConfig":
        cfg = cls(**{f.name: d[f.name] for f in fields(cls) if f.name in d})
        if cfg.hidden_act != "silu" or cfg.rope_scaling or cfg.use_sliding_window:
            raise ValueError("native WeDLM implements silu, plain RoPE and full attention only "
                             "(no rope_scaling, no sliding window); use impl='remote'")
        return cfg

    @classmethod
    def from_folder(cls, folder: Union[str, Path]) -> "WeDLMConfig":
        return cls.from_dict(json.loads((Path(folder) / "config.json").read_text()))

    @property
    def dim_head(self) -> int:
        return self.head_dim or self.hidden_size // self.num_attention_heads


_NAMES = [  # published name (regex) -> ours
    (r"model\.embed_tokens\.weight", "embed.weight"),
    (r"model\.norm\.weight", "norm.weight"),
    (r"lm_head\.weight", "head.weight"),
    (r"model\.layers\.(\d+)\.input_layernorm\.weight", r"blocks.\1.attn_norm.weight"),
    (r"model\.layers\.(\d+)\.post_attention_layernorm\.weight", r"blocks.\1.mlp_norm.weight"),
    (r"model\.layers\.(\d+)\.self_attn\.([qkvo])_proj\.(weight|bias)", r"blocks.\1.attn.\2.\3"),
    (r"model\.layers\.(\d+)\.self_attn\.([qk])_norm\.weight", r"blocks.\1.attn.\2_norm.weight"),
    (r"model\.layers\.(\d+)\.mlp\.(gate|up|down)_proj\.weight", r"blocks.\1.mlp.\2.weight"),
]


class CausalAttention(nn.Module):
    """Causal GQA attention with optional per-head q/k RMSNorm and cached prefix keys/values."""

    def __init__(self, cfg: WeDLMConfig) -> None:
        super().__init__()
        d, hd = cfg.hidden_size, cfg.dim_head
        self.n_heads, self.n_kv, self.head_dim = cfg.num_attention_heads, cfg.num_key_value_heads, hd
        self.q = nn.Linear(d, self.n_heads * hd, bias=cfg.attention_bias)
        self.k = nn.Linear(d, self.n_kv * hd, bias=cfg.attention_bias)
        self.v = nn.Linear(d, self.n_kv * hd, bias=cfg.attention_bias)
        self.o = nn.Linear(self.n_heads * hd, d, bias=False)
        self.qk_norm = cfg.qk_norm
        if cfg.qk_norm:
            self.q_norm, self.k_norm = RMSNorm(hd, cfg.rms_norm_eps), RMSNorm(hd, cfg.rms_norm_eps)

    def forward(self, x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor, mask: torch.Tensor,
                past: Optional[KV], groups: Optional[torch.Tensor] = None) -> tuple[torch.Tensor, KV]:
        B, T, _ = x.shape
        q = self.q(x).view(B, T, self.n_heads, self.head_dim)
        k = self.k(x).view(B, T, self.n_kv, self.head_dim)
        if self.qk_norm:   # per head, before RoPE (Qwen3 / the published WeDLMAttention)
            q, k = self.q_norm(q), self.k_norm(k)
        q, k = q.transpose(1, 2), k.transpose(1, 2)
        v = self.v(x).view(B, T, self.n_kv, self.head_dim).transpose(1, 2)
        q, k = apply_rope(q, cos, sin, False), apply_rope(k, cos, sin, False)
        if past is not None and groups is not None:
            return self._shared(q, k, v, mask, past, groups), (k, v)
        if past is not None:
            k_all = torch.cat([past[0].expand(B, -1, -1, -1), k], 2)   # expand: rows share one prefix
            v_all = torch.cat([past[1].expand(B, -1, -1, -1), v], 2)
        else:
            k_all, v_all = k, v
        kk, vv = k_all, v_all
        if self.n_kv != self.n_heads:
            rep = self.n_heads // self.n_kv
            kk, vv = kk.repeat_interleave(rep, 1), vv.repeat_interleave(rep, 1)
        out = F.scaled_dot_product_attention(q, kk, vv, attn_mask=mask)
        return self.o(out.transpose(1, 2).reshape(B, T, -1)), (k, v)


    def _shared(self, q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, mask: torch.Tensor, past: KV,
                groups: torch.Tensor) -> torch.Tensor:
        """Attention over a prefix cache *shared* by rows: ``past`` holds U prefixes [U, H_kv, c, D]
        and row b reads prefix ``groups[b]`` in place (000 App. B's copy-on-write idea: the
        prefix is stored once, only each row's tail is its own).  One softmax over prefix and tail
        scores, so it is the attention over their concatenation."""
        B, H, T, D = q.shape
        c, rep = past[0].shape[2], self.n_heads // self.n_kv
        scale = D ** -0.5
        kt, vt = (k.repeat_interleave(rep, 1), v.repeat_interleave(rep, 1)) if rep > 1 else (k, v)
        st = (q @ kt.transpose(-1, -2)) * scale
        st = st.masked_fill(~mask[..., c:], float("-inf"))
        out = torch.empty_like(q)
        for u in groups.unique().tolist():
            rows = (groups == u).nonzero().squeeze(1)
            kp, vp = past[0][u], past[1][u]                                  # [H_kv, c, D], not copied per row
            if rep > 1:
                kp, vp = kp.repeat_interleave(rep, 0), vp.repeat_interleave(rep, 0)
            sp = torch.einsum("nhtd,hsd->nhts", q[rows], kp) * scale
            sp = sp.masked_fill(~mask[rows][..., :c], float("-inf"))
            w = torch.softmax(torch.cat([sp, st[rows]], -1).float(), -1).to(q.dtype)
            out[rows] = torch.einsum("nhts,hsd->nhtd", w[..., :c], vp) + w[..., c:] @ vt[rows]
        return self.o(out.transpose(1, 2).reshape(B, T, -1))


class WeDLMBlock(nn.Module):
    """Pre-norm block: x + attn(norm(x)), then + mlp(norm(x))."""

    def __init__(self, cfg: WeDLMConfig) -> None:
        super().__init__()
        self.attn_norm = RMSNorm(cfg.hidden_size, cfg.rms_norm_eps)
        self.mlp_norm = RMSNorm(cfg.hidden_size, cfg.rms_norm_eps)
        self.attn = CausalAttention(cfg)
        self.mlp = MLP(cfg.hidden_size, cfg.intermediate_size)

    def forward(self, x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor, mask: torch.Tensor,
                past: Optional[KV], groups: Optional[torch.Tensor] = None) -> tuple[torch.Tensor, KV]:
        a, kv = self.attn(self.attn_norm(x), cos, sin, mask, past, groups)
        x = x + a
        return x + self.mlp(self.mlp_norm(x)), kv


def causal_mask(attention_mask: Optional[torch.Tensor], B: int, n_past: int, T: int,
                device: torch.device) -> torch.Tensor:
    """SDPA boolean mask [B, 1, T, n_past + T]: query t sees every real past key and the real
    tokens 0..t of its own input (``attention_mask`` [B, n_past + T], 1 on real tokens).  A pad
    query (fully masked row) is given its own key so SDPA returns numbers, not NaN; its output is
    never read."""
    L = n_past + T
    tri = torch.ones(T, L, dtype=torch.bool, device=device).tril(n_past)
    m = tri[None, None].expand(B, 1, T, L)
    if attention_mask is not None:
        if attention_mask.shape != (B, L):
            raise ValueError(f"attention_mask has shape {tuple(attention_mask.shape)}, expected {(B, L)}")
        real = attention_mask.to(device).bool()
        m = m & real[:, None, None, :]
        own = torch.zeros(T, L, dtype=torch.bool, device=device)
        own[torch.arange(T), n_past + torch.arange(T)] = True
        m = m | (own[None, None] & ~real[:, None, n_past:, None])
    return m


class NativeWeDLM(NativeTransformer):
    """WeDLM's forward: ``model(input_ids, attention_mask, position_ids, past_key_values, use_cache)``,
    causal in the order of ``input_ids``; row t is the published model's row t."""

    names = _NAMES
    config_class = WeDLMConfig
    #: causal attention: the denoiser adapter reorders (filled first) before calling it
    causal = True

    def __init__(self, cfg: WeDLMConfig) -> None:
        nn.Module.__init__(self)   # NativeTransformer's blocks are bidirectional: build our own
        self.embed = nn.Embedding(cfg.vocab_size, cfg.hidden_size)
        self.blocks = nn.ModuleList(WeDLMBlock(cfg) for _ in range(cfg.num_hidden_layers))
        self.norm = RMSNorm(cfg.hidden_size, cfg.rms_norm_eps)
        self.head = nn.Linear(cfg.hidden_size, cfg.vocab_size, bias=False)
        self.head_dim, self.theta = cfg.dim_head, cfg.rope_theta
        self.config, self.tied = cfg, cfg.tie_word_embeddings

    def forward(self, input_ids: torch.Tensor, attention_mask: Optional[torch.Tensor] = None,
                position_ids: Optional[torch.Tensor] = None, past_key_values: Optional[Sequence[KV]] = None,
                use_cache: bool = False, past_groups: Optional[torch.Tensor] = None,
                output_rows: Optional[torch.Tensor] = None) -> NativeOutput:
        """Logits of ``input_ids`` [B, T] under causal attention in their given order.

        ``position_ids`` [B, T]: RoPE positions (default: the number of real tokens before each,
        past included); ``attention_mask`` [B, n_past + T] covers past + tokens; ``past_key_values``
        (per layer, batch 1 or B) are the keys/values of a causal prefix.  With ``use_cache`` the
        per-layer keys/values of *these* tokens come back (append them to a past yourself).
        ``past_groups`` [B]: the past holds U distinct prefixes and row b attends to prefix
        ``past_groups[b]``, read in place (shared, never copied per row).  ``output_rows`` [B, S]:
        logits of those rows of ``input_ids`` only, [B, S, V] (``native_common.head_rows``)."""
        B, T = input_ids.shape
        n_past = 0 if past_key_values is None else past_key_values[0][0].shape[2]
        if position_ids is None:
            if attention_mask is None:
                position_ids = torch.arange(n_past, n_past + T, device=input_ids.device).expand(B, T)
            else:
                position_ids = (attention_mask.long().cumsum(-1) - 1).clamp_min(0)[:, n_past:]
        mask = causal_mask(attention_mask, B, n_past, T, input_ids.device)
        cos, sin = rope_cos_sin(position_ids.to(input_ids.device), self.head_dim, self.theta)
        x = self.embed(input_ids)
        present = []
        for i, blk in enumerate(self.blocks):
            x, kv = blk(x, cos, sin, mask, None if past_key_values is None else past_key_values[i], past_groups)
            if use_cache:
                present.append(kv)
        return NativeOutput(head_rows(self, x, output_rows), tuple(present) if use_cache else None)


# ----------------------------------------------------------------------------- reordering
def reorder(x: torch.Tensor, mask_id: int, attention_mask: Optional[torch.Tensor] = None
            ) -> tuple[torch.Tensor, torch.Tensor, Optional[torch.Tensor], torch.Tensor]:
    """WeDLM's topological reordering of a canvas ``x`` [B, L] (WeDLM §3; the published
    ``_efficient_reorder_sequence``): per row, the non-mask tokens in order, then the masks in
    order, each with its logical position (real tokens before it).  Returns (ids, position ids,
    attention mask, perm) with ``ids = x.gather(1, perm)``; left padding stays in front."""
    L = x.shape[1]
    real = torch.ones_like(x) if attention_mask is None else attention_mask.to(x.device).long()
    is_mask = (x == mask_id) & real.bool()    # a pad that shares the mask id stays a pad
    key = is_mask.long() * L + torch.arange(L, device=x.device)   # stable: filled first, then masks
    perm = key.argsort(1)
    pos = (real.cumsum(-1) - 1).clamp_min(0)
    am = None if attention_mask is None else real.gather(1, perm)
    return x.gather(1, perm), pos.gather(1, perm), am, perm


def reordered_logits(model: Any, x: torch.Tensor, mask_id: int,
                     attention_mask: Optional[torch.Tensor] = None,
                     positions: Optional[torch.Tensor] = None) -> torch.Tensor:
    """Logits [B, L, V] of canvas ``x`` where row i belongs to position i: the reordered forward
    (``reorder``) with the rows put back.  A masked position's row predicts its token; a filled
    position's row is the causal next-token row of the reordered input (samplers never read it).
    ``positions`` [B, S]: the rows of those positions only, [B, S, V] (the head runs on S rows).
    ``model`` is the native module or the published ``WeDLMForCausalLM`` (same keyword API)."""
    ids, pos, am, perm = reorder(x, mask_id, attention_mask)
    kw = {} if am is None else {"attention_mask": am}
    back = perm.argsort(1)
    rows = back if positions is None else back.gather(1, positions.to(back.device))
    return forward_rows(model, rows, input_ids=ids, position_ids=pos, **kw)[0]


def shared_prefix_logits(model: NativeWeDLM, x: torch.Tensor, mask_id: int,
                         attention_mask: Optional[torch.Tensor] = None,
                         positions: Optional[torch.Tensor] = None) -> Optional[torch.Tensor]:
    """``reordered_logits`` computed with the confirmed prefix shared (000 App. B): the positions
    before the batch's first mask are filled in every row (prompt + confirmed tokens); rows whose
    prefix is identical (IMH's T + 1 candidates of one sample) get ONE prefix forward and KV cache,
    and only their tails (window + what follows) are forwarded per row, attending to that cache in
    place.  Memory O(L + N·W) per sample instead of O(N·L).  Returns None when no two rows share a
    prefix (nothing to gain: the caller runs the plain forward).  ``positions`` [B, S]: the rows of
    those positions only, [B, S, V] (as ``reordered_logits``)."""
    B, L = x.shape
    real = torch.ones_like(x) if attention_mask is None else attention_mask.to(x.device).long()
    is_mask = (x == mask_id) & real.bool()
    first = torch.where(is_mask.any(1), is_mask.int().argmax(1), torch.full_like(is_mask[:, 0], L, dtype=torch.long))
    c = int(first.min())
    if c == 0 or c == L:
        return None
    uniq, inv = torch.unique(torch.cat([x[:, :c], real[:, :c]], 1), dim=0, return_inverse=True)
    if uniq.shape[0] == B:
        return None
    p_ids, p_real = uniq[:, :c], uniq[:, c:]
    p_am = None if bool(p_real.all()) else p_real
    # the prefix's own rows: all, or the requested positions before c (the same set for every prefix)
    early = None if positions is None else positions < c
    pre_pos = None if early is None else positions[early].unique()
    pre = model(p_ids, attention_mask=p_am, use_cache=True,
                output_rows=None if pre_pos is None else pre_pos.expand(uniq.shape[0], -1))
    ids, pos, _, perm = reorder(x[:, c:], mask_id)           # the tail has no padding (left padding)
    pos = pos + p_real.sum(1)[inv][:, None]
    am = None if p_am is None else torch.cat([p_real[inv], torch.ones_like(ids)], 1)
    back = perm.argsort(1)
    tail = model(ids, attention_mask=am, position_ids=pos, past_key_values=pre.past_key_values,
                 past_groups=inv, output_rows=back if positions is None else back.gather(1, (positions - c).clamp_min(0))
                 ).logits
    if positions is None:
        return torch.cat([pre.logits[inv], tail], 1)
    if not bool(early.any()):
        return tail
    col = torch.searchsorted(pre_pos, positions).clamp_max(len(pre_pos) - 1)   # column of each early position
    early_logits = take_positions(pre.logits[inv], col)
    return torch.where(early[..., None], early_logits, tail)
