"""The row contract and the knob registry (docs/design.md §3): one torch-free place that the
workers (rows), the sweeps (spec validation) and the analysis (column types, frontier dials, plot
symbols) all read, so a new knob or column is declared once.

Only the standard library and pyarrow here: ``analysis`` imports this module.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

import pyarrow as pa


@dataclass(frozen=True)
class Knob:
    """A sampler parameter the project knows by name.

    ``dtype``: "float" or "int"; ``column``: flattened into its own row column; ``symbol``: how
    plots and labels write it; ``dial_of``: the samplers whose frontier curve moves along it
    (samplers not named anywhere use ``temperature``); knobs are never negative.
    """
    name: str
    dtype: str
    column: bool = True
    symbol: Optional[str] = None
    dial_of: tuple[str, ...] = ()


KNOB_REGISTRY: tuple[Knob, ...] = (
    Knob("alpha", "float", symbol="α", dial_of=("imh",)),                 # 000 §4.3 tempering exponent
    Knob("temperature", "float", symbol="τ"),                              # local temperature
    Knob("threshold", "float", symbol="θ", dial_of=("threshold", "ete")),  # Fast-dLLM / 002 §4
    Knob("factor", "float", symbol="f", dial_of=("factor",)),             # 002 Thm 3.2
    Knob("lam", "float", symbol="λ", dial_of=("med",)),                   # 004 §5 entropy cap
    Knob("gamma", "float", symbol="γ", dial_of=("eb",)),                  # entropy-bounded budget
    Knob("chain_length", "int"),                                           # IMH's T
    Knob("k_max", "int", column=False),                                    # MED's cap on tokens a step
    Knob("pos_penalty", "float", column=False),                            # WeDLM's distance penalty
)
DEFAULT_DIAL = "temperature"
# KV cache modes a sweep can decode with (spec ``cache``; row column ``cache``): no cache (exact),
# prefix cache, Fast-dLLM's dual cache (docs/design.md §3; workers/prefix_cache.py).
CACHE_MODES: tuple[str, ...] = ("none", "prefix", "dual")
NONNEGATIVE_KNOBS: tuple[str, ...] = tuple(k.name for k in KNOB_REGISTRY)
KNOB_SYMBOLS: dict[str, str] = {k.name: k.symbol for k in KNOB_REGISTRY if k.symbol}
DIALS: dict[str, str] = {s: k.name for k in KNOB_REGISTRY for s in k.dial_of}

# Knobs flattened into their own columns for easy filtering (null when a sampler lacks them).
FLOAT_KNOBS: tuple[str, ...] = tuple(k.name for k in KNOB_REGISTRY if k.column and k.dtype == "float")
INT_KNOBS: tuple[str, ...] = tuple(k.name for k in KNOB_REGISTRY if k.column and k.dtype == "int")
KNOB_COLUMNS: tuple[str, ...] = FLOAT_KNOBS + INT_KNOBS

# The row contract's version: part of every job's settings hash (sweeps/engine/identity.py), so a sweep
# never counts rows whose columns meant something else as done.  Bump it when an existing column
# changes meaning; a new nullable column (ADDED_COLUMNS) does not bump it.
ROW_CONTRACT_VERSION = 1

_S, _I, _F, _B = pa.string(), pa.int64(), pa.float64(), pa.bool_()
SCHEMA = pa.schema(
    [
        pa.field("job_id", _S, nullable=False),
        pa.field("sweep", _S, nullable=False),
        pa.field("model", _S, nullable=False),
        pa.field("task", _S, nullable=False),
        pa.field("problem_id", _S, nullable=False),
        pa.field("difficulty", _S),
        pa.field("sampler", _S, nullable=False),
        pa.field("params", _S, nullable=False),
        *[pa.field(k, _F) for k in FLOAT_KNOBS],
        *[pa.field(k, _I) for k in INT_KNOBS],
        pa.field("gen_length", _I, nullable=False),
        pa.field("block_length", _I, nullable=False),
        pa.field("seed", _I, nullable=False),
        pa.field("completion", _S, nullable=False),
        pa.field("extracted", _S),
        pa.field("correct", _B, nullable=False),
        pa.field("error", _S),
        pa.field("nfe", _I, nullable=False),
        pa.field("forward_rows", _I, nullable=False),
        pa.field("tokens", _I, nullable=False),
        pa.field("bits", _F, nullable=False),
        # Left-to-right rescored NLL of the completion (002 §5.1's "true joint"); null unless the
        # sweep asked for it (``bits_l2r: true``), since it costs G extra rows per sample.
        pa.field("bits_l2r", _F),
        pa.field("exploit_rounds", _I),
        pa.field("explore_rounds", _I),
        pa.field("exploit_bits", _F),
        pa.field("explore_bits", _F),
        pa.field("acceptance_rate", _F),
        pa.field("exit_step", _I),
        # IMH: the registered one-token sampler it equals at α = 1 (000 §4.3); else null.
        pa.field("base_sampler", _S),
        # Hash of the job's settings (model, task entry with lengths and version, row options,
        # contract version; sweeps/engine/identity.py): rows pool only when it agrees. Null in old shards.
        pa.field("settings", _S),
        # The task's own per-sample metric where it is not a plain right/wrong (lm_eval: tasks, e.g. a
        # BLEU or an F1; for 0/1 metrics it equals ``correct``); null for the project's own tasks.
        pa.field("score", _F),
        # KV cache the sample was decoded with: "none", "prefix" or "dual" (workers/prefix_cache.py;
        # 000 App. B ran LLaDA with Fast-dLLM's prefix cache); null in shards written before it.
        pa.field("cache", _S),
        pa.field("wall_s", _F, nullable=False),
        pa.field("worker", _S, nullable=False),
        pa.field("code_version", _S, nullable=False),
        pa.field("created_at", pa.timestamp("us", tz="UTC"), nullable=False),
    ]
)
COLUMNS: tuple[str, ...] = tuple(SCHEMA.names)
# Nullable columns added after the contract's first version: shards written before them are sound
# (the driver) and read them as null (the analysis), so an upgrade never redoes or hides results.
ADDED_COLUMNS: tuple[str, ...] = ("bits_l2r", "base_sampler", "settings", "score", "cache")
