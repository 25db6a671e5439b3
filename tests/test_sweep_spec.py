"""Sweep specs: parsing, validation (one-line errors), job ids, deterministic batches, bad CLI input."""
from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from sweeps.run import main as run_main
from sweeps.engine.spec import SamplerSpec, SpecError, SweepSpec, TaskSpec, expand, load_spec, spec_from_dict
from workers.jobs import JobBatch, job_id

ROOT = Path(__file__).resolve().parent.parent


def _spec(**kw) -> SweepSpec:
    base = dict(name="t", models=["tiny"], tasks=[TaskSpec("countdown", limit=3)],
                samplers=[SamplerSpec("confidence", grid={"temperature": [0.5, 1.0]})], samples=4,
                batch_size=3)
    base.update(kw)
    return SweepSpec(**base)


def test_job_id_is_sha256_of_sorted_key_json():
    params = {"temperature": 1.0, "alpha": 2.0}
    key = {"sweep": "s", "model": "m", "task": "t", "problem_id": "p", "sampler": "imh",
           "params": {"alpha": 2.0, "temperature": 1.0}, "seed": 3}
    want = hashlib.sha256(json.dumps(key, sort_keys=True, separators=(",", ":")).encode()).hexdigest()
    got = job_id("s", "m", "t", "p", "imh", params, 3)
    assert got == want[:24] == "ce101f1c0051afe317f78270"  # stable across runs and machines
    # any field changes the id; key order does not
    assert job_id("s", "m", "t", "p", "imh", dict(reversed(list(params.items()))), 3) == got
    assert job_id("s", "m", "t", "p", "imh", params, 4) != got
    assert job_id("s2", "m", "t", "p", "imh", params, 3) != got


def test_expand_grid_ids_and_batches(small_model_dir):
    spec = _spec(models=[small_model_dir])
    plan = expand(spec)
    ids = plan.job_ids()
    assert plan.total == 3 * 2 * 4 == len(ids) == len(set(ids))
    assert all(len(b) <= 3 for b in plan.batches)
    # params carry the sampler's defaults; batches share one config
    for b in plan.batches:
        assert "temperature" in b.params and len({(b.sampler, json.dumps(b.params))}) == 1
    again = expand(spec)
    assert [b.job_ids for b in again.batches] == [b.job_ids for b in plan.batches]  # deterministic


def test_limit_spreads_over_difficulty_tiers(small_model_dir):
    plan = expand(_spec(models=[small_model_dir], tasks=[TaskSpec("countdown", limit=6)]))
    tiers = {plan.difficulty[("countdown", p)] for b in plan.batches for p in b.problem_ids}
    assert len(tiers) >= 3


def test_yaml_roundtrip_and_example(tmp_path):
    spec = load_spec(ROOT / "sweeps" / "specs" / "example.yaml")
    assert spec.name == "example" and spec.samplers[0].grid["temperature"] == [0.5, 1.0]
    p = tmp_path / "s.yaml"
    p.write_text("name: x\nmodels: tiny\ntasks: [countdown]\nsamplers: [random]\n")
    s = load_spec(p)
    assert s.tasks[0].name == "countdown" and s.samplers[0].name == "random" and s.models == ["tiny"]


def test_a_declared_comparison_protocol_is_kept_in_the_spec(tmp_path):
    """``compare_at`` reaches OUT/spec.yaml (the report compares samplers there, 000 Table 2)."""
    p = tmp_path / "s.yaml"
    p.write_text("name: x\nmodels: [tiny]\ntasks: [countdown]\nsamplers: [random]\ncompare_at: {temperature: 0.5}\n")
    assert load_spec(p).compare_at == {"temperature": 0.5}
    assert spec_from_dict(load_spec(p).to_dict()).compare_at == {"temperature": 0.5}


