"""Two optional row columns: ``bits_l2r`` (002 §5.1 left-to-right rescoring, only when a job asks)
and ``base_sampler`` (IMH's α = 1 baseline), written by the worker in-process (no Ray)."""
from __future__ import annotations

import math

import polars as pl
import pytest
import torch

from workers.actor import SweepWorker
from workers.jobs import JobBatch, job_id
from workers.models import load_model
from workers.samplers import make_sampler
from workers.tasks import load_task

G = 8


def make_batch(model: str, sampler: str, params: dict, bits_l2r: bool, n: int = 3) -> JobBatch:
    task = load_task("countdown")
    pids = tuple(p.problem_id for p in task.problems[:n])
    full = make_sampler(sampler, **params).params
    ids = tuple(job_id("t", model, "countdown", p, sampler, full, s) for s, p in enumerate(pids))
    return JobBatch("t", model, "countdown", sampler, full, G, G, ids, pids, tuple(range(n)),
                    sampler_args=dict(params), bits_l2r=bits_l2r)


def naive_l2r_bits(model, prompt: list[int], tokens: torch.Tensor) -> float:
    """Σ_j −log2 p(x_j | prompt, x_<j, masks after j), one forward per position."""
    nats = 0.0
    for j in range(G):
        x = torch.tensor(prompt + tokens[:j].tolist() + [model.mask_id] * (G - j))[None]
        logits = model.logits(x)[0, len(prompt) + j].double()
        logits[model.mask_id] = -math.inf
        nats -= float(torch.log_softmax(logits, -1)[tokens[j]])
    return nats / math.log(2)


def test_bits_l2r_is_written_only_when_asked_and_equals_the_left_to_right_nll(small_model_dir, tmp_path):
    batch = make_batch(small_model_dir, "confidence", {"temperature": 0.0}, bits_l2r=True)
    worker = SweepWorker(str(tmp_path / "a"), "test", model=small_model_dir)
    worker.run(batch)
    worker.dir = type(worker.dir)(str(tmp_path / "b"))
    worker.dir.create()
    worker.run(make_batch(small_model_dir, "confidence", {"temperature": 0.0}, bits_l2r=False))
    asked = pl.read_parquet(f"{tmp_path}/a/shards/*.parquet").sort("seed")
    plain = pl.read_parquet(f"{tmp_path}/b/shards/*.parquet")
    assert plain["bits_l2r"].is_null().all() and plain["base_sampler"].is_null().all()

    model, task = load_model(small_model_dir), load_task("countdown")
    prompts = [model.encode_prompt(task.get(p).prompt) for p in batch.problem_ids]
    out = make_sampler("confidence", temperature=0.0).generate(model, prompts, G, G, list(batch.seeds))
    want = [naive_l2r_bits(model, prompts[i], out.tokens[i]) for i in range(len(prompts))]
    assert asked["bits_l2r"].to_list() == pytest.approx(want, rel=1e-9, abs=1e-9)
    # greedy decoding in a non-left-to-right order: the trajectory bits are a different number
    assert asked["bits"].to_list() != pytest.approx(want, rel=1e-6)


def test_imh_rows_name_their_base_sampler(small_model_dir, tmp_path):
    worker = SweepWorker(str(tmp_path), "test", model=small_model_dir)
    worker.run(make_batch(small_model_dir, "imh", {"alpha": 2.0, "chain_length": 1, "position": "margin"}, bits_l2r=False, n=2))
    df = pl.read_parquet(f"{tmp_path}/shards/*.parquet")
    assert df["base_sampler"].to_list() == ["margin", "margin"]
    assert df["bits_l2r"].is_null().all()


def test_a_spec_asks_for_bits_l2r_and_its_batches_carry_it(small_model_dir):
    from sweeps.engine.spec import SpecError, expand, spec_from_dict

    d = {"name": "s", "models": [small_model_dir], "tasks": [{"name": "countdown", "limit": 2}],
         "samplers": ["confidence"], "samples": 2}
    assert not any(b.bits_l2r for b in expand(spec_from_dict(d)).batches)
    plan = expand(spec_from_dict({**d, "bits_l2r": True}))
    assert plan.batches and all(b.bits_l2r for b in plan.batches)
    assert all(b.subset(b.job_ids[:1]).bits_l2r for b in plan.batches)
    with pytest.raises(SpecError, match="bits_l2r must be true or false"):
        spec_from_dict({**d, "bits_l2r": "yes"})
