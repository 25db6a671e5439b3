"""A tiny bidirectional masked-diffusion language model, readable in one file.

Architecture: token embedding -> N pre-LN transformer blocks (full, non-causal self-attention
with rotary position embeddings; GELU MLP) -> final LayerNorm -> linear head over the vocabulary.
There is no time conditioning: as in LLaDA, the fraction of masked tokens tells the model how far
along the diffusion it is.

Objective (``masked_diffusion_loss``, LLaDA-style SFT): per sequence draw t ~ U(eps, 1), replace
each response token by the mask token with probability t, and take the cross-entropy on the
masked positions.  The 1/t weight of the ELBO (also offered in its Rao-Blackwellised form (n+1)/k)
trained poorly at this size and budget, so the default weighs every masked token equally (see
``masked_diffusion_loss``).  Prompt tokens are never masked.

The config/model pair is a regular ``PretrainedConfig`` / ``PreTrainedModel`` and is registered
with the transformers Auto classes when this module is imported, so ``save_pretrained`` /
``AutoModelForMaskedLM.from_pretrained(dir)`` work offline without ``trust_remote_code``.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Optional

import torch
import torch.nn.functional as F
from torch import nn
from transformers import (
    AutoConfig,
    AutoModel,
    AutoModelForMaskedLM,
    PretrainedConfig,
    PreTrainedModel,
)
from transformers.modeling_outputs import MaskedLMOutput

MODEL_TYPE = "dllm_tiny"


class TinyDiffusionConfig(PretrainedConfig):
    """Hyper-parameters of the tiny masked-diffusion LM."""

    model_type = MODEL_TYPE

    def __init__(
        self,
        vocab_size: int = 100,
        hidden_size: int = 192,
        num_hidden_layers: int = 6,
        num_attention_heads: int = 6,
        intermediate_size: int = 768,
        max_position_embeddings: int = 512,
        rope_theta: float = 10000.0,
        layer_norm_eps: float = 1e-5,
        initializer_range: float = 0.02,
        mask_token_id: Optional[int] = None,
        **kwargs,
    ) -> None:
        self.vocab_size = vocab_size
        self.hidden_size = hidden_size
        self.num_hidden_layers = num_hidden_layers
        self.num_attention_heads = num_attention_heads
        self.intermediate_size = intermediate_size
        self.max_position_embeddings = max_position_embeddings
        self.rope_theta = rope_theta
        self.layer_norm_eps = layer_norm_eps
        self.initializer_range = initializer_range
        self.mask_token_id = mask_token_id
        # A bidirectional denoiser: never let generation utilities treat it as causal.
        kwargs.setdefault("is_decoder", False)
        kwargs.setdefault("tie_word_embeddings", False)
        super().__init__(**kwargs)


def rotate_half(x: torch.Tensor) -> torch.Tensor:
    """(x1, x2) -> (-x2, x1) on the last dimension, the rotation RoPE applies pairwise."""
    x1, x2 = x.chunk(2, dim=-1)
    return torch.cat((-x2, x1), dim=-1)


class Rotary(nn.Module):
    """Rotary position embedding; cos/sin are computed from explicit position ids."""

    def __init__(self, head_dim: int, theta: float) -> None:
        super().__init__()
        inv_freq = 1.0 / (theta ** (torch.arange(0, head_dim, 2, dtype=torch.float32) / head_dim))
        self.register_buffer("inv_freq", inv_freq, persistent=False)

    def forward(self, position_ids: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        # position_ids [B, L] -> cos/sin [B, 1, L, head_dim], broadcast over heads
        freqs = position_ids[..., None].float() * self.inv_freq
        emb = torch.cat((freqs, freqs), dim=-1)[:, None]
        return emb.cos(), emb.sin()


class Block(nn.Module):
    """Pre-LN transformer block with full (bidirectional) self-attention."""

    def __init__(self, cfg: TinyDiffusionConfig) -> None:
        super().__init__()
        d, self.n_head = cfg.hidden_size, cfg.num_attention_heads
        self.ln1 = nn.LayerNorm(d, eps=cfg.layer_norm_eps)
        self.qkv = nn.Linear(d, 3 * d)
        self.proj = nn.Linear(d, d)
        self.ln2 = nn.LayerNorm(d, eps=cfg.layer_norm_eps)
        self.fc = nn.Linear(d, cfg.intermediate_size)
        self.fc_out = nn.Linear(cfg.intermediate_size, d)
        self.scale = (d // self.n_head) ** -0.5

    def forward(
        self,
        x: torch.Tensor,
        cos: torch.Tensor,
        sin: torch.Tensor,
        key_bias: Optional[torch.Tensor],
        past: Optional[tuple[torch.Tensor, torch.Tensor]] = None,
    ) -> tuple[torch.Tensor, tuple[torch.Tensor, torch.Tensor]]:
        """``past`` = (k, v) of earlier positions not in ``x`` (a prefix cache); returns the new
        residual stream and the (k, v) of every position, past included."""
        B, L, D = x.shape
        qkv = self.qkv(self.ln1(x)).view(B, L, 3, self.n_head, D // self.n_head).permute(2, 0, 3, 1, 4)
        qk, v = qkv[:2], qkv[2]  # [2, B, H, L, hd], [B, H, L, hd]
        qk = qk * cos + rotate_half(qk) * sin  # rotary on q and k in one go
        q, k = qk.unbind(0)
        if past is not None:
            k, v = torch.cat([past[0], k], dim=2), torch.cat([past[1], v], dim=2)
        # Plain matmul attention: at these sizes it beats the fused CPU kernels.  No causal mask;
        # key_bias [B, 1, 1, L_keys] is -inf on padded keys so real tokens never see padding.
        att = (q * self.scale) @ k.transpose(-1, -2)
        if key_bias is not None:
            att = att + key_bias
        y = att.softmax(-1) @ v
        x = x + self.proj(y.transpose(1, 2).reshape(B, L, D))
        return x + self.fc_out(F.gelu(self.fc(self.ln2(x)))), (k, v)


@dataclass
class TinyDiffusionOutput(MaskedLMOutput):
    """``MaskedLMOutput`` plus the per-layer (k, v) of every position when ``use_cache``."""

    past_key_values: Optional[tuple[tuple[torch.Tensor, torch.Tensor], ...]] = None


class TinyDiffusionPreTrainedModel(PreTrainedModel):
    """Hooks transformers needs: config class, weight init, name prefix."""

    config_class = TinyDiffusionConfig
    base_model_prefix = "dllm"
    _no_split_modules = ["Block"]

    def _init_weights(self, module: nn.Module) -> None:
        std = self.config.initializer_range
        if isinstance(module, nn.Linear):
            nn.init.normal_(module.weight, mean=0.0, std=std)
            if module.bias is not None:
                nn.init.zeros_(module.bias)
        elif isinstance(module, nn.Embedding):
            nn.init.normal_(module.weight, mean=0.0, std=std)
        elif isinstance(module, nn.LayerNorm):
            nn.init.ones_(module.weight)
            nn.init.zeros_(module.bias)


class TinyDiffusionLM(TinyDiffusionPreTrainedModel):
    """The denoiser: ``forward(input_ids, attention_mask=None).logits`` is [B, L, V].

    Row i of the logits predicts the token at position i.  With left padding, pass
    ``attention_mask`` (1 = real token, 0 = padding): positions are counted from the first real
    token and padded keys are hidden, so real positions get the same logits as without padding.
    """

    def __init__(self, config: TinyDiffusionConfig) -> None:
        super().__init__(config)
        d = config.hidden_size
        self.embed = nn.Embedding(config.vocab_size, d)
        self.rotary = Rotary(d // config.num_attention_heads, config.rope_theta)
        self.blocks = nn.ModuleList(Block(config) for _ in range(config.num_hidden_layers))
        self.ln_f = nn.LayerNorm(d, eps=config.layer_norm_eps)
        self.lm_head = nn.Linear(d, config.vocab_size, bias=False)
        self.post_init()
        # GPT-2-style scaling of residual projections keeps the residual stream's variance flat.
        for name, p in self.named_parameters():
            if name.endswith(("proj.weight", "fc_out.weight")):
                nn.init.normal_(p, 0.0, config.initializer_range / math.sqrt(2 * config.num_hidden_layers))

    def get_input_embeddings(self) -> nn.Embedding:
        return self.embed

    def set_input_embeddings(self, value: nn.Embedding) -> None:
        self.embed = value

    def get_output_embeddings(self) -> nn.Linear:
        return self.lm_head

    #: ``forward`` takes a prefix cache (``past_key_values``): see workers/prefix_cache.py.
    supports_prefix_cache = True
    #: ``forward`` takes ``output_rows``: the head runs on those rows only (issue 27, memory).
    supports_output_rows = True

    def forward(
        self,
        input_ids: torch.Tensor,
        attention_mask: Optional[torch.Tensor] = None,
        labels: Optional[torch.Tensor] = None,
        past_key_values: Optional[tuple[tuple[torch.Tensor, torch.Tensor], ...]] = None,
        use_cache: bool = False,
        output_rows: Optional[torch.Tensor] = None,
        **kwargs,
    ) -> TinyDiffusionOutput:
        """``labels`` (optional, -100 = ignore) gives a plain mean cross-entropy ``loss``.

        Prefix cache: ``past_key_values`` holds each layer's (k, v) for the first Lp positions,
        which are then not in ``input_ids`` (its L tokens are positions Lp..Lp+L-1);
        ``attention_mask``, if given, covers all Lp + L positions.  ``use_cache=True`` returns
        every layer's (k, v) for all Lp + L positions.  ``output_rows`` [B, S] (indices into the L
        tokens): the final LayerNorm and head run on those rows only, logits [B, S, V].
        """
        if labels is not None and output_rows is not None:
            raise ValueError("labels need the logits of every position; pass output_rows=None")
        B, L = input_ids.shape
        Lp = 0 if past_key_values is None else past_key_values[0][0].shape[2]
        if attention_mask is None:
            position_ids = torch.arange(Lp, Lp + L, device=input_ids.device).expand(B, L)
            key_bias = None
        else:
            attention_mask = attention_mask.to(torch.long)
            if attention_mask.shape[1] != Lp + L:
                raise ValueError(f"attention_mask covers {attention_mask.shape[1]} positions, expected {Lp + L}")
            position_ids = (attention_mask.cumsum(-1) - 1).clamp(min=0)[:, Lp:]
            key_bias = None
            if not bool(attention_mask.bool().all()):
                key_bias = torch.zeros(B, 1, 1, Lp + L, device=input_ids.device, dtype=self.embed.weight.dtype)
                key_bias = key_bias.masked_fill(attention_mask[:, None, None, :] == 0, float("-inf"))
        x = self.embed(input_ids)
        cos, sin = (t.to(x.dtype) for t in self.rotary(position_ids))  # keep bf16 runs in bf16
        kvs = []
        for i, block in enumerate(self.blocks):
            x, kv = block(x, cos, sin, key_bias, None if past_key_values is None else past_key_values[i])
            kvs.append(kv)
        if output_rows is not None:
            x = x.gather(1, output_rows.to(x.device)[..., None].expand(-1, -1, x.shape[-1]))
        logits = self.lm_head(self.ln_f(x))
        loss = None
        if labels is not None:
            loss = F.cross_entropy(logits.reshape(-1, logits.size(-1)), labels.reshape(-1), ignore_index=-100)
        return TinyDiffusionOutput(loss=loss, logits=logits, past_key_values=tuple(kvs) if use_cache else None)


def masked_diffusion_loss(
    model: TinyDiffusionLM,
    input_ids: torch.Tensor,
    response_mask: torch.Tensor,
    attention_mask: Optional[torch.Tensor],
    mask_id: int,
    generator: Optional[torch.Generator] = None,
    eps: float = 1e-3,
    weighting: str = "flat",
) -> torch.Tensor:
    """LLaDA SFT loss for one batch.

    ``response_mask`` [B, L] marks the response positions (completion + EOS fill), the only ones
    that may be masked.  Per sequence t ~ U(eps, 1) (stratified across the batch: same marginal,
    lower variance) and each response token is masked with probability t.  The loss is
    w * sum_masked CE / n_response, averaged over the batch, with weight w:

    - ``"inv_t"``: w = 1/t, LLaDA's estimator as written;
    - ``"rb"``: w = (n+1)/k, the expectation of 1/t given that k of the n response
      tokens were masked (Rao-Blackwellised).  Same objective in expectation (exactly, for
      eps -> 0), far lower variance: 1/t reaches 1/eps when t is tiny and almost nothing is
      masked, which in practice stalled learning (a 6-layer model could not learn to copy the
      prompt in 200 steps with 1/t, and learned it with (n+1)/k);
    - ``"flat"`` (default): every masked token weighs the same (plain mean CE over the batch's
      masked tokens, MaskGIT-style) — not the ELBO: it weights noise level t by ~t, i.e. towards
      the heavily masked states decoding starts from.  At this project's budget (1.2M
      parameters, 6000 steps of 64 on one CPU core) it trained a far better decoder: greedy
      Pass@1 on easy countdown 0.4 vs 0.06-0.12 with "rb"; "inv_t" failed even to learn to copy.
    """
    B = input_ids.size(0)
    u = (torch.arange(B, dtype=torch.float32) + torch.rand(B, generator=generator)) / B
    t = (eps + (1 - eps) * u[torch.randperm(B, generator=generator)]).to(input_ids.device)
    draw = torch.rand(input_ids.shape, generator=generator).to(input_ids.device)
    masked = (draw < t[:, None]) & response_mask
    noisy = torch.where(masked, torch.full_like(input_ids, mask_id), input_ids)
    logits = model(noisy, attention_mask=attention_mask).logits
    ce = (F.cross_entropy(logits.transpose(1, 2), input_ids, reduction="none") * masked).sum(-1)  # [B]
    n = response_mask.sum(-1).clamp(min=1).float()
    k = masked.sum(-1).float()
    if weighting == "inv_t":
        return (ce / t / n).mean()
    if weighting == "rb":
        return (ce * (n + 1) / k.clamp(min=1) / n).mean()
    if weighting == "flat":
        return ce.sum() / k.sum().clamp(min=1)
    raise ValueError(f"unknown weighting {weighting!r}; use rb, inv_t or flat")


AutoConfig.register(MODEL_TYPE, TinyDiffusionConfig, exist_ok=True)
AutoModel.register(TinyDiffusionConfig, TinyDiffusionLM, exist_ok=True)
AutoModelForMaskedLM.register(TinyDiffusionConfig, TinyDiffusionLM, exist_ok=True)
