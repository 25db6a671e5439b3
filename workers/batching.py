"""Continuous batching: a row that finishes frees its slot for the next queued sample.

    out, stats = generate_continuous(sampler, model, prompts, gen_length, block_length, seeds, width=32)

Parallel samplers (threshold, factor, eb, med, ete; infilling's early exit) finish rows at
different steps, so a static batch of ``width`` runs until its slowest row with fewer and fewer
rows per forward (``Sampler.decode`` already drops finished rows, so no forward row is wasted;
what is wasted is the batch's width: a GPU forward of 3 rows costs about what one of 32 does).
Here up to ``width`` samples decode at once and, at every step boundary, each finished row is
replaced by the next queued sample, which starts at its own step 0 and block 0.

Same tokens as the static batch (docs/design.md §3): every sample draws only from its own
generator, seeded by its seed, through ``Step.rand`` with counts that depend on its own state;
every per-sample state lives in its trace or in rows of ``DecodeState`` indexed by the sample;
window bounds are per row (block semi-AR from the row's own mask map).  So the loop below is
``Sampler.decode`` with a different choice of which rows are active at each step, and a row's
step counters (``commit_step``, ``exit_step``) are re-based to the step it joined.  One canvas
holds every queued sample (prompts left-padded to the longest, as ``generate`` does for one
batch); only ``width`` rows of it are forwarded at a time.

No sampler's state prevents a refill: IMH's lookahead logits are kept per sample id and ETE's
block schedule lives in each trace.
"""
from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from typing import Any, Optional, Sequence, Union

import torch

from workers.denoiser import check_denoiser
from workers.samplers.base import Sampler, SamplerOutput, StepHook, _needs_grouping, build_canvas, check_int


@dataclass
class BatchingStats:
    """What the device did: ``forwards`` model steps, ``rows`` rows forwarded in them (lookahead
    rows included, as in ``Trace.forward_rows``)."""

    forwards: int = 0
    rows: int = 0
    samples: int = 0

    @property
    def fill(self) -> float:
        """Mean rows per step (the width a static batch loses in its tail)."""
        return self.rows / max(self.forwards, 1)

    def add(self, other: "BatchingStats") -> None:
        self.forwards += other.forwards
        self.rows += other.rows
        self.samples += other.samples


def generate_continuous(sampler: Sampler, model: Any, prompts: Sequence[Sequence[int]], gen_length: int,
                        block_length: Optional[int] = None, seeds: Optional[Sequence[int]] = None, *,
                        width: int = 32, prefix_cache: Union[bool, str] = False
                        ) -> tuple[SamplerOutput, BatchingStats]:
    """``sampler.generate`` for any number of prompts with at most ``width`` rows in flight.

    Returns the same ``SamplerOutput`` (tokens and traces in the caller's order) as
    ``sampler.generate(model, prompts, gen_length, block_length, seeds, prefix_cache)``."""
    check_denoiser(model)
    width = check_int("width", width)
    gen_length = check_int("gen_length", gen_length)
    block_length = gen_length if block_length is None else check_int("block_length", block_length)
    if gen_length % block_length:
        raise ValueError(f"block_length {block_length} does not divide gen_length {gen_length}")
    seeds = list(range(len(prompts))) if seeds is None else list(seeds)
    if len(seeds) != len(prompts):
        raise ValueError(f"got {len(seeds)} seeds for {len(prompts)} prompts")
    if _needs_grouping(model, prompts):   # logits depend on left padding: one queue per prompt length
        return _by_length(sampler, model, prompts, gen_length, block_length, seeds, width, prefix_cache)
    if prefix_cache:
        from workers.prefix_cache import PrefixCache

        model = PrefixCache(model, gen_length, block_length,
                            mode="prefix" if prefix_cache is True else str(prefix_cache))
    x, attn, ragged, P = build_canvas(model, prompts, gen_length)
    return decode_continuous(sampler, model, x, attn, ragged, P, block_length, seeds, width)


def decode_continuous(sampler: Sampler, model: Any, x: torch.Tensor, attn: torch.Tensor, ragged: bool, P: int,
                      block_length: int, seeds: Sequence[int], width: int, stage: Optional[torch.Tensor] = None,
                      hooks: Sequence[StepHook] = ()) -> tuple[SamplerOutput, BatchingStats]:
    """``Sampler.decode`` over a prepared canvas with at most ``width`` rows active; a row that
    finishes is replaced, at the next step boundary, by the next queued row (canvas order)."""
    state = sampler._start(model, x, attn, ragged, P, block_length, seeds, stage)
    stats = BatchingStats(samples=x.shape[0])
    queue = deque(range(x.shape[0]))
    joined = [0] * x.shape[0]
    live: list[int] = []
    while True:
        live = [b for b in live if bool(state.masked[b].any())]      # finished rows leave ...
        while len(live) < width and queue:                             # ... and free their slot
            b = queue.popleft()
            if bool(state.masked[b].any()):
                joined[b] = state.step_idx
                live.append(b)
        if not live:
            break
        active = torch.tensor(sorted(live), device=x.device)
        before = sum(state.traces[b].forward_rows for b in live)
        sampler._step(state, active, hooks)
        stats.forwards += 1
        stats.rows += sum(state.traces[b].forward_rows for b in live) - before
        state.step_idx += 1
    for b, tr in enumerate(state.traces):   # step counters from the row's own first step
        if joined[b]:
            tr.commit_step = [s - joined[b] if s >= 0 else s for s in tr.commit_step]
            if tr.exit_step is not None:
                tr.exit_step -= joined[b]
    return sampler._finish(state), stats


def _by_length(sampler: Sampler, model: Any, prompts: Sequence[Sequence[int]], gen_length: int,
               block_length: int, seeds: Sequence[int], width: int, prefix_cache: Union[bool, str]
               ) -> tuple[SamplerOutput, BatchingStats]:
    """One continuous run per prompt length (models whose logits depend on left padding)."""
    lengths = [len(p) for p in prompts]
    tokens: Optional[torch.Tensor] = None
    traces: list[Any] = [None] * len(prompts)
    stats = BatchingStats()
    for n in dict.fromkeys(lengths):
        idx = [i for i, m in enumerate(lengths) if m == n]
        out, st = generate_continuous(sampler, model, [prompts[i] for i in idx], gen_length, block_length,
                                      [seeds[i] for i in idx], width=width, prefix_cache=prefix_cache)
        stats.add(st)
        if tokens is None:
            tokens = out.tokens.new_zeros(len(prompts), out.tokens.shape[1])
        tokens[idx] = out.tokens
        for j, i in enumerate(idx):
            traces[i] = out.traces[j]
    assert tokens is not None
    return SamplerOutput(tokens=tokens, traces=traces), stats
