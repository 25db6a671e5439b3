"""A resumed sweep never mixes settings (sweeps/engine/identity.py; docs/design.md §4 "Resume").

Reproductions of issue 26 item 1: a rerun on the same --out with gen_length 8 -> 16, or with
bits_l2r switched on, used to report "already done" and keep the old rows."""
from __future__ import annotations

import dataclasses
import json

import polars as pl
import pytest

from analysis.load import SweepDataError, load_samples
from sweeps.engine.driver import run_sweep
from sweeps.engine.identity import Identity, ResumeRefused, check_resume, differences, job_settings, plain, task_settings
from sweeps.engine.spec import SamplerSpec, SpecError, SweepSpec, TaskSpec, expand


def spec(model: str, gen: int = 8, **kw) -> SweepSpec:
    return SweepSpec(name="ident", models=[model],
                     tasks=[TaskSpec("countdown", limit=1, gen_length=gen, block_length=8)],
                     samplers=[SamplerSpec("confidence")], samples=2, batch_size=4, **kw)


def run(s: SweepSpec, out, **kw):
    return run_sweep(s, str(out), workers=1, progress=False, report=False, log=print, **kw)


def test_every_setting_that_changes_a_row_changes_the_job_ids():
    base = set(expand(spec("tiny"), check_models=False).job_ids())
    for other in (spec("tiny", gen=16), spec("tiny", bits_l2r=True)):
        assert not base & set(expand(other, check_models=False).job_ids())
    s = spec("tiny")
    s.tasks[0].args = {}  # args at their default: the same jobs
    assert set(expand(s, check_models=False).job_ids()) == base
    # the enumeration axes (more seeds, another sampler) keep the old jobs' ids
    more = dataclasses.replace(spec("tiny"), samples=3,
                               samplers=[SamplerSpec("confidence"), SamplerSpec("random")])
    assert base < set(expand(more, check_models=False).job_ids())


def test_the_cache_mode_is_part_of_a_models_settings_and_the_report_protocol_is_not():
    """Issue 29: a resume never mixes cached and uncached rows; slots (continuous batching gives
    the static batch's tokens) and compare_at (what the report compares) change no row."""
    base = set(expand(spec("tiny"), check_models=False).job_ids())
    for mode in ("prefix", "dual"):
        assert not base & set(expand(spec("tiny", cache={"tiny": mode}), check_models=False).job_ids())
    assert set(expand(spec("tiny", cache={"tiny": "none"}), check_models=False).job_ids()) == base
    same = spec("tiny", slots=2, compare_at={"temperature": 0.5})
    assert set(expand(same, check_models=False).job_ids()) == base
    ident = lambda s: expand(s, check_models=False).identity  # noqa: E731
    with pytest.raises(ResumeRefused) as e:
        check_resume("OUT", ident(spec("tiny")).to_json("ident"), True, "ident",
                     ident(spec("tiny", cache={"tiny": "prefix"})), extend=False)
    assert "models[tiny]" in str(e.value) and "prefix" in str(e.value), str(e.value)


def test_resume_check_names_the_differing_fields_in_one_line():
    """The driver's check (no Ray needed): same spec resumes; other lengths, bits_l2r, a new
    task or an unreadable/absent fingerprint beside existing rows are refused unless extend."""
    ident = lambda s: expand(s, check_models=False).identity  # noqa: E731
    stored = ident(spec("tiny")).to_json("ident")
    assert check_resume("OUT", stored, True, "ident", ident(spec("tiny")), extend=False) is not None
    two_tasks = spec("tiny")
    two_tasks.tasks.append(TaskSpec("arith", limit=1))
    for other, what in ((spec("tiny", gen=16), "tasks[countdown].gen_length 8 -> 16"),
                        (spec("tiny", bits_l2r=True), 'rows.bits_l2r "unset" -> true'),
                        (two_tasks, "tasks[arith] added")):
        with pytest.raises(ResumeRefused) as e:
            check_resume("OUT", stored, True, "ident", ident(other), extend=False)
        assert what in str(e.value) and "\n" not in str(e.value), str(e.value)
        assert check_resume("OUT", stored, True, "ident", ident(other), extend=True) is not None
    for bad in (None, b"{not json"):
        with pytest.raises(ResumeRefused):
            check_resume("OUT", bad, True, "ident", ident(spec("tiny")), extend=False)
    assert check_resume("OUT", None, False, "ident", ident(spec("tiny")), extend=False) == {}  # new sweep
    # another sweep name in the same directory is another sweep (a paper table's parts): allowed
    assert check_resume("OUT", stored, True, "part2", ident(spec("tiny", gen=16)), extend=False)


