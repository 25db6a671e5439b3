"""Synthetic sweep rows that follow the docs/design.md §3 contract (tests, benchmark, demos).

Nothing here is a model of real decoding; the numbers only need the right shape: a per-problem
difficulty, samplers whose knob trades Pass@1 for diversity (000 Fig. 3), bits and rounds that
obey the factor-rule bound (002 Thm 3.2), IMH acceptance rates that fall with the chain length.
Rows are generated vectorised so that 10 million of them take seconds.
"""
from __future__ import annotations

import hashlib
import json
import math
import os
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Sequence

import numpy as np
import polars as pl

from .budget import LN2, bits_budget
from .load import CONTRACT

__all__ = ["Config", "DEFAULT_CONFIGS", "synthetic_rows", "write_sweep"]


@dataclass(frozen=True)
class Config:
    """One sampler configuration: its name, knob value and the rest of its params."""
    sampler: str
    params: dict = field(default_factory=dict)

    @property
    def params_json(self) -> str:
        return json.dumps(self.params, sort_keys=True)


def _configs() -> list[Config]:
    out = []
    for s in ("confidence", "entropy", "margin", "random"):
        out += [Config(s, {"temperature": t}) for t in (0.0, 0.5, 1.0)]
    out += [Config("imh", {"alpha": a, "chain_length": t}) for a in (1.0, 2.0, 4.0) for t in (2, 4)]
    out += [Config("factor", {"factor": f}) for f in (0.5, 1.0, 1.5, 1.9)]
    out += [Config("threshold", {"threshold": t}) for t in (0.7, 0.9)]
    return out


DEFAULT_CONFIGS: tuple[Config, ...] = tuple(_configs())
_TIERS = ("easy", "medium", "hard")
_SKILL = {"confidence": 0.6, "entropy": 0.5, "margin": 0.5, "random": -0.6, "imh": 0.7,
          "factor": 0.5, "threshold": 0.5}


def _knob_effect(c: Config) -> tuple[float, float]:
    """(quality shift, diversity in [0, 1]) of a configuration's knob."""
    p = c.params
    if "temperature" in p:
        return -0.8 * p["temperature"] ** 2, min(1.0, 0.1 + p["temperature"])
    if "alpha" in p:  # α > 1 sharpens globally: quality up, diversity kept (000 §4)
        return 0.25 * math.log2(p["alpha"]), 0.8 - 0.1 * math.log2(p["alpha"])
    if "factor" in p:
        return -0.1 * p["factor"], 0.3
    return 0.0, 0.3


