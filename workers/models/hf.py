"""The generic Hugging Face adapter: any ``from_pretrained`` masked-diffusion model as a denoiser.

``HFDenoiser`` wraps a transformers model + tokenizer behind the denoiser contract
(``workers/denoiser.py``, DESIGN.md §3): ``logits(x, attention_mask=None)`` with row i
predicting position i, ``mask_id`` / ``eos_id`` / ``pad_id`` / ``vocab_size`` / ``device``,
``encode_prompt`` (chat template when the tokenizer has one) and ``decode`` (stops at EOS).

Model-specific adapters (LLaDA, Dream, ...) subclass it and override the class attributes or
``_forward``; the loading path (``from_pretrained`` on a directory or a hub id) is shared.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any, Iterable, Optional, Sequence, Union

import torch

import workers.tinymodel.model  # noqa: F401  (registers the tiny model with the Auto classes)

DTypeLike = Union[str, torch.dtype, None]

_DTYPES = {
    "float32": torch.float32, "fp32": torch.float32, "float": torch.float32,
    "bfloat16": torch.bfloat16, "bf16": torch.bfloat16,
    "float16": torch.float16, "fp16": torch.float16, "half": torch.float16,
}


def resolve_device(device: Union[str, torch.device, None]) -> torch.device:
    """``None`` means the first CUDA device when there is one, else the CPU."""
    if device is None:
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(device)


def resolve_dtype(dtype: DTypeLike, device: torch.device) -> torch.dtype:
    """``None`` means bfloat16 on GPU (what the 8B models are run in) and float32 on CPU."""
    if dtype is None:
        return torch.bfloat16 if device.type == "cuda" else torch.float32
    if isinstance(dtype, torch.dtype):
        return dtype
    try:
        return _DTYPES[str(dtype).lower().removeprefix("torch.")]
    except KeyError:
        raise ValueError(f"unknown dtype {dtype!r}; use one of {sorted(set(_DTYPES))}") from None


def _first_line(e: BaseException) -> str:
    text = str(e).strip().splitlines()
    return f"{type(e).__name__}: {text[0] if text else ''}"[:300]


class HFDenoiser:
    """A transformers masked-diffusion model behind the denoiser contract."""

    #: Subclasses for models that predict token i from position i-1 (Dream) set this to True.
    shift_logits: bool = False
    #: Loaded with ``trust_remote_code`` (models whose code lives in their hub repository).
    trust_remote_code: bool = False

    def __init__(
        self,
        model: Any,
        tokenizer: Any,
        *,
        name: str,
        mask_id: Optional[int] = None,
        eos_id: Optional[int] = None,
        pad_id: Optional[int] = None,
        stop_ids: Iterable[int] = (),
    ) -> None:
        self.model = model
        self.tokenizer = tokenizer
        self.name = name
        cfg = getattr(model, "config", None)
        mask_id = _first_int(mask_id, getattr(tokenizer, "mask_token_id", None), getattr(cfg, "mask_token_id", None))
        if mask_id is None:
            raise ValueError(
                f"model {name!r} has no mask token (tokenizer.mask_token_id and config.mask_token_id "
                f"are unset); pass mask_id=... or use a preset adapter"
            )
        self.mask_id: int = mask_id
        self.eos_id: Optional[int] = _first_int(eos_id, getattr(tokenizer, "eos_token_id", None), getattr(cfg, "eos_token_id", None))
        self.pad_id: Optional[int] = _first_int(pad_id, getattr(tokenizer, "pad_token_id", None), getattr(cfg, "pad_token_id", None))
        # The logits' width: may exceed len(tokenizer) when the embedding is padded (LLaDA).
        self.vocab_size: int = int(getattr(cfg, "vocab_size", None) or len(tokenizer))
        # Decoding stops at any of these (EOS plus e.g. an end-of-turn token).
        self.stop_ids: frozenset[int] = frozenset({*stop_ids, *([self.eos_id] if self.eos_id is not None else [])})
        self._drop_ids = frozenset(i for i in (self.pad_id, self.mask_id) if i is not None)

    # ------------------------------------------------------------------------- loading
    @classmethod
    def from_pretrained(
        cls,
        name_or_path: Union[str, Path],
        *,
        name: Optional[str] = None,
        device: Union[str, torch.device, None] = None,
        dtype: DTypeLike = None,
        **kwargs: Any,
    ) -> "HFDenoiser":
        """Load model and tokenizer with ``from_pretrained`` (a local directory or a hub id).

        Extra ``kwargs`` go to the adapter (``mask_id``, ``eos_id``, ``pad_id``, ``stop_ids``)."""
        from transformers import AutoTokenizer

        dev = resolve_device(device)
        dt = resolve_dtype(dtype, dev)
        src = str(name_or_path)
        model = cls._load_model(src, dt).to(dev).eval()
        model.requires_grad_(False)
        tokenizer = AutoTokenizer.from_pretrained(src, trust_remote_code=cls.trust_remote_code)
        return cls(model, tokenizer, name=name or src, **kwargs)

    @classmethod
    def _load_model(cls, src: str, dtype: torch.dtype) -> Any:
        """Masked-LM head when transformers knows one for this config, else the bare AutoModel
        (remote-code diffusion models register themselves as AutoModel)."""
        from transformers import AutoConfig, AutoModel, AutoModelForMaskedLM
        from transformers.models.auto.modeling_auto import MODEL_FOR_MASKED_LM_MAPPING

        config = AutoConfig.from_pretrained(src, trust_remote_code=cls.trust_remote_code)
        auto = AutoModelForMaskedLM if type(config) in MODEL_FOR_MASKED_LM_MAPPING else AutoModel
        return auto.from_pretrained(src, config=config, dtype=dtype, trust_remote_code=cls.trust_remote_code)

    # ------------------------------------------------------------------------- contract
    @property
    def device(self) -> torch.device:
        return next(self.model.parameters()).device

    def _forward(self, x: torch.Tensor, attention_mask: Optional[torch.Tensor]) -> torch.Tensor:
        kw = {} if attention_mask is None else {"attention_mask": attention_mask}
        out = self.model(input_ids=x, **kw)
        return out.logits if hasattr(out, "logits") else out[0]

    @torch.no_grad()
    def logits(self, x: torch.Tensor, attention_mask: Optional[torch.Tensor] = None) -> torch.Tensor:
        """FloatTensor[B, L, V]: row i holds the logits for the token at position i."""
        x = x.to(self.device)
        if attention_mask is not None:
            attention_mask = attention_mask.to(self.device)
        out = self._forward(x, attention_mask)
        if self.shift_logits:  # row i-1 predicted position i: move it to row i (row 0 is a prompt row)
            out = torch.cat([out[:, :1], out[:, :-1]], dim=1)
        return out.float()

    @property
    def supports_prefix_cache(self) -> bool:
        """Whether the model's forward takes a prefix of cached keys/values (workers/prefix_cache.py).
        Shifted models (Dream) do not qualify: their first suffix row is predicted from the prefix."""
        return bool(getattr(self.model, "supports_prefix_cache", False)) and not self.shift_logits

    @torch.no_grad()
    def forward_cached(self, x: torch.Tensor, attention_mask: Optional[torch.Tensor],
                       past: Any = None, use_cache: bool = False) -> tuple[torch.Tensor, Any]:
        """(float logits of x's positions, per-layer (k, v) of all positions if ``use_cache``);
        ``past`` stands for positions before x (``attention_mask`` covers both)."""
        if attention_mask is not None:
            attention_mask = attention_mask.to(self.device)
        out = self.model(input_ids=x.to(self.device), attention_mask=attention_mask,
                         past_key_values=past, use_cache=use_cache)
        return out.logits.float(), out.past_key_values

    def encode_prompt(self, text: str) -> list[int]:
        """Token ids of a user prompt; the chat template (with the assistant turn opened) is
        applied when the tokenizer has one."""
        tok = self.tokenizer
        if getattr(tok, "chat_template", None):
            ids = tok.apply_chat_template(
                [{"role": "user", "content": text}], add_generation_prompt=True, tokenize=True
            )
            if isinstance(ids, dict) or hasattr(ids, "input_ids"):  # BatchEncoding in newer versions
                ids = ids["input_ids"]
            return [int(i) for i in ids]
        return [int(i) for i in tok.encode(text, add_special_tokens=True)]

    def decode(self, tokens: Union[torch.Tensor, Sequence[int]]) -> str:
        """Completion text: stops at the first EOS (or other stop token), drops pad/mask tokens."""
        ids = tokens.tolist() if isinstance(tokens, torch.Tensor) else [int(t) for t in tokens]
        kept: list[int] = []
        for i in ids:
            if i in self.stop_ids:
                break
            if i not in self._drop_ids:
                kept.append(i)
        return self.tokenizer.decode(kept, skip_special_tokens=True, clean_up_tokenization_spaces=False)

    def __repr__(self) -> str:
        return (f"<{type(self).__name__} {self.name} vocab={self.vocab_size} mask={self.mask_id} "
                f"eos={self.eos_id} pad={self.pad_id} device={self.device}>")


def _first_int(*values: Any) -> Optional[int]:
    """First value that is an int (configs sometimes hold a list of EOS ids: take the first)."""
    for v in values:
        if isinstance(v, (list, tuple)):
            v = v[0] if v else None
        if v is not None:
            return int(v)
    return None
