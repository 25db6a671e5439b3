"""The denoiser contract every sampler is written against (docs/design.md §3).

Any object with ``logits``, ``mask_id`` and ``vocab_size`` is a denoiser; nothing needs to
subclass anything.  ``logits(x)`` returns one row of vocabulary logits per position, and row i
predicts the token at position i (adapters hide models, such as Dream, that predict i from i-1).
A denoiser may also take ``positions`` and then compute the rows of those positions only (issue
27: a decoding step reads a window of ~32 positions, not the whole canvas); callers go through
``logits_at``, which slices the full logits of a denoiser that does not.
"""
from __future__ import annotations

import inspect
from typing import Optional, Protocol, runtime_checkable

import torch


@runtime_checkable
class Denoiser(Protocol):
    """A masked-diffusion model seen by the samplers.

    ``logits(x)``: ``x`` is a LongTensor[B, L] in which not-yet-decoded positions hold
    ``mask_id``; the result is a floating Tensor[B, L, V] (V = ``vocab_size``), possibly in the
    model's low-precision dtype (callers upcast what they use).  When prompts of
    different lengths share a batch, the sampler left-pads them and passes
    ``attention_mask`` (LongTensor[B, L], 0 on padding) as a keyword; a model that does not
    accept that keyword can still be used with equal-length prompts.
    Optional keyword ``positions``: a LongTensor[B, S] of sequence positions (0 ≤ p < L, repeats
    allowed); the result is then Tensor[B, S, V] whose row (b, j) predicts position
    ``positions[b, j]`` of row b, as ``logits(x)[b, positions[b, j]]`` would.  Computing only
    those rows (the final norm and output head on S rows instead of L) is what saves the memory;
    a model without the keyword still works (``logits_at`` slices its full logits).
    Optional attributes: ``eos_id`` and ``pad_id`` (ints or None), ``device``.
    """

    mask_id: int
    vocab_size: int

    def logits(self, x: torch.Tensor) -> torch.Tensor: ...


def accepts_attention_mask(model: Denoiser) -> bool:
    """Whether ``model.logits`` takes an ``attention_mask`` keyword (needed for ragged prompts)."""
    try:
        params = inspect.signature(model.logits).parameters
    except (TypeError, ValueError):
        return False
    return "attention_mask" in params or any(
        p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values()
    )


def accepts_positions(model: Denoiser) -> bool:
    """Whether ``model.logits`` takes a ``positions`` keyword: it must name it (a ``**kwargs``
    wrapper may forward to a model that does not, so it gets the full-logits path)."""
    try:
        return "positions" in inspect.signature(model.logits).parameters
    except (TypeError, ValueError):
        return False


def take_positions(logits: torch.Tensor, positions: torch.Tensor) -> torch.Tensor:
    """Rows ``positions`` [B, S] of ``logits`` [B, L, V] -> [B, S, V] (a new tensor)."""
    return logits.gather(1, positions[..., None].expand(-1, -1, logits.shape[-1]))


def logits_at(model: Denoiser, x: torch.Tensor, positions: torch.Tensor,
              attention_mask: Optional[torch.Tensor] = None) -> torch.Tensor:
    """Logits [B, S, V] of positions [B, S] (or [S], the same for every row) of canvas ``x`` [B, L]:
    through ``positions`` when the model takes it, else sliced from its full [B, L, V] logits (which
    then exist only for the duration of this call).  Issue 27: memory on the yaml's GPU."""
    positions = torch.as_tensor(positions, dtype=torch.long, device=x.device)
    if positions.dim() == 1:
        positions = positions.expand(x.shape[0], -1)
    kw = {} if attention_mask is None else {"attention_mask": attention_mask}
    if accepts_positions(model):
        return model.logits(x, positions=positions, **kw)
    full = model.logits(x, **kw)
    return take_positions(full, positions.to(full.device))


def model_device(model: Denoiser) -> torch.device:
    """The device the model's inputs should live on (CPU when the model does not say)."""
    dev = getattr(model, "device", None)
    return torch.device(dev) if dev is not None else torch.device("cpu")


def check_denoiser(model: object) -> None:
    """Raise a one-line ValueError when ``model`` does not satisfy the contract."""
    missing = [a for a in ("logits", "mask_id", "vocab_size") if not hasattr(model, a)]
    if missing:
        raise ValueError(
            f"model {type(model).__name__} is not a denoiser: missing {', '.join(missing)}"
        )
    if not 0 <= int(model.mask_id) < int(model.vocab_size):  # type: ignore[attr-defined]
        raise ValueError(f"mask_id {model.mask_id} outside vocabulary of size {model.vocab_size}")  # type: ignore[attr-defined]


def pad_id_of(model: Denoiser) -> int:
    """Token used for left padding: the model's pad id, else its EOS, else its mask id."""
    for name in ("pad_id", "eos_id"):
        v: Optional[int] = getattr(model, name, None)
        if v is not None:
            return int(v)
    return int(model.mask_id)
