"""Model presets: a short name -> (adapter class, where the weights are, adapter options).

``load_model`` looks a name up here first, so ``--model tiny`` (and later ``llada-8b-instruct``,
``dream-7b-instruct``, ...) work anywhere a model name is accepted.  An adapter for a new model
family registers its presets with ``register_preset`` from its own module.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from workers.models.hf import HFDenoiser
from workers.tinymodel import CHECKPOINT_DIR, SUDOKU_CHECKPOINT_DIR

#: The committed checkpoint of the embedded default model (resolved from the package, not the CWD).
TINY_CHECKPOINT = CHECKPOINT_DIR


@dataclass(frozen=True)
class Preset:
    """``source`` is a hub id or a local directory; ``options`` go to the adapter."""

    name: str
    adapter: type[HFDenoiser]
    source: str
    options: dict[str, Any] = field(default_factory=dict)
    local: bool = False  # source is a directory shipped with the package


PRESETS: dict[str, Preset] = {}


def register_preset(preset: Preset) -> None:
    """Add (or replace) a preset; names are matched case-insensitively."""
    PRESETS[preset.name.lower()] = preset


register_preset(Preset("tiny", HFDenoiser, str(TINY_CHECKPOINT), local=True))
# 4×4 Sudoku only (004 Table 7's "Sudoku (4)"): workers/tinymodel/sudoku/TRAINING.md
register_preset(Preset("tiny-sudoku", HFDenoiser, str(SUDOKU_CHECKPOINT_DIR), local=True))
