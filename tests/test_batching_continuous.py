"""Continuous batching (workers/batching.py): with at most ``width`` rows in flight and finished
rows replaced at step boundaries, every parallel sampler gives the static batch's samples token
for token — and the same traces — because each sample owns its random stream (docs/design.md §3)."""
from __future__ import annotations

import pytest
import torch

from workers.batching import decode_continuous, generate_continuous
from workers.samplers import make_sampler

PARALLEL = [("threshold", {"threshold": 0.7}), ("factor", {"factor": 1.0}), ("eb", {"gamma": 0.5}),
            ("med", {"lam": 0.3, "k_max": 4}), ("ete", {"threshold": 0.8, "budget": 3}),
            ("imh", {"alpha": 2.0, "chain_length": 1})]


@pytest.fixture(scope="module")
def tiny():
    from workers.models import load_model
    from workers.tasks import load_task

    torch.set_num_threads(1)
    model = load_model("tiny")
    # ragged prompts (left padding) and problems of every tier, so rows finish at different steps
    return model, [model.encode_prompt(p.prompt) for p in load_task("arith").problems[:10]]


def _same(a, b) -> None:
    assert torch.equal(a.tokens, b.tokens)
    for x, y in zip(a.traces, b.traces):
        assert (x.nfe, x.forward_rows, x.tokens, x.order, x.commit_step, x.exit_step) == \
               (y.nfe, y.forward_rows, y.tokens, y.order, y.commit_step, y.exit_step)
        assert (x.exploit_rounds, x.explore_rounds, x.acceptance_rate) == (y.exploit_rounds, y.explore_rounds,
                                                                           y.acceptance_rate)
        assert x.bits == pytest.approx(y.bits, abs=1e-9)


@pytest.mark.parametrize("name, params", PARALLEL, ids=[n for n, _ in PARALLEL])
def test_continuous_equals_static_token_for_token(tiny, name, params):
    model, prompts = tiny
    sampler = make_sampler(name, temperature=1.0, **params) if name != "imh" else make_sampler(name, **params)
    static = sampler.generate(model, prompts, 16, 8, seeds=range(100, 110))
    cont, stats = generate_continuous(sampler, model, prompts, 16, 8, seeds=range(100, 110), width=3)
    _same(static, cont)
    assert stats.samples == 10 and stats.fill <= 3 * (1 + params.get("chain_length", 0))  # IMH: T+1 rows
    assert stats.rows == sum(t.forward_rows for t in cont.traces)
    # rows really were refilled: more model steps than one sample needs, never more than 3 rows each
    assert stats.forwards > max(t.nfe for t in cont.traces)


def test_imh_mixes_reused_and_fresh_rows_on_a_bf16_model(tiny):
    """Rows whose lookahead window W(s′) was empty forward afresh (the model's bf16) in the same
    step as rows reusing their upcast lookahead: one stacked tensor, the static batch's samples.
    (A short window N empties W(s′) for some rows only: 000 runs WeDLM with N = 16.)"""
    from workers.models import load_model

    model, prompts = load_model("tiny", dtype="bfloat16"), tiny[1]
    s = make_sampler("imh", alpha=2.0, chain_length=1, window=2)
    static = s.generate(model, prompts, 16, 8, seeds=range(10))
    cont, _ = generate_continuous(s, model, prompts, 16, 8, seeds=range(10), width=3)
    _same(static, cont)


def test_refill_with_the_prefix_cache_equals_static(tiny):
    model, prompts = tiny
    s = make_sampler("threshold", threshold=0.7)
    static = s.generate(model, prompts, 16, 8, seeds=range(10), prefix_cache="prefix")
    cont, _ = generate_continuous(s, model, prompts, 16, 8, seeds=range(10), width=4, prefix_cache="prefix")
    _same(static, cont)


def test_early_exit_infilling_refills_too(tiny):
    """004 §4.1's early exit (a StepHook) finishes rows early: its exit step is the row's own."""
    from workers.samplers.infilling import EarlyExit, Template, _canvas

    model, prompts = tiny
    tpl = Template(reasoning_length=16, answer_length=4)
    s = make_sampler("med", lam=0.3, k_max=4)
    x, attn, ragged, P, stage = _canvas(model, prompts, tpl, None)
    hook = EarlyExit(2.0)
    static = s.decode(model, x.clone(), attn, ragged, P, 16, range(10), stage=stage, hooks=(hook,))
    cont, _ = decode_continuous(s, model, x.clone(), attn, ragged, P, 16, range(10), 3, stage=stage, hooks=(hook,))
    _same(static, cont)
    assert any(t.exit_step is not None for t in cont.traces)   # the hook did fire


def test_a_bad_width_is_one_line(tiny):
    model, prompts = tiny
    with pytest.raises(ValueError, match="width must be >= 1"):
        generate_continuous(make_sampler("threshold"), model, prompts, 16, 8, width=0)


def test_a_sweep_with_fewer_slots_than_jobs_writes_the_same_rows(small_model_dir, tmp_path, monkeypatch):
    """``slots`` in the spec: the actor decodes its batch continuously, rows unchanged."""
    import polars as pl

    import workers.batching as batching
    from sweeps.engine.spec import SamplerSpec, SweepSpec, TaskSpec, expand
    from workers.actor import SweepWorker

    calls = []
    real = batching.generate_continuous
    monkeypatch.setattr(batching, "generate_continuous", lambda *a, **k: calls.append(k["width"]) or real(*a, **k))

    def rows(slots, out):
        spec = SweepSpec(name="c", models=[small_model_dir], tasks=[TaskSpec("countdown", limit=3, gen_length=8,
                                                                            block_length=4)],
                         samplers=[SamplerSpec("threshold", params={"threshold": 0.5})], samples=2, batch_size=6,
                         slots=slots)
        (b,) = expand(spec).batches
        return pl.read_parquet(SweepWorker(str(out), "t").run(b).shard).sort("job_id")

    static, cont = rows(None, tmp_path / "a"), rows(2, tmp_path / "b")
    assert calls == [2]
    cols = ["job_id", "completion", "nfe", "forward_rows", "bits", "correct"]
    assert static.select(cols).equals(cont.select(cols))
