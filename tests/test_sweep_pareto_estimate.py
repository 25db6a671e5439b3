"""What sweeps/pareto.py says before it runs: --dry-run only counts (no model, no decoding, no
task data needed); the time estimate is for the samples not yet in the shards, says when it was
measured under load, and leaves re-estimating to the progress line."""
from __future__ import annotations

import sys

import pytest

from sweeps import pareto
from sweeps.engine.cli import jobs_done


def _no_decoding(*a, **k):
    raise AssertionError("decoded for an estimate")


def test_dry_run_decodes_nothing(monkeypatch, tmp_path, capsys):
    monkeypatch.setattr(pareto, "estimate", _no_decoding)
    assert pareto.main(["--smoke", "--dry-run", "--out", str(tmp_path / "o")]) == 0
    assert "dry run: sweep pareto-smoke" in capsys.readouterr().out and not (tmp_path / "o").exists()


def test_cluster_dry_run_needs_neither_the_data_nor_the_weights(monkeypatch, capsys):
    """README "Cluster": the 8B command plus --dry-run on a machine without `datasets`."""
    monkeypatch.setattr(pareto, "estimate", _no_decoding)
    monkeypatch.setitem(sys.modules, "datasets", None)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    argv = ["--model", "GSAI-ML/LLaDA-8B-Instruct", "--task", "math500", "--problems", "500", "--samples", "32",
            "--address", "auto", "--out", "s3://BUCKET/pareto-llada", "--dry-run", "--tokens-per-s", "25000"]
    assert pareto.main(argv) == 0
    out = capsys.readouterr().out
    assert "math500: data not loaded here, 500 problems assumed" in out and "GPU-hours:" in out


def test_a_finished_sweep_has_nothing_left_to_estimate(monkeypatch, tmp_path, capsys):
    monkeypatch.setattr(pareto, "estimate", _no_decoding)
    monkeypatch.setattr(pareto, "jobs_done", lambda ids, out: len(list(ids)))  # every job in the shards
    monkeypatch.setattr(pareto, "execute", lambda spec, args: 0)
    monkeypatch.delenv("RAY_ADDRESS", raising=False)
    import sweeps.engine.spec as spec_module

    expand = spec_module.expand  # the plan as the script makes it, without loading the model to check it
    monkeypatch.setattr(spec_module, "expand", lambda spec, bs, check_models=True: expand(spec, bs, check_models=False))
    assert pareto.main(["--smoke", "--no-report", "--out", str(tmp_path)]) == 0
    assert "estimate: 0 of 60 samples left (all are in the shards): nothing to decode" in capsys.readouterr().out


@pytest.mark.parametrize("load, says_load", [(0.3, False), (3.5, True)])
def test_the_estimate_counts_what_is_left_and_says_how_far_to_trust_it(load, says_load):
    line = pareto.estimate_line(15360, 5120, 600.0, 2, load, 2)
    assert line.startswith("estimate: 5120 of 15360 samples left, about 10.0 min on 2 worker(s) here (8.5 samples/s")
    assert ("measured under load (load average 3.5 on 2 cores)" in line) == says_load
    assert line.endswith("the progress line re-estimates as the sweep goes")


def test_jobs_done_counts_only_the_asked_ids_in_sound_shards(tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    from analysis.synthetic import Config, write_sweep
    from workers.contract import SCHEMA
    from workers.shards import SweepDir

    assert jobs_done(["a"], str(tmp_path / "nothing-here")) == 0
    write_sweep(tmp_path / "synthetic", n_problems=3, n_samples=2,
                configs=[Config("confidence", {"temperature": 1.0})], gen_length=8, task="countdown")
    table = pq.read_table(next((tmp_path / "synthetic" / "shards").glob("*.parquet")))
    table = table.select([f.name for f in SCHEMA if f.name in table.column_names])
    table = table.cast(pa.schema([SCHEMA.field(n) for n in table.column_names]))  # the contract's types
    SweepDir(str(tmp_path / "sweep")).create()
    SweepDir(str(tmp_path / "sweep")).write(table)   # a result file as the workers write it
    ids = table["job_id"].to_pylist()
    assert jobs_done(ids[:4] + ["not-a-job"], str(tmp_path / "sweep")) == 4


def test_a_dry_run_over_a_started_sweep_says_what_is_left(monkeypatch, tmp_path):
    from sweeps.engine import cli
    from sweeps.engine.spec import SamplerSpec, SweepSpec, TaskSpec, expand

    spec = SweepSpec(name="dry", models=["tiny"], tasks=[TaskSpec("countdown", limit=2, gen_length=32, block_length=8)],
                     samplers=[SamplerSpec("confidence")], samples=3)
    assert cli.remaining_note(spec, str(tmp_path)) is None                 # nothing there yet
    assert cli.remaining_note(spec, "s3://bucket/sweep") is None           # offline: no store is asked
    total = expand(spec, None, check_models=False).total
    (tmp_path / "shards").mkdir()
    (tmp_path / "shards" / ("shard-" + "0" * 32 + ".parquet")).write_bytes(b"")  # listed, holds nothing sound
    monkeypatch.setattr(cli, "jobs_done", lambda ids, out: 2)
    assert cli.remaining_note(spec, str(tmp_path)) == f"already in {tmp_path}: 2 of {total} jobs; a run would do the other {total - 2}"
