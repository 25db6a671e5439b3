"""Model loading: ``load_model(name_or_path)`` -> a denoiser with its tokenizer (docs/design.md §3).

``name_or_path`` is, in this order: a preset name (``"tiny"``: the committed checkpoint in
``workers/tinymodel/checkpoint``), a local checkpoint directory, or a Hugging Face hub id.
Every path ends in transformers ``from_pretrained``, the tiny model's included.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Optional, Union

import torch

from workers.models.hf import HFDenoiser, _first_line
from workers.models.registry import PRESETS, TINY_CHECKPOINT, Preset, register_preset

__all__ = ["load_model", "HFDenoiser", "PRESETS", "Preset", "register_preset", "TINY_CHECKPOINT",
           "check_checkpoint_dir", "family_adapter"]

# (what must be there, alternatives that also satisfy it)
_REQUIRED_FILES: list[tuple[str, tuple[str, ...]]] = [
    ("config.json", ()),
    ("model.safetensors", ("model.safetensors.index.json", "pytorch_model.bin", "pytorch_model.bin.index.json")),
    ("tokenizer_config.json", ()),
]
# The tiny model's fast tokenizer lives in tokenizer.json; other models may ship vocab files instead.
_TINY_EXTRA = ["tokenizer.json"]


def check_checkpoint_dir(path: Union[str, Path], strict_tokenizer: bool = False) -> Path:
    """Raise a one-line ValueError naming the first file a checkpoint directory lacks."""
    p = Path(path)
    if not p.is_dir():
        raise ValueError(f"checkpoint directory {p} does not exist")
    for want, alternatives in _REQUIRED_FILES:
        if not any((p / f).is_file() for f in (want, *alternatives)):
            alt = f" (or {' / '.join(alternatives)})" if alternatives else ""
            raise ValueError(f"checkpoint directory {p} is missing {want}{alt}")
    for want in _TINY_EXTRA if strict_tokenizer else []:
        if not (p / want).is_file():
            raise ValueError(f"checkpoint directory {p} is missing {want}")
    return p


def _looks_like_path(s: str) -> bool:
    return s.startswith((".", "/", "~")) or s.count("/") > 1 or "\\" in s or Path(s).suffix in {".json", ".safetensors"}


def family_adapter(config: dict[str, Any]) -> type[HFDenoiser]:
    """The adapter a checkpoint's config.json asks for: LLaDA, Dream or WeDLM by ``architectures`` /
    ``model_type`` / ``auto_map``, else the generic adapter."""
    from workers.models.dream import DreamDenoiser
    from workers.models.llada import LLaDADenoiser
    from workers.models.wedlm import WeDLMDenoiser

    words = " ".join([*map(str, config.get("architectures") or []), str(config.get("model_type", "")),
                      *map(str, (config.get("auto_map") or {}).values())]).lower()
    if "llada" in words:
        return LLaDADenoiser
    if "dream" in words:
        return DreamDenoiser
    if "wedlm" in words:
        return WeDLMDenoiser
    return HFDenoiser


def load_model(
    name_or_path: Union[str, Path],
    device: Union[str, torch.device, None] = None,
    dtype: Union[str, torch.dtype, None] = None,
    *,
    impl: Optional[str] = None,
    trust_remote_code: Optional[bool] = None,
    **options: Any,
) -> HFDenoiser:
    """Load a preset, a local checkpoint directory or a hub id as a denoiser.

    ``device``: default CUDA when available, else CPU; ``dtype``: default bf16 on GPU, fp32 on
    CPU.  LLaDA, Dream and WeDLM are recognised by their config (presets, folders and hub ids alike);
    ``impl``: "native" (default for them) or "remote" (their own code; needs ``trust_remote_code``
    or DLLM_TRUST_REMOTE_CODE=1); DLLM_MODEL_IMPL sets the default.  ``options`` go to the adapter
    (e.g. ``mask_id=``).  Errors are one-line ValueErrors."""
    key = str(name_or_path)
    how = {"impl": impl, "trust_remote_code": trust_remote_code}
    preset: Optional[Preset] = PRESETS.get(key.lower())
    if preset is not None:
        if preset.local:
            check_checkpoint_dir(preset.source, strict_tokenizer=True)
        return _load(preset.adapter, preset.source, preset.name, device, dtype, {**preset.options, **how, **options})
    from workers.weights import local_copy

    cached = local_copy(key)  # a hub id fetched into the node cache (workers/weights.py)
    if cached is not None:
        adapter = family_adapter(json.loads((cached / "config.json").read_text()))
        return _load(adapter, str(cached), key, device, dtype, {**how, **options})
    path = Path(key).expanduser()
    if path.is_dir():
        check_checkpoint_dir(path)
        adapter = family_adapter(json.loads((path / "config.json").read_text()))
        return _load(adapter, str(path), key, device, dtype, {**how, **options})
    if path.exists() or _looks_like_path(key):
        raise ValueError(f"model {key!r}: no such checkpoint directory (presets: {', '.join(sorted(PRESETS))})")
    try:
        return _load(_hub_adapter(key), key, key, device, dtype, {**how, **options})
    except ValueError as e:
        if str(e).startswith(f"model {key!r}"):   # our own one-line errors (trust, packages, impl)
            raise
        raise ValueError(f"unknown model {key!r}: not a preset ({', '.join(sorted(PRESETS))}), not a local "
                         f"directory, and loading it as a Hugging Face hub id failed ({e})") from None
    except Exception as e:  # offline, unknown repo, gated, ...: one line naming what was tried
        raise ValueError(
            f"unknown model {key!r}: not a preset ({', '.join(sorted(PRESETS))}), not a local directory, "
            f"and loading it as a Hugging Face hub id failed ({_first_line(e)})"
        ) from None


def _hub_adapter(repo_id: str) -> type[HFDenoiser]:
    """The adapter for a hub id, from its config.json (cached, or downloaded)."""
    from huggingface_hub import hf_hub_download

    return family_adapter(json.loads(Path(hf_hub_download(repo_id, "config.json")).read_text()))


def _load(adapter: type[HFDenoiser], src: str, name: str, device: Any, dtype: Any,
          options: dict[str, Any]) -> HFDenoiser:
    try:
        return adapter.from_pretrained(src, name=name, device=device, dtype=dtype, **options)
    except ValueError as e:
        raise ValueError(str(e).splitlines()[0] if str(e) else f"could not load {name!r}") from None
    except OSError as e:
        if Path(src).is_dir():  # a local checkpoint that transformers could not read
            raise ValueError(f"could not load checkpoint {src}: {_first_line(e)}") from None
        raise

# Model families with their own quirks register their presets on import.
from workers.models import dream as _dream, llada as _llada, wedlm as _wedlm  # noqa: E402,F401
