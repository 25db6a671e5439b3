"""The generic Hugging Face adapter: any ``from_pretrained`` masked-diffusion model as a denoiser.

``HFDenoiser`` wraps a transformers model + tokenizer behind the denoiser contract
(``workers/denoiser.py``, docs/design.md §3): ``logits(x, attention_mask=None)`` with row i
predicting position i, ``mask_id`` / ``eos_id`` / ``pad_id`` / ``vocab_size`` / ``device``,
``encode_prompt`` (chat template when the tokenizer has one) and ``decode`` (stops at EOS).

Model-specific adapters (LLaDA, Dream, ...) subclass it and override the class attributes or
``_forward``; the loading path (``from_pretrained`` on a directory or a hub id) is shared.
"""
from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Any, Iterable, Optional, Sequence, Union

import torch

import workers.tinymodel.model  # noqa: F401  (registers the tiny model with the Auto classes)
from workers.models.native_common import forward_rows

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
    #: Family defaults for special ids, used only where the checkpoint's config and tokenizer say nothing.
    default_ids: dict[str, Any] = {}
    #: Tokens that end a turn (looked up in the tokenizer; decoding stops at them as at EOS).
    end_of_turn_tokens: tuple[str, ...] = ()
    #: The project's own implementation of this family (``impl="native"``), if any.
    native_module: Optional[type] = None
    #: Whether samples are independent of padding: set at load (native: known; else probed).
    honours_attention_mask: bool = True

    @classmethod
    def from_pretrained(
        cls,
        name_or_path: Union[str, Path],
        *,
        name: Optional[str] = None,
        device: Union[str, torch.device, None] = None,
        dtype: DTypeLike = None,
        impl: Optional[str] = None,
        trust_remote_code: Optional[bool] = None,
        **kwargs: Any,
    ) -> "HFDenoiser":
        """Load model and tokenizer from a local directory or a hub id.

        ``impl``: "native" (the project's module; the default where one exists), "remote" (the
        checkpoint's own modelling code, needs ``trust_remote_code``) or "hf" (transformers'
        classes; the default otherwise).  ``trust_remote_code``: None reads DLLM_TRUST_REMOTE_CODE.
        Extra ``kwargs`` go to the adapter (``mask_id``, ``eos_id``, ``pad_id``, ``stop_ids``)."""
        dev = resolve_device(device)
        dt = resolve_dtype(dtype, dev)
        src, label = str(name_or_path), name or str(name_or_path)
        impl = resolve_impl(impl, cls.native_module is not None, cls.trust_remote_code)
        trust = resolve_trust(trust_remote_code)
        try:
            if impl == "native":
                folder = local_folder(src)
                model = cls.native_module.from_folder(folder, dtype=dt, device=dev)  # type: ignore[union-attr]
                config = read_config(folder)
            else:
                if cls.trust_remote_code and not trust:
                    raise ValueError(refusal(label, "its modelling code"))
                try:
                    model = cls._load_model(src, dt, trust).to(dev).eval()
                except ValueError as e:
                    if not trust and "trust_remote_code" in str(e):
                        raise ValueError(refusal(label, "its modelling code")) from None
                    raise
                model.requires_grad_(False)
                config = model.config.to_dict() if hasattr(model.config, "to_dict") else {}
            tokenizer = load_tokenizer(src, trust, label)
        except ImportError as e:
            raise ValueError(missing_package(label, e)) from None
        ids = resolve_ids(kwargs, config, tokenizer, cls.default_ids, cls.end_of_turn_tokens)
        obj = cls(model, tokenizer, name=label, **ids)
        obj.honours_attention_mask = True if impl == "native" else probe_padding(obj)
        return obj

    @classmethod
    def _load_model(cls, src: str, dtype: torch.dtype, trust: bool = False) -> Any:
        """Masked-LM head when transformers knows one for this config, else the bare AutoModel
        (remote-code diffusion models register themselves as AutoModel)."""
        from transformers import AutoConfig, AutoModel, AutoModelForMaskedLM
        from transformers.models.auto.modeling_auto import MODEL_FOR_MASKED_LM_MAPPING

        config = AutoConfig.from_pretrained(src, trust_remote_code=trust)
        auto = AutoModelForMaskedLM if type(config) in MODEL_FOR_MASKED_LM_MAPPING else AutoModel
        return auto.from_pretrained(src, config=config, dtype=dtype, trust_remote_code=trust)

    # ------------------------------------------------------------------------- contract
    @property
    def device(self) -> torch.device:
        return next(self.model.parameters()).device

    def _forward(self, x: torch.Tensor, attention_mask: Optional[torch.Tensor],
                 rows: Optional[torch.Tensor] = None) -> torch.Tensor:
        """The module's logits [B, L, V] in its own row order, or of its rows ``rows`` [B, S] only."""
        kw = {} if attention_mask is None else {"attention_mask": attention_mask}
        return forward_rows(self.model, rows, input_ids=x, **kw)[0]

    def _rows(self, positions: torch.Tensor) -> torch.Tensor:
        """The module's rows that predict ``positions``: for shifted models (Dream) row i-1, and row
        0 for position 0 (a prompt row; the same edge as the full-logits shift)."""
        return (positions - 1).clamp_min(0) if self.shift_logits else positions

    @torch.no_grad()
    def logits(self, x: torch.Tensor, attention_mask: Optional[torch.Tensor] = None,
               positions: Optional[torch.Tensor] = None) -> torch.Tensor:
        """Tensor[B, L, V] in the model's dtype (bf16 on a GPU): row i holds the logits for the token
        at position i; with ``positions`` [B, S], Tensor[B, S, V] of those positions only.  Not
        upcast here, and computed only where asked: the [B, L, V] logits of every position (B=32,
        L=300, V=126,464: 2.4 GB in bf16, 4.9 GB in fp32) do not fit beside 8B weights on a 24 GB
        GPU (issue 27); the samplers ask for their window and upcast it (workers/samplers/base.py).
        The native modules and the tiny model run their output head on those rows only; remote code
        computes every row and is sliced."""
        x = x.to(self.device)
        if attention_mask is not None:
            attention_mask = attention_mask.to(self.device)
        if positions is not None:
            return self._forward(x, attention_mask, self._rows(positions.to(self.device)))
        out = self._forward(x, attention_mask)
        if self.shift_logits:  # row i-1 predicted position i: move it to row i (row 0 is a prompt row)
            out = torch.cat([out[:, :1], out[:, :-1]], dim=1)
        return out

    @property
    def supports_prefix_cache(self) -> bool:
        """Whether the model's forward takes cached keys/values (workers/prefix_cache.py); shifted
        models (Dream) qualify too: the cache runs them from one position before the block."""
        return bool(getattr(self.model, "supports_prefix_cache", False))

    @property
    def supports_dual_cache(self) -> bool:
        """Whether the forward also takes keys/values of positions after its tokens (native modules)."""
        return bool(getattr(self.model, "native", False))

    @torch.no_grad()
    def forward_cached(self, x: torch.Tensor, attention_mask: Optional[torch.Tensor],
                       past: Any = None, use_cache: bool = False, suffix: Any = None,
                       positions: Optional[torch.Tensor] = None) -> tuple[torch.Tensor, Any]:
        """(float logits of x's positions, per-layer (k, v) of all positions if ``use_cache``);
        ``past`` / ``suffix`` stand for positions before / after x (``attention_mask`` covers all).
        For shifted models row j holds what predicts x's position j (row 0 repeats row 1's source).
        ``positions`` [B, S] (indices into x): the logits of those positions only, [B, S, V]."""
        if attention_mask is not None:
            attention_mask = attention_mask.to(self.device)
        kw = {} if suffix is None else {"suffix_key_values": suffix}
        rows = None if positions is None else self._rows(positions.to(self.device))
        logits, out = forward_rows(self.model, rows, input_ids=x.to(self.device), attention_mask=attention_mask,
                                   past_key_values=past, use_cache=use_cache, **kw)
        if self.shift_logits and rows is None:
            logits = torch.cat([logits[:, :1], logits[:, :-1]], dim=1)
        return logits.float(), out.past_key_values

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


