"""``python -m analysis.report DIR`` / ``write_report``: files, numbers, and partial sweeps."""
from __future__ import annotations

import json
import subprocess
import sys

import polars as pl
import pytest

from analysis import load_samples, pass_at_k, write_report
from analysis.synthetic import DEFAULT_CONFIGS, write_sweep
from analysis_fixtures import outcomes, shard_file, write_shards

FIGURES = {"passk_curves.png", "frontier.png", "strata.png", "bits_rounds.png", "explore_exploit.png", "cost.png",
           "acceptance.png", "similarity.png"}


@pytest.fixture(scope="module")
def full_report(tmp_path_factory):
    # 20 problems: pairs sharing fewer are not tested (analysis.compare.MIN_PROBLEMS)
    sweep = write_sweep(tmp_path_factory.mktemp("sweep"), n_problems=20, n_samples=8, rows_per_shard=1400)
    # the factor configurations also carry 002 §5.1's left-to-right rescored bits
    for shard in sorted((sweep / "shards").glob("*.parquet")):
        df = pl.read_parquet(shard)
        df.with_columns(bits_l2r=pl.when(pl.col("factor").is_not_null()).then(pl.col("bits") * 1.1)).write_parquet(shard)
    out = write_report(sweep, n_boot=100)
    return sweep, out, json.loads((out / "summary.json").read_text())


def test_full_sweep_writes_every_section(full_report):
    sweep, out, summary = full_report
    assert out == sweep / "report"
    assert FIGURES <= {p.name for p in out.iterdir()}
    md = (out / "report.md").read_text()
    for heading in ("## Overview", "## Pass@k", "## Pareto frontier: Pass@1 vs Pass@4", "## Difficulty-stratified Pass@4",
                    "## Bits vs rounds", "## Cost", "## Significance", "## IMH acceptance rate", "## Diversity"):
        assert heading in md
    assert "Skipped sections" not in md and summary["skipped"] == {}
    # the bound is checked in the one form of 002 Thm 3.2 that holds per sample; the fit is on
    # bits_l2r (002 §5.1's regressor) with the trajectory fit labelled beside it
    assert "Which statement of 002 Thm 3.2 is checked" in md and "has no `bits_l2r`" not in md
    assert "| l2r_slope |" in md and "| traj. slope |" in md
    fits = {r["sampler"]: r for r in summary["bits_vs_rounds"] if r["sampler"] == "factor"}
    assert fits["factor"]["l2r_slope"] == pytest.approx(fits["factor"]["slope"] / 1.1, rel=1e-9)
    assert set(summary["figures"]) == FIGURES


def test_summary_numbers_match_the_api(full_report):
    sweep, _, summary = full_report
    assert summary["overview"]["rows"] == 20 * 8 * len(DEFAULT_CONFIGS)
    assert summary["overview"]["configurations"] == len(DEFAULT_CONFIGS)
    api = pass_at_k(load_samples(sweep), [1, 4], by=["sampler", "params"])
    expected = {(r["sampler"], r["params"]): (r["pass@1"], r["pass@4"]) for r in api.iter_rows(named=True)}
    reported = {(r["sampler"], r["params"]): (r["pass@1"], r["pass@4"]) for r in summary["pass_at_k"]}
    assert reported.keys() == expected.keys()
    for key, (p1, p8) in expected.items():
        assert reported[key] == pytest.approx((p1, p8), abs=1e-12)
    # one k (n/2 = 4 of 8 samples, 000 App. E) in every section
    assert summary["comparison"]["k"] == summary["frontier"]["k"] == summary["strata"]["k"] == 4
    front = {(r["sampler"], r["params"]): (r["pass@1"], r["pass@4"]) for r in summary["frontier"]["points"]}
    assert all(front[k] == pytest.approx(v) for k, v in reported.items())
    # Four factor configurations × 20 problems × 8 samples, all within the bound by construction.
    assert summary["bound"] == {"checked": 4 * 20 * 8, "violations": 0}


def test_partial_sweep_skips_what_does_not_apply(tmp_path):
    # Only the three required columns and a single sampler, one sample per problem.
    write_shards(tmp_path, outcomes([("confidence", "p1", 1, 1), ("confidence", "p2", 1, 0)]))
    out = write_report(tmp_path, n_boot=20)
    summary = json.loads((out / "summary.json").read_text())
    assert summary["pass_at_k"][0]["pass@1"] == 0.5
    skipped = summary["skipped"]
    for section in ("Pareto frontier", "Difficulty strata", "Bits vs rounds", "Cost", "Significance",
                    "IMH acceptance", "Diversity"):
        assert section in skipped, section
    md = (out / "report.md").read_text()
    assert "## Skipped sections" in md and "only one sampler" in md
    assert {p.name for p in out.iterdir()} == {"report.md", "summary.json"}


