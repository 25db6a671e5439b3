"""The report leads with its finding and the main job's bar, checked on a
recorded sweep of the default design: tests/fixtures/pareto-countdown-easy (see its README.md)."""
from __future__ import annotations

import json
from pathlib import Path

import polars as pl
import pytest

from analysis.report import EMPTY, SATURATED, headline_text, write_report
from analysis.synthetic import write_sweep
from workers.layout import shard_name

FIXTURE = Path(__file__).parent / "fixtures" / "pareto-countdown-easy"


def _report(sweep: Path, out: Path) -> tuple[str, dict]:
    rdir = write_report(sweep, out, n_boot=500)
    return (rdir / "report.md").read_text(), json.loads((rdir / "summary.json").read_text())


def test_saturated_frontier_is_skipped_with_a_reason_not_drawn(tmp_path):
    src = write_sweep(tmp_path / "syn", n_problems=8, n_samples=4)
    df = pl.read_parquet(f"{src}/shards/*.parquet").with_columns(correct=pl.lit(True))
    (tmp_path / "sat" / "shards").mkdir(parents=True)
    df.write_parquet(tmp_path / "sat" / "shards" / shard_name("a" * 32))
    md, summary = _report(tmp_path / "sat", tmp_path / "rep")
    assert "saturated" in summary["skipped"]["Pareto frontier plot"]
    assert not (tmp_path / "rep" / "frontier.png").exists()
    (head,) = summary["headline"]
    assert head["saturated"] and head["shape"].startswith("saturated")
    assert md.index("## Summary") < md.index("## Overview")


@pytest.fixture(scope="module")
def recorded(tmp_path_factory):
    if not (FIXTURE / "shards").is_dir():
        pytest.fail(f"the recorded sweep {FIXTURE} is missing")
    return _report(FIXTURE, tmp_path_factory.mktemp("rep"))


def test_recorded_default_sweep_meets_the_bar(recorded):
    """On at least one task two samplers differ after Holm's correction over the whole family of
    pairwise tests; no task is saturated (every Pass@k < 0.97) or empty (best Pass@1 > 0.05)."""
    md, summary = recorded
    heads = summary["headline"]
    assert heads and any(h["significant"] for h in heads)
    for h in heads:
        top_k = max(s[f"pass@{h['k']}"] for s in h["samplers"])
        top_1 = max(s["pass@1"] for s in h["samplers"])
        assert top_k < SATURATED and not h["saturated"], h
        assert top_1 > EMPTY and not h["empty"], h
        for d in h["significant"]:
            assert d["p_holm"] < h["alpha"] and d["diff"] > 0  # "better" really is better
        assert h["family"] == 2 * 10 and h["holm_threshold"] == pytest.approx(0.05 / 20)  # 5 samplers, 2 metrics


def test_report_of_the_recorded_sweep_leads_with_the_summary_and_skips_what_it_cannot_say(recorded):
    md, summary = recorded
    assert md.index("## Summary") < md.index("## Overview") < md.index("## Pareto frontier")
    assert "no parallel sampler" in summary["skipped"]["Bits vs rounds"]
    assert "one chain length" in summary["skipped"]["IMH acceptance"]
    text = headline_text(summary["headline"])
    assert "Best Pass@1" in text and "paired tests over problems" in text and "Holm-corrected" in text
    assert "k = 4" in text   # n/2 of 8 samples (000 App. E)


def test_regenerating_the_report_gives_identical_numbers(recorded, tmp_path):
    """The bootstrap is seeded from a hash of the data, and the seed is recorded."""
    _, summary = recorded
    _, again = _report(FIXTURE, tmp_path / "again")
    assert again["significance"] == summary["significance"] and again["frontier"] == summary["frontier"]
    assert again["comparison"]["bootstrap_seed"] == summary["comparison"]["bootstrap_seed"]