# ----------------------------------------------------------------------------- loading helpers
TRUST_ENV = "DLLM_TRUST_REMOTE_CODE"
IMPL_ENV = "DLLM_MODEL_IMPL"
IMPLS = ("native", "remote", "hf")


def resolve_trust(flag: Optional[bool]) -> bool:
    """The caller's flag, else the environment variable (1 / true / yes)."""
    if flag is not None:
        return bool(flag)
    return os.environ.get(TRUST_ENV, "").strip().lower() in {"1", "true", "yes"}


def resolve_impl(impl: Optional[str], has_native: bool, family: bool) -> str:
    """``impl`` or $DLLM_MODEL_IMPL; default native where the project has a module, else hf."""
    impl = (impl or os.environ.get(IMPL_ENV, "") or ("native" if has_native else "hf")).strip().lower()
    if impl not in IMPLS:
        raise ValueError(f"impl must be one of {', '.join(IMPLS)}, got {impl!r}")
    if impl == "native" and not has_native:
        raise ValueError("impl='native' exists only for LLaDA, Dream and WeDLM checkpoints")
    if impl == "hf" and family:
        impl = "remote"   # a LLaDA / Dream / WeDLM checkpoint's non-native code is its own (remote) code
    return impl


def refusal(name: str, what: str) -> str:
    return (f"model {name!r}: {what} ships with the checkpoint and runs only with trust_remote_code; "
            f"allow it with trust_remote_code=True or {TRUST_ENV}=1 (or use impl='native')")


