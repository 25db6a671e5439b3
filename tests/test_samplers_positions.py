"""A step forwards only the positions it reads (issue 27), and decodes exactly as before.

Specification: for every sampler, the tokens and every trace field (nfe, forward_rows, bits,
order, commit steps, rounds, acceptance, exits) are bit for bit the same whether the model
computes only the asked positions, computes every position (a model without ``positions``: the
helper slices), or the sampler forwards every generated position at every step (``full_logits``:
the layout before issue 27, where nothing can be missing).  Covers ragged prompts, semi-AR blocks,
IMH's lookahead and reused forward, streaming windows, ETE, infilling's early exit and
continuous batching.  Exact denoisers keep it fast; the tiny model checks a real head."""
from __future__ import annotations

import dataclasses
import math

import pytest
import torch

from workers.batching import generate_continuous
from workers.exact_models import CausalWindowJointModel, ExactJointModel
from workers.models import load_model
from workers.prefix_cache import PrefixCache
from workers.samplers import SAMPLERS, make_sampler
from workers.samplers.base import build_canvas
from workers.samplers.infilling import Template, infill

PROMPTS = [[1], [2, 0], [1, 1, 2], [0]]          # ragged: left padding and an attention mask
SEEDS = [3, 4, 5, 6]


class Asked:
    """The exact model behind ``logits(x, attention_mask, positions)``: computes the asked rows
    only (from the exact marginals) and records how many it was asked for."""

    def __init__(self, inner):
        self.inner, self.widths = inner, []
        for a in ("mask_id", "vocab_size", "pad_id", "eos_id", "device", "stream_window"):
            if hasattr(inner, a):
                setattr(self, a, getattr(inner, a))

    def logits(self, x, attention_mask=None, positions=None):
        full = self.inner.logits(x, attention_mask)
        if positions is None:
            return full
        self.widths.append(positions.shape[1])
        return full.gather(1, positions[..., None].expand(-1, -1, full.shape[-1]))


class Plain(Asked):
    """The same model without the ``positions`` keyword (a user's denoiser before issue 27)."""

    def logits(self, x, attention_mask=None):
        return self.inner.logits(x, attention_mask)


def record(out) -> tuple:
    return out.tokens.tolist(), [dataclasses.asdict(t) for t in out.traces]


def same(a, b) -> bool:
    if isinstance(a, float) and isinstance(b, float):
        return a == b or (math.isnan(a) and math.isnan(b))
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(same(a[k], b[k]) for k in a)
    if isinstance(a, (list, tuple)):
        return len(a) == len(b) and all(same(u, v) for u, v in zip(a, b))
    return a == b


def three_ways(decode, inner) -> list[tuple]:
    """``decode(sampler_flag, model)`` with the positions model, the plain one, and full_logits."""
    return [record(decode(False, Asked(inner))), record(decode(False, Plain(inner))),
            record(decode(True, Asked(inner)))]


def sampler(name: str, params: dict, full: bool):
    s = make_sampler(name, **params)
    s.full_logits = full
    return s


JOINT = ExactJointModel.random(V=3, n=8, seed=5, num_tables=3, concentration=0.5)
STREAM = CausalWindowJointModel.random(V=3, n=8, seed=6, num_tables=2, stream_window=3)
CONFIGS = [(n, {}) for n in sorted(SAMPLERS)] + [
    ("imh", {"window": "block", "chain_length": 3}), ("imh", {"window": 2, "position": "entropy"}),
    ("imh", {"window": 3, "position": "random", "alpha": 0.7}), ("imh", {"max_rows": 3}),
    ("ete", {"budget": 2, "extra_rounds": 1, "threshold": 0.6, "explore_threshold": 0.9, "min_masked": 1,
             "temperature": 1.0}),
    ("ete", {"budget": 1, "final_round": True, "explore_threshold": 0.95, "min_masked": 1}),
    ("threshold", {"threshold": 0.5, "temperature": 1.0}), ("med", {"lam": 0.9, "temperature": 1.0}),
]