def synthetic_rows(n_problems: int = 12, n_samples: int = 8, configs: Sequence[Config] = DEFAULT_CONFIGS,
                   *, seed: int = 0, start: int = 0, stop: int | None = None, sweep: str = "synthetic",
                   model: str = "tiny", task: str = "countdown", difficulty: bool = True,
                   gen_length: int = 64, block_length: int = 32) -> pl.DataFrame:
    """Rows ``start:stop`` of the sweep configs × problems × seeds (row-major in that order)."""
    configs = list(configs)
    total = len(configs) * n_problems * n_samples
    stop = total if stop is None else min(stop, total)
    i = np.arange(start, stop, dtype=np.int64)
    ci, pi, si = i // (n_problems * n_samples), (i // n_samples) % n_problems, i % n_samples
    # Latents fixed by ``seed`` alone, so every chunk of one sweep agrees on them.
    base = np.random.default_rng(seed)
    hardness = base.normal(0.0, 1.3, n_problems)
    affinity = base.normal(0.0, 0.5, (len(configs), n_problems))
    info = base.uniform(20.0, 60.0, n_problems)  # bits a problem's answer carries
    rng = np.random.default_rng([seed, start])
    m = len(i)

    skill = np.array([_SKILL.get(c.sampler, 0.0) + _knob_effect(c)[0] for c in configs])
    spread = np.array([_knob_effect(c)[1] for c in configs])
    p_ok = 1.0 / (1.0 + np.exp(-(skill[ci] - hardness[pi] + affinity[ci, pi])))
    correct = rng.random(m) < p_ok
    # Diverse samplers spread over more distinct answers/texts; greedy ones repeat themselves.
    variant = np.floor(rng.random(m) * (1 + 7 * spread[ci])).astype(np.int64)
    answer = np.where(correct, variant % 3, 10 + variant)

    bits = info[pi] * rng.uniform(0.7, 1.3, m)
    sampler = np.array([c.sampler for c in configs], dtype=object)[ci]
    factors = np.array([c.params.get("factor", np.nan) for c in configs])
    budget = np.array([np.nan if math.isnan(f) else bits_budget(f) for f in factors])[ci]
    factor = factors[ci]
    explore_share = rng.uniform(0.4, 0.7, m)
    explore_bits = bits * explore_share
    exploit_bits = bits - explore_bits
    explore_rounds = np.maximum(1, np.round(explore_bits / rng.uniform(3.0, 6.0, m))).astype(np.int64)
    with np.errstate(invalid="ignore"):
        exploit_rounds = np.ceil(exploit_bits * LN2 / budget * rng.uniform(1.05, 2.0, m))
    is_factor = ~np.isnan(factor)
    # One-token samplers take exactly gen_length rounds.
    nfe = np.where(is_factor, explore_rounds + np.nan_to_num(exploit_rounds), gen_length).astype(np.int64)
    chain = np.array([c.params.get("chain_length", 0) for c in configs], dtype=np.int64)[ci]
    alpha = np.array([c.params.get("alpha", np.nan) for c in configs])[ci]
    acc = np.clip(rng.normal(0.9 - 0.05 * chain - 0.05 * np.nan_to_num(alpha - 1.0), 0.05), 0, 1)
    is_imh = chain > 0
    forward_rows = nfe * np.where(is_imh, chain + 1, 1)
    wall = forward_rows * 2e-3 * rng.uniform(0.8, 1.2, m)

    def knob(name: str) -> np.ndarray:
        return np.array([c.params.get(name, np.nan) for c in configs], dtype=np.float64)[ci]

    tier_of = np.array(_TIERS, dtype=object)[np.clip(np.digitize(hardness, [-0.6, 0.6]), 0, 2)]
    df = pl.DataFrame({
        "_c": ci, "_p": pi, "seed": si,
        "sampler": sampler,
        "params": np.array([c.params_json for c in configs], dtype=object)[ci],
        "alpha": knob("alpha"), "temperature": knob("temperature"), "threshold": knob("threshold"),
        "factor": factor, "lam": knob("lam"), "gamma": knob("gamma"),
        "chain_length": np.where(is_imh, chain, -1),
        "correct": correct, "_answer": answer, "_variant": variant,
        "nfe": nfe, "forward_rows": forward_rows, "tokens": np.full(m, gen_length, dtype=np.int64),
        "bits": bits,
        "exploit_rounds": np.nan_to_num(exploit_rounds, nan=-1).astype(np.int64),
        "explore_rounds": explore_rounds, "exploit_bits": exploit_bits, "explore_bits": explore_bits,
        "acceptance_rate": acc, "wall_s": wall,
        "difficulty": tier_of[pi],
    }, nan_to_null=True)
    pid = pl.format("p{}", pl.col("_p"))
    df = df.with_columns(
        job_id=pl.concat_str([pl.lit(sweep), pl.col("_c"), pl.col("_p"), pl.col("seed")], separator="|")
        .hash(seed).cast(pl.String).str.zfill(20),
        sweep=pl.lit(sweep), model=pl.lit(model), task=pl.lit(task), problem_id=pid,
        difficulty=pl.col("difficulty") if difficulty else pl.lit(None, dtype=pl.String),
        chain_length=pl.when(pl.col("chain_length") >= 0).then(pl.col("chain_length")),
        exploit_rounds=pl.when(pl.col("factor").is_not_null()).then(pl.col("exploit_rounds")),
        explore_rounds=pl.when(pl.col("factor").is_not_null()).then(pl.col("explore_rounds")),
        exploit_bits=pl.when(pl.col("factor").is_not_null()).then(pl.col("exploit_bits")),
        explore_bits=pl.when(pl.col("factor").is_not_null()).then(pl.col("explore_bits")),
        acceptance_rate=pl.when(pl.col("chain_length") >= 0).then(pl.col("acceptance_rate")),
        completion=pl.concat_str([pl.lit("let x = "), pl.col("_variant"), pl.lit(" and y = "),
                                  pl.col("_variant") * 7 % 11, pl.lit(" ; so the answer is \\boxed{"),
                                  pl.col("_answer"), pl.lit("}")]),
        extracted=pl.col("_answer").cast(pl.String),
        error=pl.lit(None, dtype=pl.String), exit_step=pl.lit(None, dtype=pl.Int64),
        bits_l2r=pl.lit(None, dtype=pl.Float64),
        # synthetic IMH ranks positions like max_prob (its default position rule's base)
        base_sampler=pl.when(pl.col("chain_length") >= 0).then(pl.lit("max_prob")),
        settings=pl.lit(None, dtype=pl.String),   # one unknown configuration: rows pool
        score=pl.lit(None, dtype=pl.Float64),     # the project's own tasks: correct is the verdict
        cache=pl.lit("none"),
        gen_length=pl.lit(gen_length, dtype=pl.Int64), block_length=pl.lit(block_length, dtype=pl.Int64),
        worker=pl.lit("synthetic"), code_version=pl.lit("synthetic"),
        created_at=pl.lit(datetime(2025, 1, 1, tzinfo=timezone.utc)).cast(CONTRACT["created_at"]),
    )
    return df.select([pl.col(c).cast(t) for c, t in CONTRACT.items()])


def write_sweep(out: str | os.PathLike, rows: int | None = None, *, rows_per_shard: int = 250_000,
                n_samples: int = 8, n_problems: int | None = None, configs: Sequence[Config] = DEFAULT_CONFIGS,
                subdir: str = "shards", seed: int = 0, **kwargs) -> Path:
    """Write a synthetic sweep of about ``rows`` rows as shards under ``out/subdir``.

    Give ``rows`` (problems are derived) or ``n_problems``.  Returns ``out``.
    """
    per_problem = len(configs) * n_samples
    if n_problems is None:
        n_problems = max(1, (rows or per_problem) // per_problem)
    total = n_problems * per_problem
    target = Path(out) / subdir if subdir else Path(out)
    target.mkdir(parents=True, exist_ok=True)
    for n, begin in enumerate(range(0, total, rows_per_shard)):
        df = synthetic_rows(n_problems, n_samples, configs, seed=seed, start=begin, stop=begin + rows_per_shard, **kwargs)
        # A result name as the driver writes them (workers.layout): shard-<32 hex>.parquet.
        name = f"shard-{hashlib.sha256(f'synthetic-{seed}-{n}'.encode()).hexdigest()[:32]}.parquet"
        tmp = target / f".{name}.tmp"
        df.write_parquet(tmp, statistics=True)
        tmp.rename(target / name)  # atomic publish, as the workers do
    return Path(out)