@pytest.mark.parametrize("text, needle", [
    ("name: x\nmodels: [tiny\n", "malformed YAML at line"),
    ("name: x\nmodels: [tiny]\ntasks: [countdown]\n", "missing required key 'samplers'"),
    ("name: x\nmodels: [tiny]\ntasks: [countdown]\nsamplers: [random]\nsamplez: 3\n", "unknown key 'samplez'"),
    ("name: x\nmodels: [tiny]\ntasks: [countdown]\nsamplers: [{name: random, grid: {temperature: [-1]}}]\n",
     "must be >= 0"),
    ("name: x\nmodels: [tiny]\ntasks: [countdown]\nsamplers: [{name: imh, grid: {alpha: [2, -0.5]}}]\n",
     "alpha must be >= 0"),
    ("name: x\nmodels: [tiny]\ntasks: [{name: countdown, limit: 0}]\nsamplers: [random]\n", "limit must be >= 1"),
    ("name: 'a b'\nmodels: [tiny]\ntasks: [countdown]\nsamplers: [random]\n", "name must be"),
    ("name: x\nmodels: [tiny]\ntasks: [countdown]\nsamplers: [random]\ncompare_at: 0.5\n",
     "compare_at must map column names to values"),
])
def test_bad_spec_one_line(tmp_path, text, needle):
    p = tmp_path / "s.yaml"
    p.write_text(text)
    with pytest.raises(SpecError) as e:
        load_spec(p)
    assert needle in str(e.value) and "\n" not in str(e.value)


@pytest.mark.parametrize("kw, needle", [
    (dict(samplers=[SamplerSpec("nosuch")]), "unknown sampler 'nosuch'"),
    (dict(samplers=[SamplerSpec("confidence", params={"bogus": 1})]), "no parameter 'bogus'"),
    (dict(tasks=[TaskSpec("nosuchtask")]), "unknown task 'nosuchtask'"),
    (dict(models=["no-such-model"]), "unknown model 'no-such-model'"),
    (dict(models=["/nonexistent/dir/x"]), "model '/nonexistent/dir/x'"),
    (dict(tasks=[TaskSpec("countdown", problem_ids=["nope"])]), "no problem 'nope'"),
    (dict(tasks=[TaskSpec("countdown", gen_length=10, block_length=4)]), "does not divide"),
    (dict(tasks=[TaskSpec("countdown", limit=2), TaskSpec("countdown", limit=3)]), "repeats a job"),
])
def test_bad_expansion_one_line(small_model_dir, kw, needle):
    kw.setdefault("models", [small_model_dir])
    with pytest.raises(SpecError) as e:
        expand(_spec(**kw))
    assert needle in str(e.value) and "\n" not in str(e.value)


def _yaml(tmp_path, model, **over) -> Path:
    d = {"name": "bad", "models": [model], "tasks": [{"name": "countdown", "limit": 2}],
         "samplers": [{"name": "random"}], "samples": 2}
    d.update(over)
    p = tmp_path / "spec.yaml"
    p.write_text(json.dumps(d))  # JSON is YAML
    return p


@pytest.mark.parametrize("case", ["sampler", "task", "model", "yaml", "temperature", "alpha", "out_is_file"])
def test_cli_bad_input_exits_nonzero_and_writes_nothing(tmp_path, capsys, small_model_dir, case):
    out = tmp_path / "out"
    spec = _yaml(tmp_path, small_model_dir)
    if case == "sampler":
        spec = _yaml(tmp_path, small_model_dir, samplers=[{"name": "nosuch"}])
    elif case == "task":
        spec = _yaml(tmp_path, small_model_dir, tasks=["nosuch"])
    elif case == "model":
        spec = _yaml(tmp_path, "nosuch-model")
    elif case == "yaml":
        spec.write_text("name: [unclosed\n")
    elif case == "temperature":
        spec = _yaml(tmp_path, small_model_dir, samplers=[{"name": "confidence", "params": {"temperature": -0.1}}])
    elif case == "alpha":
        spec = _yaml(tmp_path, small_model_dir, samplers=[{"name": "imh", "grid": {"alpha": [-2.0]}}])
    elif case == "out_is_file":
        out.write_text("i am a file")
    before = sorted(p.name for p in tmp_path.iterdir())
    code = run_main([str(spec), "--out", str(out), "--no-progress"])
    err = capsys.readouterr().err.strip()
    assert code == 2, err
    assert err.startswith("error: ") and len(err.splitlines()) == 1, err
    assert sorted(p.name for p in tmp_path.iterdir()) == before  # nothing written
    if case == "out_is_file":
        assert out.read_text() == "i am a file" and "is a file" in err


