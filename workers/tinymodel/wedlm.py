"""The tiny WeDLM (``tiny-wedlm``): WeDLM's training objective for the project's tiny model.

``python -m workers.tinymodel.train --family wedlm ...`` (train.py's data, schedule and loop) builds
a ``NativeWeDLM`` (``workers/models/native_wedlm.py``: causal Qwen-style transformer) and trains it
with ``dual_stream_loss``; ``save_wedlm`` writes it in the published layout (config.json with
``model_type`` ``wedlm``, safetensors under the published parameter names, the tiny tokenizer), so
``load_model`` reads it exactly as it reads ``tencent/WeDLM-8B``.

The objective is WeDLM §4.2's Dual-Stream Masking (Eq. 10), on [prompt][response]:

- **memory stream**: the clean prompt + response under ordinary causal attention.  Its rows carry
  the auxiliary next-token (AR) loss on the response (WeDLM §6.1: "an auxiliary AR loss ...
  computed on the same sequences"), which costs no extra forward;
- **prediction stream**: a second copy of the response at the *same* logical positions (RoPE ids),
  cut into blocks of ``block`` positions, each block masked with its own ratio γ_k ~ U(eps, 1) and
  topologically reordered (observed tokens before masked ones, each keeping its logical position).
  A token of block k sees the prompt, the memory tokens before block k (clean history, as at
  inference where earlier tokens are confirmed), and the tokens of block k before it in the
  reordered order; never an earlier prediction block.  A masked token's own row predicts it (no
  shift), the row ``native_wedlm.reordered_logits`` reads at inference.

The reordering is expressed in the attention mask (token b of a block is visible to token a iff b
comes no later in the reordered order), not by permuting rows: attention with RoPE depends only on
the mask and the logical positions, so this is the same computation as the physically reordered
sequence, and the rows stay in logical order for the loss.  The prompt is never masked (SFT, as the
tiny model's recipe).  The block defaults to 16 = the streaming decoder's window (WeDLM's engine,
``WEDLM_WINDOW``); the paper's 32 is for its 8B runs.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Optional

import torch
import torch.nn.functional as F

from workers.models.native_common import rope_cos_sin
from workers.models.native_wedlm import NativeWeDLM, WeDLMConfig
from workers.models.random_checkpoint import wedlm_parameters

#: The tiny WeDLM's end-of-turn token (the tokenizer of ``random_checkpoint.tiny_wedlm_checkpoint``)
END_OF_TURN = "<|im_end|>"


def wedlm_config(tokenizer: Any, hidden: int, layers: int, heads: int, kv_heads: int, intermediate: int) -> dict[str, Any]:
    """config.json of a tiny WeDLM: WeDLM-8B's fields (q/k norm, no attention bias, untied head)
    at a tiny shape, the tiny tokenizer's ids, and RoPE θ = 10^4 (10^6 wastes most rotary
    frequencies on sequences of ~100 tokens)."""
    from workers.models.random_checkpoint import WEDLM_8B

    return {**WEDLM_8B, "hidden_size": hidden, "intermediate_size": intermediate, "num_hidden_layers": layers,
            "num_attention_heads": heads, "num_key_value_heads": kv_heads, "head_dim": hidden // heads,
            "vocab_size": len(tokenizer), "max_position_embeddings": 1024, "rope_theta": 10000.0,
            "mask_token_id": int(tokenizer.mask_token_id), "eos_token_id": int(tokenizer.eos_token_id),
            "pad_token_id": int(tokenizer.pad_token_id), "bos_token_id": int(tokenizer.pad_token_id),
            "torch_dtype": "float32"}


def build_wedlm(config: dict[str, Any], init_std: float = 0.02) -> NativeWeDLM:
    """A freshly initialised native WeDLM (weights N(0, init_std), biases 0, norms 1)."""
    model = NativeWeDLM(WeDLMConfig.from_dict(config))
    with torch.no_grad():
        for name, p in model.named_parameters():
            if "norm" in name:
                p.fill_(1.0)
            elif name.endswith("bias"):
                p.zero_()
            else:
                p.normal_(0.0, init_std)
    return model


def dual_stream_batch(x: torch.Tensor, resp: torch.Tensor, attn: Optional[torch.Tensor], mask_id: int,
                      block: int = 16, generator: Optional[torch.Generator] = None, eps: float = 1e-3
                      ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """The dual-stream input of a batch (WeDLM §4.2).

    ``x`` [N, L]: left-padded prompts then responses; ``resp`` [N, L] True on the response (the same
    last G columns in every row); ``attn`` [N, L] 1 on real tokens (None: all real).  Returns
    ``(ids [N, L+G], positions [N, L+G], mask [N, 1, L+G, L+G], masked [N, G], gamma [N, G])``:
    the memory stream (``x``), then the prediction stream (the response with its masks), the
    logical positions, the boolean attention mask, which response positions are masked and each
    one's block ratio γ_k."""
    N, L = x.shape
    dev = x.device
    G = int(resp[0].sum())
    P = L - G
    real = torch.ones_like(x, dtype=torch.bool) if attn is None else attn.bool()
    pos = (real.long().cumsum(-1) - 1).clamp_min(0)                   # logical positions
    blk = torch.arange(G, device=dev) // block                        # block of each response position
    nb = int(blk[-1]) + 1
    gamma = (eps + (1 - eps) * torch.rand(N, nb, generator=generator).to(dev))[:, blk]
    masked = torch.rand(N, G, generator=generator).to(dev) < gamma
    target = x[:, P:]
    ids = torch.cat([x, torch.where(masked, torch.full_like(target, mask_id), target)], 1)
    positions = torch.cat([pos, pos[:, P:]], 1)
    T = L + G

    m = torch.zeros(N, T, T, dtype=torch.bool, device=dev)
    causal = torch.ones(L, L, dtype=torch.bool, device=dev).tril()
    m[:, :L, :L] = causal[None] & real[:, None, :]                    # memory: plain causal
    m[:, :L, :L] |= torch.eye(L, dtype=torch.bool, device=dev)[None] & ~real[:, :, None]   # pad rows: own key, no NaN
    history = torch.arange(L, device=dev)[None, :] < (P + blk * block)[:, None]          # [G, L] memory before the block
    m[:, L:, :L] = history[None] & real[:, None, :]
    order = masked.long() * G + torch.arange(G, device=dev)          # reordered rank: observed, then masked
    same = blk[:, None] == blk[None, :]
    m[:, L:, L:] = same[None] & (order[:, None, :] <= order[:, :, None])
    return ids, positions, m[:, None], masked, gamma


