"""The main job's command line and its default design."""
from __future__ import annotations

import re
import time

import pytest

from sweeps import pareto
from sweeps.engine.driver import run_sweep
from sweeps.engine.spec import SamplerSpec, SpecError, SweepSpec, TaskSpec, check_model, expand


def _spec(*argv: str) -> SweepSpec:
    return pareto.build_spec(pareto.parser().parse_args(list(argv)))


def test_default_is_countdown_easy_80_problems_32_samples_with_imh_beside_max_prob():
    s = _spec()
    assert s.models == ["tiny"] and s.samples == 32
    assert [(t.name, t.limit, t.difficulties) for t in s.tasks] == [("countdown", 80, ["easy"])]
    grids = {x.name: x.grid for x in s.samplers}
    assert grids["imh"] == {"alpha": [2.0]} and grids["max_prob"] == {"temperature": [0.5]}
    imh = next(x for x in s.samplers if x.name == "imh")
    assert imh.params["position"] == "confidence" and imh.params["window"] == "all"
    assert expand(s).total == 80 * 32 * 6  # random, confidence ×2, entropy, max_prob, imh


@pytest.mark.parametrize("argv", [["--samples", "0"], ["--problems", "0"], ["--samples", "-3"],
                                  ["--chain-length", "0"], ["--gen-length", "0"]])
def test_zero_or_negative_counts_are_one_line_errors_not_the_default(argv, tmp_path, capsys):
    out = tmp_path / "o"
    assert pareto.main([*argv, "--out", str(out), "--no-estimate"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and argv[0] in err and "must be >= 1" in err
    assert not out.exists()


def test_unwritable_out_is_a_one_line_error_exit_2(capsys):
    assert pareto.main(["--out", "/proc/dllm-no-such/out", "--no-estimate"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "cannot write under /proc" in err and "Traceback" not in err


def test_out_under_a_file_is_a_one_line_error(tmp_path, capsys):
    f = tmp_path / "file"
    f.write_text("x")
    assert pareto.main(["--out", str(f / "sub"), "--no-estimate"]) == 2
    assert "is a file" in capsys.readouterr().err


def test_problems_beyond_the_task_are_capped_with_a_note():
    s = _spec("--task", "countdown:easy,arith", "--problems", "500", "--samples", "2")
    notes = pareto.note_capped(s, expand(s).difficulty)
    assert notes == ["note: --problems 500 but task 'countdown' (easy) holds 200: running all 200"]  # arith has 600
    assert not pareto.note_capped(_spec("--problems", "10"), expand(_spec("--problems", "10")).difficulty)


def test_task_tiers_parse_and_unknown_tiers_fail():
    assert pareto.parse_tasks("countdown:easy+medium, arith") == [("countdown", ["easy", "medium"]), ("arith", None)]
    with pytest.raises(SpecError, match="no difficulty 'expert'"):
        expand(_spec("--task", "countdown:expert"))


def test_offline_hub_id_fails_at_once_without_retries(monkeypatch):
    import socket

    import huggingface_hub

    def unreachable(*a, **k):
        raise OSError("no route")

    def must_not_call(*a, **k):
        raise AssertionError("the hub client (and its retries) must not run when the hub is unreachable")

    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.setattr(socket, "create_connection", unreachable)
    monkeypatch.setattr(huggingface_hub, "file_exists", must_not_call)
    t0 = time.perf_counter()
    with pytest.raises(SpecError, match="unreachable.*HF_HUB_OFFLINE=1") as e:
        check_model("someorg/no-such-model")
    assert time.perf_counter() - t0 < 5 and "\n" not in str(e.value)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(SpecError, match="HF_HUB_OFFLINE is set"):
        check_model("someorg/no-such-model")


def test_progress_to_a_log_is_a_few_lines_not_one_per_batch(ray_session, small_model_dir, tmp_path, capfd):
    s = SweepSpec(name="progress", models=[small_model_dir],
                  tasks=[TaskSpec("countdown", limit=6, gen_length=4, block_length=4)],
                  samplers=[SamplerSpec("confidence", grid={"temperature": [0.5, 1.0]})], samples=4, batch_size=2)
    summary = run_sweep(s, str(tmp_path / "o"), workers=2, progress=True, report=False, log=lambda m: None)
    assert summary.complete and summary.total == 48
    frames = [f for f in re.split(r"[\r\n]", capfd.readouterr().err) if "progress:" in f]
    assert 1 <= len(frames) <= 4, frames  # 24 batches: was one redraw per batch and per second


def test_time_estimate_comes_from_measured_decoding_and_scales_with_the_work(small_model_dir):
    base = dict(name="est", models=[small_model_dir], samplers=[SamplerSpec("confidence", grid={"temperature": [1.0]})])
    one = pareto.estimate(SweepSpec(tasks=[TaskSpec("countdown", limit=4, gen_length=4, block_length=4)],
                                    samples=2, **base), workers=1)
    many = pareto.estimate(SweepSpec(tasks=[TaskSpec("countdown", limit=40, gen_length=4, block_length=4)],
                                     samples=20, **base), workers=2)
    assert 0 < one < many  # 8 samples vs 800 on two workers: 50x the work, timed separately
