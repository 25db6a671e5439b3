"""A --reference that cannot be what it names is an error (analysis/strata.py check_reference),
even where the task's difficulty labels would make the reference unused: a typo never passes
silently."""
from __future__ import annotations

import polars as pl
import pytest

from analysis import problem_tiers
from analysis.load import SweepDataError
from analysis.strata import main as strata_main
from analysis_fixtures import outcomes, write_shards


def labelled() -> pl.DataFrame:
    return outcomes([("confidence", "q1", 4, 2), ("random", "q1", 4, 1)]).with_columns(difficulty=pl.lit("easy"))


def test_a_missing_reference_sweep_is_an_error_even_with_labels(tmp_path):
    with pytest.raises(SweepDataError, match="reference sweep .*nope.* does not exist"):
        problem_tiers(labelled(), reference=str(tmp_path / "nope"))


def test_a_reference_sampler_the_sweep_lacks_is_an_error_even_with_labels():
    with pytest.raises(SweepDataError, match="reference sampler=confdence has no samples.*confidence, random"):
        problem_tiers(labelled(), reference="confdence")


def test_an_existing_reference_still_yields_to_labels():
    assert problem_tiers(labelled(), reference="random")["tier"].to_list() == ["easy"]


@pytest.mark.parametrize("cli", ["strata", "report"])
def test_the_command_lines_exit_2_with_one_line(tmp_path, capsys, cli):
    from analysis.report import main as report_main

    write_shards(tmp_path / "sweep", labelled())
    main = strata_main if cli == "strata" else report_main
    assert main([str(tmp_path / "sweep"), "--reference", str(tmp_path / "nope")]) == 2
    out, err = capsys.readouterr()
    assert err.startswith("error: reference sweep") and err.count("\n") == 1 and not (tmp_path / "sweep" / "report").exists()