def dual_stream_logits(model: NativeWeDLM, ids: torch.Tensor, positions: torch.Tensor, mask: torch.Tensor
                       ) -> torch.Tensor:
    """The native WeDLM's forward under an arbitrary boolean attention mask (its own blocks)."""
    cfg = model.config
    cos, sin = rope_cos_sin(positions, cfg.dim_head, cfg.rope_theta)
    h = model.embed(ids)
    for b in model.blocks:
        h, _ = b(h, cos, sin, mask, None)
    return model.head(model.norm(h))


def dual_stream_loss(model: NativeWeDLM, x: torch.Tensor, resp: torch.Tensor, attn: Optional[torch.Tensor],
                     mask_id: int, block: int = 16, generator: Optional[torch.Generator] = None,
                     weighting: str = "flat", ar_weight: float = 1.0, eps: float = 1e-3) -> torch.Tensor:
    """WeDLM's Dual-Stream Masking loss (WeDLM §4.2, Eq. 10) + ``ar_weight`` × the auxiliary AR loss
    (arguments as ``dual_stream_batch``).  ``weighting``: ``flat`` (mean CE over masked tokens, the
    tiny recipe's choice) or ``inv_t`` (Eq. 10's 1/γ_k, normalised by the number of response
    positions)."""
    ids, positions, mask, masked, gamma = dual_stream_batch(x, resp, attn, mask_id, block, generator, eps)
    logits = dual_stream_logits(model, ids, positions, mask)
    N, L = x.shape
    G = masked.shape[1]
    P = L - G
    target = x[:, P:]
    V = logits.shape[-1]
    ce = F.cross_entropy(logits[:, L:].reshape(-1, V).float(), target.reshape(-1), reduction="none").view(N, G)
    if weighting == "flat":
        mlm = (ce * masked).sum() / masked.sum().clamp_min(1)
    elif weighting == "inv_t":
        mlm = (ce * masked / gamma).sum() / (N * G)
    else:
        raise ValueError(f"WeDLM loss weighting must be flat or inv_t, got {weighting!r}")
    if not ar_weight:
        return mlm
    # memory rows P-1 .. L-2 predict the response's next tokens (causal LM, no extra forward)
    ar = F.cross_entropy(logits[:, P - 1:L - 1].reshape(-1, V).float(), target.reshape(-1))
    return mlm + ar_weight * ar


def save_wedlm(model: NativeWeDLM, config: dict[str, Any], tokenizer: Any, out: Path) -> None:
    """Write config.json + model.safetensors (published names) + the tokenizer into ``out``."""
    from safetensors.torch import save_file

    out.mkdir(parents=True, exist_ok=True)
    (out / "config.json").write_text(json.dumps(config, indent=1) + "\n")
    # the published names: WeDLM's parameter list for this config, mapped to ours by the loader's own table
    published = {model.rename(name): name for name in wedlm_parameters(config)}
    tensors = {published[n]: p.detach().float().contiguous().cpu() for n, p in model.state_dict().items()}
    save_file(tensors, str(out / "model.safetensors"), metadata={"format": "pt"})
    tokenizer.save_pretrained(str(out))