def missing_package(name: str, e: ImportError) -> str:
    """One line naming the package(s) a checkpoint's code imports but this environment lacks."""
    text = str(e)
    m = re.search(r"following packages that were not found in your environment: ([^.]+)\.", text)
    pkgs = m.group(1).strip() if m else (getattr(e, "name", None) or _first_line(e))
    return f"model {name!r} needs the Python package {pkgs}, which is not installed (pip install {pkgs})"


def local_folder(src: str) -> Path:
    """A local checkpoint directory, or the hub snapshot of a repo id (downloaded once, then cached)."""
    p = Path(src).expanduser()
    if p.is_dir():
        return p
    from huggingface_hub import snapshot_download

    try:
        return Path(snapshot_download(src, allow_patterns=["*.json", "*.safetensors", "*.txt", "*.model", "*.py",
                                                           "*.jinja", "*.tiktoken"]))
    except Exception as e:  # offline, gated, unknown: one line that says what to do instead
        raise ValueError(f"model {src!r}: no local copy of the hub repository and fetching it failed "
                         f"({_first_line(e)}); pass a local checkpoint directory instead") from None


def read_config(folder: Union[str, Path]) -> dict[str, Any]:
    return json.loads((Path(folder) / "config.json").read_text())


def load_tokenizer(src: str, trust: bool, name: str) -> Any:
    from transformers import AutoTokenizer

    try:
        return AutoTokenizer.from_pretrained(src, trust_remote_code=trust)
    except ValueError as e:
        if not trust and "trust_remote_code" in str(e):
            raise ValueError(refusal(name, "its tokenizer code")) from None
        raise


def resolve_ids(options: dict[str, Any], config: dict[str, Any], tokenizer: Any, defaults: dict[str, Any],
                end_of_turn: Sequence[str]) -> dict[str, Any]:
    """Special ids: explicit options, else the checkpoint's config, else its tokenizer, else the family's
    defaults; stop ids = EOS plus the end-of-turn tokens the tokenizer knows (e.g. LLaDA's <|eot_id|>)."""
    out = dict(options)
    for key, cfg_key, tok_key in (("mask_id", "mask_token_id", "mask_token_id"), ("eos_id", "eos_token_id", "eos_token_id"),
                                  ("pad_id", "pad_token_id", "pad_token_id")):
        if out.get(key) is None:
            out[key] = _first_int(config.get(cfg_key), getattr(tokenizer, tok_key, None), defaults.get(key))
    if "stop_ids" not in out:
        stops: set[int] = set()   # EOS is added by the adapter
        vocab = tokenizer.get_vocab() if hasattr(tokenizer, "get_vocab") else {}
        stops |= {int(vocab[t]) for t in end_of_turn if t in vocab}
        out["stop_ids"] = tuple(sorted(stops))
    return out


def probe_padding(m: "HFDenoiser") -> bool:
    """Whether left padding leaves a prompt's logits unchanged (models that ignore the mask, such
    as LLaDA's published code, fail): one padded and one unpadded forward of a short prompt."""
    special = {m.mask_id, m.pad_id, m.eos_id}
    ids = [i for i in range(min(m.vocab_size, 64)) if i not in special][:6] or [0]
    x = torch.tensor([ids + [m.mask_id] * 2])
    pad = m.pad_id if m.pad_id is not None else m.mask_id
    xp = torch.cat([torch.full((1, 3), pad), x], 1)
    am = torch.cat([torch.zeros(1, 3, dtype=torch.long), torch.ones_like(x)], 1)
    try:
        # row 0 is a prompt row (for shifted models it comes from whatever precedes it): skip it
        a, b = m.logits(x)[:, 1:], m.logits(xp, attention_mask=am)[:, 4:]
    except Exception:  # a forward that refuses the mask is not batch-invariant under padding
        return False
    low_precision = next(m.model.parameters()).dtype in (torch.float16, torch.bfloat16)
    tol = (5e-2 if low_precision else 1e-3) * (1.0 + float(a.abs().max()))
    return bool((a - b).abs().max() <= tol)


def _first_int(*values: Any) -> Optional[int]:
    """First value that is an int (configs sometimes hold a list of EOS ids: take the first)."""
    for v in values:
        if isinstance(v, (list, tuple)):
            v = v[0] if v else None
        if v is not None:
            return int(v)
    return None