def test_duplicate_jobs_are_dropped_and_reported(tmp_path):
    df = outcomes([("confidence", "p1", 2, 1), ("imh", "p1", 2, 2)]).with_columns(job_id=pl.format("{}-{}", "sampler", "seed"))
    write_shards(tmp_path, df, shards=1)
    df.slice(0, 1).write_parquet(tmp_path / "shards" / shard_file("again"))
    summary = json.loads((write_report(tmp_path, n_boot=20) / "summary.json").read_text())
    assert summary["overview"]["duplicate_rows_dropped"] == 1
    assert summary["overview"]["rows"] == 4


def test_command_line_prints_where_the_report_is(tmp_path):
    write_shards(tmp_path, outcomes([("confidence", "p1", 2, 1), ("margin", "p1", 2, 2)]))
    uri = tmp_path.as_uri()
    done = subprocess.run([sys.executable, "-m", "analysis.report", uri, "--n-boot", "20"],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert f"report: {tmp_path / 'report' / 'report.md'}" in done.stdout
    assert (tmp_path / "report" / "summary.json").exists()
    assert "RuntimeWarning" not in done.stderr


def test_command_line_error_is_one_line(tmp_path):
    done = subprocess.run([sys.executable, "-m", "analysis.report", str(tmp_path)], capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 2
    assert done.stderr.strip().count("\n") == 0 and "no Parquet shards" in done.stderr


def test_two_tasks_get_their_own_frontiers_and_labels(tmp_path):
    # The same problem ids in two tasks are different problems.
    df = pl.concat([outcomes([("confidence", "p1", 4, 4), ("imh", "p1", 4, 3)], task="math", difficulty="easy"),
                    outcomes([("confidence", "p1", 4, 0), ("imh", "p1", 4, 3)], task="code", difficulty="hard")])
    write_shards(tmp_path, df)
    summary = json.loads((write_report(tmp_path, n_boot=20) / "summary.json").read_text())
    assert summary["overview"]["problems"] == 2
    points = {(r["task"], r["sampler"]): r for r in summary["frontier"]["points"]}
    assert points["math", "confidence"]["label"] == "math: confidence"
    assert points["math", "confidence"]["on_frontier"] and points["code", "imh"]["on_frontier"]
    tiers = {(r["task"], r["tier"], r["label"]): r["pass@2"] for r in summary["strata"]["table"]}
    assert tiers["math", "easy", "math: imh"] == 1.0 and tiers["code", "hard", "code: confidence"] == 0.0


def test_remote_filesystems_get_a_local_report_copied_next_to_the_shards(tmp_path):
    import pyarrow.fs as pafs

    write_shards(tmp_path / "bucket" / "sw", outcomes([("confidence", "p1", 2, 1), ("imh", "p1", 2, 2)]))
    # SubTreeFileSystem stands in for s3:// or gs://: anything that is not a LocalFileSystem.
    fs = pafs.SubTreeFileSystem(str(tmp_path / "bucket"), pafs.LocalFileSystem())
    out = write_report("sw", out_dir=tmp_path / "local", filesystem=fs, n_boot=10)
    assert out == tmp_path / "local" and (out / "report.md").exists()
    assert (tmp_path / "bucket" / "sw" / "report" / "summary.json").exists()


def _even_odd_sweep() -> pl.DataFrame:
    """confidence solves p1 on exactly its even seeds, random on seed 0 and 1 only; p2 never."""
    return pl.DataFrame([{"sampler": s, "problem_id": p, "seed": i,
                          "correct": ((i % 2 == 0) if s == "confidence" else (i < 2)) if p == "p1" else False}
                         for p in ("p1", "p2") for s in ("confidence", "random") for i in range(8)])


def test_report_strata_are_rated_on_pooled_even_seeds_and_score_only_odd_seeds(tmp_path):
    """Tiers come from the solve rate pooled over every compared configuration's even seeds, equal
    weight each (symmetric: no sampler rates the tiers it is scored on), and only odd seeds are
    scored.  p1: confidence 4/4 and random 1/4 on even seeds → (1 + 1/4)/2 = 0.625, medium; on
    its odd seeds confidence fails p1 every time.  A circular report would score it > 0."""
    write_shards(tmp_path, _even_odd_sweep())
    summary = json.loads((write_report(tmp_path, n_boot=20) / "summary.json").read_text())
    strata = summary["strata"]
    assert "pooled" in strata["tier_source"] and "equal weight" in strata["tier_source"]
    got = {(r["tier"], r["sampler"]): r for r in strata["table"]}
    k = strata["k"]
    assert {t for t, _ in got} == {"medium", "unsolved"}
    assert got["medium", "confidence"][f"pass@{k}"] == 0.0 and got["medium", "random"][f"pass@{k}"] > 0.0
    assert {r["problems"] for r in strata["table"]} == {1}


def test_rating_with_one_sampler_is_on_request_and_the_report_says_it_is_biased(tmp_path):
    write_shards(tmp_path, _even_odd_sweep())
    out = write_report(tmp_path, n_boot=20, rater="confidence")
    summary, md = json.loads((out / "summary.json").read_text()), (out / "report.md").read_text()
    assert "confidence alone" in summary["strata"]["tier_source"]
    assert {r["tier"] for r in summary["strata"]["table"]} == {"easy", "unsolved"}   # p1: 4/4 → easy
    assert "Tiers rated by `confidence` alone" in md and "null simulation" in md
    assert set(summary["strata"]["rater_bias"]) == {"easy", "medium", "hard", "unsolved"}


def test_strata_of_a_single_tier_are_skipped_with_a_reason(tmp_path):
    df = outcomes([("confidence", "p1", 4, 2), ("random", "p2", 4, 1), ("confidence", "p2", 4, 3),
                   ("random", "p1", 4, 0)], difficulty="easy")
    write_shards(tmp_path, df)
    rdir = write_report(tmp_path, n_boot=20)
    summary = json.loads((rdir / "summary.json").read_text())
    assert "one tier only (easy)" in summary["skipped"]["Difficulty strata"]
    assert "strata" not in summary and not (rdir / "strata.png").exists()


def test_a_mid_sweep_report_says_so_and_compares_on_common_problems(tmp_path):
    spec = [("confidence", f"p{i:02d}", 4, 2) for i in range(30)] + [("random", f"p{i:02d}", 4, 1) for i in range(20)]
    write_shards(tmp_path, outcomes(spec))
    out = write_report(tmp_path, n_boot=20)
    md, summary = (out / "report.md").read_text(), json.loads((out / "summary.json").read_text())
    assert md.index("Incomplete sweep") < md.index("## Summary")
    assert "ran 20–30 problems; comparisons use the 20 all of them ran" in md
    (head,) = summary["headline"]
    assert head["problems"] == 20 and {t["problems"] for t in summary["significance"]["table"]} == {20}


def test_the_specs_declared_protocol_is_the_comparison_set(tmp_path):
    """000 Table 2 compares every method at one shared τ: with ``compare_at`` in spec.yaml the
    report compares at it (no selection, all seeds), and without it picks on even seeds."""
    spec = [(s, f"p{i:02d}", 4, c, {"temperature": t, "params": f'{{"temperature": {t}}}'})
            for i in range(20) for s, t, c in (("confidence", 0.5, 1), ("confidence", 1.0, 3), ("random", 0.5, 2))]
    write_shards(tmp_path, outcomes(spec))
    (tmp_path / "spec.yaml").write_text("name: t\ncompare_at: {temperature: 0.5}\n")
    summary = json.loads((write_report(tmp_path, n_boot=20) / "summary.json").read_text())
    assert summary["comparison"]["compare_at"] == {"temperature": 0.5}
    rows = {r["sampler"]: r for r in summary["headline"][0]["samplers"]}
    assert rows["confidence"]["config"] == "confidence τ=0.5" and not rows["confidence"]["selected_on_other_half"]
    assert rows["confidence"]["samples"] == 4
    (tmp_path / "spec.yaml").unlink()
    summary = json.loads((write_report(tmp_path, n_boot=20) / "summary.json").read_text())
    rows = {r["sampler"]: r for r in summary["headline"][0]["samplers"]}
    assert rows["confidence"]["config"] == "confidence τ=1" and rows["confidence"]["selected_on_other_half"]
    assert rows["confidence"]["samples"] == 2   # its odd seeds