def test_identity_is_generic_over_fields_added_later():
    """A field another version adds (a model's cache mode) is covered without naming it here,
    and a field left at its default keeps old fingerprints."""
    @dataclasses.dataclass
    class Model:
        name: str
        cache: str = "none"

    t = task_settings(TaskSpec("countdown"), None, 8, 8)
    a, b = Identity(), Identity()
    a.add("m", "countdown", job_settings(spec("m"), Model("m"), t))
    b.add("m", "countdown", job_settings(spec("m"), Model("m", cache="dual"), t))
    assert a.fingerprint != b.fingerprint and plain(Model("m")) == plain("m")
    assert differences(a.fields, b.fields) == ['models[m].cache "unset" -> "dual"']


@pytest.mark.slow  # five small sweeps and two reports: ~40 s on 2 busy cores
def test_resume_under_other_settings_is_refused_then_new_out_or_extend(ray_session, small_model_dir, tmp_path, capsys):
    out = tmp_path / "out"
    first = run(spec(small_model_dir), out)
    assert first.complete and first.ran == 2
    spec_yaml = (out / "spec.yaml").read_text()
    with pytest.raises(SpecError) as e:
        run(spec(small_model_dir, gen=16), out)
    msg = str(e.value)
    assert "\n" not in msg and "tasks[countdown].gen_length 8 -> 16" in msg
    assert "new --out" in msg and "--extend" in msg
    assert (out / "spec.yaml").read_text() == spec_yaml  # refused before anything was written
    with pytest.raises(SpecError, match=r"rows\.bits_l2r"):
        run(spec(small_model_dir, bits_l2r=True), out)
    # a new --out is a new sweep
    assert run(spec(small_model_dir, gen=16), tmp_path / "new").ran == 2
    # --extend: the changed configuration is new work; the old rows stay, never counted as done
    ext = run(spec(small_model_dir, gen=16), out, extend=True)
    assert ext.present_before == 0 and ext.ran == 2 and ext.complete
    df = pl.read_parquet(f"{out}/shards/*.parquet")
    assert sorted(df["gen_length"].to_list()) == [8, 8, 16, 16] and df["settings"].n_unique() == 2
    fp = json.loads((out / "fingerprint.json").read_text())
    assert fp["sweeps"]["ident"]["fields"]["tasks[countdown]"]["gen_length"] == 16 and len(fp["settings"]) == 2
    # the analysis does not pool the two settings, and says how they differ
    with pytest.raises(SweepDataError, match=r"task\.gen_length: (8 vs 16|16 vs 8)"):
        load_samples(out)
    assert load_samples(out, settings="current").collect()["gen_length"].to_list() == [16, 16]
    assert load_samples(out, pool_by=("model", "task", "gen_length")).collect().height == 4
    from analysis.report import main as report_main
    assert report_main([str(out), "--out", str(tmp_path / "r1"), "--n-boot", "10"]) == 2
    assert "different settings" in capsys.readouterr().err
    assert report_main([str(out), "--out", str(tmp_path / "r2"), "--n-boot", "10", "--settings", "current"]) == 0
    # and now the extended spec resumes as done
    assert run(spec(small_model_dir, gen=16), out).ran == 0


def test_shards_of_a_driver_without_fingerprints_are_not_silently_redone(ray_session, small_model_dir, tmp_path):
    out = tmp_path / "out"
    assert run(spec(small_model_dir), out).complete
    (out / "fingerprint.json").unlink()  # as an older driver left it
    with pytest.raises(SpecError, match="recorded no settings fingerprint"):
        run(spec(small_model_dir), out)
