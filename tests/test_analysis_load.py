"""Loading a sweep directory: which files count as shards, URIs, schema drift, clear errors."""
from __future__ import annotations

import subprocess
import sys

import polars as pl
import pyarrow as pa
import pyarrow.fs as pafs
import pytest

from analysis import SweepDataError, find_shards, load_samples
from analysis_fixtures import one_line, outcomes, write_arrow


@pytest.fixture()
def sweep(tmp_path):
    """Two finished shards (one nested) plus every kind of file a reader must skip."""
    rows = outcomes([("confidence", "p1", 3, 1), ("confidence", "p2", 2, 2)])
    rows.slice(0, 3).write_parquet(tmp_path / "a.parquet")
    (tmp_path / "shards" / "w0").mkdir(parents=True)
    rows.slice(3, 2).write_parquet(tmp_path / "shards" / "w0" / "b.parquet")
    junk = outcomes([("junk", "p9", 7, 7)])
    junk.write_parquet(tmp_path / ".c.parquet")                 # hidden temporary
    junk.write_parquet(tmp_path / "_d.parquet")                 # underscore temporary
    junk.write_parquet(tmp_path / "e.parquet.tmp")              # .tmp temporary
    (tmp_path / "shards" / "_staging").mkdir()
    junk.write_parquet(tmp_path / "shards" / "_staging" / "f.parquet")  # inside a temporary folder
    for folder in ("report", "quarantine"):
        (tmp_path / folder).mkdir()
        junk.write_parquet(tmp_path / folder / "g.parquet")
    (tmp_path / "notes.txt").write_text("not a shard")
    return tmp_path


def test_finds_nested_shards_and_skips_temporaries_report_and_quarantine(sweep):
    _, shards = find_shards(sweep)
    assert [s.rsplit("/", 1)[-1] for s in shards] == ["a.parquet", "b.parquet"]
    df = load_samples(sweep).collect()
    assert df.height == 5
    assert set(df["sampler"]) == {"confidence"}


def test_file_uri_reads_the_same_rows(sweep):
    local = load_samples(sweep).collect().sort(["problem_id", "seed"])
    uri = load_samples(sweep.as_uri()).collect().sort(["problem_id", "seed"])
    assert sweep.as_uri().startswith("file://")
    assert uri.equals(local)


def test_non_local_filesystems_go_through_pyarrow_datasets(sweep):
    # SubTreeFileSystem is not a LocalFileSystem, so this takes the generic pyarrow path that
    # s3:// or gs:// URIs take.
    fs = pafs.SubTreeFileSystem(str(sweep), pafs.LocalFileSystem())
    df = load_samples("", filesystem=fs).collect()
    assert df.height == 5
    assert df["correct"].sum() == 3


def test_shards_with_drifting_schemas_are_unified(tmp_path):
    write_arrow(tmp_path / "old.parquet", {"sampler": ["imh"], "problem_id": ["p1"], "correct": [True],
                                           "nfe": pa.array([10], pa.int32())})
    write_arrow(tmp_path / "new.parquet", {"sampler": ["imh"], "problem_id": ["p2"], "correct": [False],
                                           "nfe": pa.array([12], pa.int64()), "alpha": [2.0],
                                           "acceptance_rate": pa.array([None], pa.null())})
    df = load_samples(tmp_path).collect().sort("problem_id")
    assert df["nfe"].to_list() == [10, 12]
    assert df["alpha"].to_list() == [None, 2.0]
    assert df.schema["acceptance_rate"] == pl.Float64  # all-null column gets its contract type


def test_missing_directory_and_empty_directory_are_one_line_errors(tmp_path):
    with pytest.raises(SweepDataError, match="not found") as missing:
        load_samples(tmp_path / "nope")
    (tmp_path / "empty" / "report").mkdir(parents=True)
    with pytest.raises(SweepDataError, match="no Parquet shards") as empty:
        load_samples(tmp_path / "empty")
    assert one_line(missing.value) and one_line(empty.value)
    assert isinstance(empty.value, ValueError)


def test_missing_required_column_is_named(tmp_path):
    outcomes([("confidence", "p1", 2, 1)]).drop("problem_id").write_parquet(tmp_path / "a.parquet")
    with pytest.raises(ValueError, match="problem_id") as err:
        load_samples(tmp_path)
    assert one_line(err.value)


def test_non_boolean_correct_is_refused(tmp_path):
    outcomes([("confidence", "p1", 2, 1)]).with_columns(pl.col("correct").cast(pl.Int64)).write_parquet(tmp_path / "a.parquet")
    with pytest.raises(ValueError, match="'correct' must be Boolean, got Int64") as err:
        load_samples(tmp_path)
    assert one_line(err.value)


def test_incompatible_shards_are_a_one_line_error(tmp_path):
    write_arrow(tmp_path / "a.parquet", {"sampler": ["x"], "problem_id": ["p1"], "correct": [True], "nfe": [1]})
    write_arrow(tmp_path / "b.parquet", {"sampler": ["x"], "problem_id": ["p2"], "correct": [True], "nfe": ["one"]})
    with pytest.raises(SweepDataError, match="incompatible schemas") as err:
        load_samples(tmp_path)
    assert one_line(err.value)


def test_dedupe_keeps_one_row_per_job_id(tmp_path):
    df = outcomes([("confidence", "p1", 3, 1)]).with_columns(job_id=pl.format("j{}", "seed"))
    df.write_parquet(tmp_path / "a.parquet")
    df.slice(0, 1).write_parquet(tmp_path / "b.parquet")  # the same job written twice
    assert load_samples(tmp_path).collect().height == 4
    assert load_samples(tmp_path, dedupe=True).collect().height == 3


def test_analysis_needs_neither_torch_nor_ray_nor_workers():
    code = ("import sys, analysis, analysis.report, analysis.plots; "
            "bad = sorted(m for m in sys.modules if m.split('.')[0] in ('torch', 'ray', 'workers', 'sweeps')); "
            "print(bad); sys.exit(1 if bad else 0)")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr
