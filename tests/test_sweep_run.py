"""End-to-end sweeps on the shared Ray session: rows = jobs, resume, corrupt shards, injected failures."""
from __future__ import annotations

import collections
import os
import time

import polars as pl
import pytest

from sweeps.engine.driver import run_sweep
from sweeps.engine.spec import SamplerSpec, SweepSpec, TaskSpec, expand
from workers.rows import COLUMNS
from workers.shards import SweepDir


def spec(model: str, name: str, limit: int = 4, samples: int = 4, batch: int = 4) -> SweepSpec:
    return SweepSpec(name=name, models=[model],
                     tasks=[TaskSpec("countdown", limit=limit, gen_length=8, block_length=8)],
                     samplers=[SamplerSpec("confidence", grid={"temperature": [0.5, 1.0]}),
                               SamplerSpec("random")],
                     samples=samples, batch_size=batch)


def run(s: SweepSpec, out, **kw):
    kw.setdefault("workers", 2)
    return run_sweep(s, str(out), progress=False, report=False, log=lambda m: print(f"{time.strftime('%X')} {m}", flush=True), **kw)


def ids_in(out) -> collections.Counter:
    df = pl.read_parquet(f"{out}/shards/*.parquet", columns=["job_id"])
    return collections.Counter(df["job_id"].to_list())


def test_sweep_writes_one_row_per_job_then_resumes_nothing(ray_session, small_model_dir, tmp_path):
    s = spec(small_model_dir, "e2e")
    plan = expand(s)
    summary = run(s, tmp_path / "out")
    assert summary.complete and summary.total == plan.total == 4 * 3 * 4 and summary.ran == plan.total
    df = pl.read_parquet(f"{tmp_path}/out/shards/*.parquet")
    assert tuple(df.columns) == COLUMNS and df.height == plan.total
    assert df["job_id"].n_unique() == df.height and set(df["job_id"]) == set(plan.job_ids())
    assert df["worker"].n_unique() == 2  # both actors did work
    assert (df["nfe"] == 8).all() and (df["forward_rows"] >= df["nfe"]).all()
    assert df.filter(pl.col("sampler") == "random")["temperature"].unique().to_list() == [1.0]
    assert df["wall_s"].min() > 0 and df["code_version"].n_unique() == 1
    # per-sample streams: the same job gives the same completion when rerun elsewhere
    again = run(s, tmp_path / "out")
    assert again.ran == 0 and again.present_before == plan.total and again.complete


def test_corrupt_shard_is_quarantined_and_its_jobs_redone(ray_session, small_model_dir, tmp_path):
    s = spec(small_model_dir, "corrupt", limit=2, samples=2, batch=4)
    out = tmp_path / "out"
    assert run(s, out).complete
    d = SweepDir(str(out))
    shard = d.list_shards()[0]
    lost = set(d.scan().shard_ids[shard])
    data = open(shard, "rb").read()
    open(shard, "wb").write(data[: len(data) // 3])  # truncated, as by a full disk
    summary = run(s, out)
    assert len(summary.quarantined) == 1 and summary.ran == len(lost) and summary.complete
    assert os.listdir(out / "quarantine")
    c = ids_in(out)
    assert set(c) == set(expand(s).job_ids()) and max(c.values()) == 1


@pytest.mark.slow
def test_injected_worker_deaths_are_retried_and_poison_jobs_become_error_rows(ray_session, small_model_dir, tmp_path):
    s = spec(small_model_dir, "inject", limit=4, samples=2, batch=4)
    plan = expand(s)
    ids = plan.job_ids()
    die_once = [plan.batches[2].job_ids[0]]  # a fraction of the batches crash their worker once
    die_always, raises = ids[1], ids[-1]
    inject = {"dir": str(tmp_path), "die_once": die_once, "die_always": [die_always], "raise": [raises]}
    summary = run(s, tmp_path / "out", retries=1, inject=inject)
    assert summary.complete and summary.failed == 2, summary
    df = pl.read_parquet(f"{tmp_path}/out/shards/*.parquet")
    assert df.height == plan.total and df["job_id"].n_unique() == plan.total
    errors = dict(df.filter(pl.col("error").is_not_null() & (pl.col("completion") == ""))
                  .select("job_id", "error").iter_rows())
    assert set(errors) == {die_always, raises}
    assert "died" in errors[die_always] and "injected failure" in errors[raises]
    # the jobs whose worker died once were retried and produced real samples
    assert all(os.path.exists(tmp_path / f"died-{j}") for j in die_once)
    ok = df.filter(pl.col("job_id").is_in(die_once))
    assert ok["error"].is_null().all() or (ok["completion"] != "").all()
    assert df["worker"].n_unique() > 2  # restarted actors (new processes) wrote rows


def test_a_batch_stuck_on_an_unschedulable_actor_is_run_elsewhere(ray_session, small_model_dir, tmp_path):
    """3 actors on 2 CPU slots: one never starts; its batch is speculatively re-run at the tail."""
    s = spec(small_model_dir, "stuck", limit=2, samples=2, batch=4)
    summary = run(s, tmp_path / "out", workers=3, speculate_after=1.0)
    assert summary.complete and summary.ran == expand(s).total
    c = ids_in(tmp_path / "out")
    assert max(c.values()) == 1 and len(c) == expand(s).total