@pytest.mark.parametrize("name,params", CONFIGS, ids=[f"{n}{p or ''}" for n, p in CONFIGS])
@pytest.mark.parametrize("model", [JOINT, STREAM], ids=["blocks", "stream"])
def test_every_sampler_decodes_the_same_from_the_positions_it_reads(name, params, model):
    for bl in (2, 4):
        runs = three_ways(lambda full, m: sampler(name, params, full).generate(m, PROMPTS, 8, bl, SEEDS), model)
        assert same(runs[0], runs[1]) and same(runs[0], runs[2]), (name, params, bl)


@pytest.mark.parametrize("name,params", [("confidence", {}), ("threshold", {"threshold": 0.5, "temperature": 1.0}),
                                         ("imh", {"window": 2}), ("ete", {"budget": 1, "min_masked": 1})])
def test_continuous_batching_decodes_the_same(name, params):
    def decode(full, m):
        out, stats = generate_continuous(sampler(name, params, full), m, PROMPTS * 2, 8, 4, list(range(8)), width=3)
        out.traces[0].extra["rows"] = stats.rows
        return out

    runs = three_ways(decode, JOINT)
    assert same(runs[0], runs[1]) and same(runs[0], runs[2])


TEMPLATE = Template(reasoning_length=4, answer_length=2, delimiter=[0], closing=[1])


@pytest.mark.parametrize("name,params", [("confidence", {}), ("threshold", {"threshold": 0.6}), ("random", {}),
                                         ("imh", {"window": "block"}), ("imh", {}),
                                         ("ete", {"budget": 1, "min_masked": 1, "explore_threshold": 0.95})])
@pytest.mark.parametrize("gamma,exit_decode", [(5.0, "greedy"), (5.0, "sampler"), (2.1, "greedy"), (2.1, "sampler")])
def test_infilling_early_exit_reads_the_answer_from_the_same_forward(name, params, gamma, exit_decode):
    """The hook declares the answer block (and, when the sampler decodes it, the windows it moves
    rows to); rows exit at the same steps with the same answers."""
    model = ExactJointModel.random(V=3, n=8, seed=9, num_tables=2)
    exits = 0
    for bl in (2, 4):
        runs = three_ways(lambda full, m: infill(sampler(name, params, full), m, PROMPTS, TEMPLATE, block_length=bl,
                                                 seeds=SEEDS, gamma=gamma, exit_decode=exit_decode), model)
        assert same(runs[0], runs[1]) and same(runs[0], runs[2]), (bl, runs[0][1], runs[2][1])
        exits += sum(t["exit_step"] is not None for t in runs[0][1])
    assert exits > 0 or gamma < 2 * math.log(3)   # above the answer's largest H_UB every row exits


def test_a_step_asks_for_its_window_only():
    """Without hooks a step forwards each row's window (block_length positions), not the region."""
    m = Asked(JOINT)
    make_sampler("threshold", threshold=0.5, temperature=1.0).generate(m, PROMPTS, 8, 2, SEEDS)
    assert m.widths and set(m.widths) == {2}
    m = Asked(STREAM)                       # streaming window of 3 inside blocks of 4
    make_sampler("wedlm").generate(m, PROMPTS, 8, 4, SEEDS)
    assert set(m.widths) == {3}


def test_a_real_head_decodes_the_same_from_the_positions_it_reads():
    """The tiny model computes its head on the asked rows only (``output_rows``), also behind the
    prefix cache (refresh and cached forwards)."""
    tiny = load_model("tiny", device="cpu")
    prompts = [tiny.encode_prompt(p) for p in ["2+3=", "12*3-4=", "7="]]
    for name, params in (("threshold", {"threshold": 0.5, "temperature": 1.0}), ("imh", {"chain_length": 2})):
        for cache in (False, True):
            models = [PrefixCache(tiny, 12, 4) if cache else tiny for _ in range(2)]
            a, b = (record(sampler(name, params, False).decode(m, *build_canvas(m, prompts, 12), 4, [0, 1, 2]))
                    for m in (models[0], Plain(models[1])))
            assert a[0] == b[0], (name, cache)
            for ta, tb in zip(a[1], b[1]):   # the head's rounding may depend on its row count
                assert (ta["nfe"], ta["forward_rows"], ta["order"]) == (tb["nfe"], tb["forward_rows"], tb["order"])
                assert ta["bits"] == pytest.approx(tb["bits"], rel=1e-5)