def test_cli_subprocess_bad_input(tmp_path, small_model_dir):
    """The real entry point: one line on stderr, exit status 2, no traceback, no output dir."""
    spec = _yaml(tmp_path, small_model_dir, samplers=[{"name": "nosuch"}])
    r = subprocess.run([sys.executable, "-m", "sweeps.run", str(spec), "--out", str(tmp_path / "o")],
                       capture_output=True, text=True, cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert r.returncode == 2
    assert r.stderr.strip().splitlines() == [r.stderr.strip()] and "unknown sampler 'nosuch'" in r.stderr
    assert not (tmp_path / "o").exists()


def test_help_mentions_the_essentials():
    r = subprocess.run([sys.executable, str(ROOT / "sweeps" / "pareto.py"), "--help"],
                       capture_output=True, text=True, cwd=ROOT)
    assert r.returncode == 0
    for opt in ("--out", "--smoke", "--address", "--workers", "resume"):
        assert opt in r.stdout


def test_subset_keeps_order():
    b = JobBatch("s", "m", "t", "x", {}, 8, 8, ("a", "b", "c"), ("p1", "p2", "p3"), (0, 1, 2))
    s = b.subset({"c", "a"})
    assert s.job_ids == ("a", "c") and s.problem_ids == ("p1", "p3") and s.seeds == (0, 2)
    assert [x.job_ids for x in b.singles()] == [("a",), ("b",), ("c",)]
    assert b.key != s.key


def test_spec_from_dict_rejects_non_mapping():
    with pytest.raises(SpecError, match="expected a mapping"):
        spec_from_dict(["a"])


# ------------------------------------------------------------------ one replication unit (greedy)
def test_greedy_configurations_run_one_sample_per_problem_and_say_so(small_model_dir):
    """A deterministic configuration (τ = 0) gives identical samples for every seed: the
    expansion runs its first seed only (the problem is the unit), stochastic ones keep all."""
    spec = _spec(models=[small_model_dir], samplers=[
        SamplerSpec("confidence", grid={"temperature": [0.0, 1.0]}), SamplerSpec("imh"),
        SamplerSpec("threshold", params={"threshold": 0.8})], samples=4, seed=7)
    plan = expand(spec)
    seeds: dict[tuple, set] = {}
    for b in plan.batches:
        seeds.setdefault((b.sampler, b.params.get("temperature")), set()).update(b.seeds)
    assert seeds[("confidence", 0.0)] == {7} and seeds[("threshold", 0.0)] == {7}
    assert seeds[("confidence", 1.0)] == set(range(7, 11)) and seeds[("imh", None)] == set(range(7, 11))
    assert plan.total == 3 * (1 + 4 + 4 + 1)
    assert len(plan.notes) == 1 and "2 deterministic (greedy) configuration(s)" in plan.notes[0]
    assert "\n" not in plan.notes[0]
    # the dry run counts the same jobs
    from sweeps.engine.dry_run import estimate

    assert estimate(spec).jobs == plan.total
    assert expand(_spec(models=[small_model_dir], samples=1)).notes == []   # nothing to collapse


def test_a_task_split_can_be_named_in_its_args(small_model_dir):
    """Tuning runs on the train split (002 §5.4): ``args: {split: train}`` reaches load_task."""
    from workers.tasks import load_task

    plan = expand(_spec(models=[small_model_dir],
                        tasks=[TaskSpec("countdown", limit=3, args={"split": "train", "n": 20})]))
    train = {p.problem_id for p in load_task("countdown", split="train", n=20).problems}
    test = {p.problem_id for p in load_task("countdown").problems}
    ids = {p for b in plan.batches for p in b.problem_ids}
    assert ids <= train and not ids & test
    assert all(b.task_args == {"split": "train", "n": 20} for b in plan.batches)
