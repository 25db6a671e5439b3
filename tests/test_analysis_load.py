"""Loading a sweep directory: which files count as shards, URIs, schema drift, clear errors."""
from __future__ import annotations

import subprocess
import sys

import polars as pl
import pyarrow as pa
import pyarrow.fs as pafs
import pytest

from analysis import SweepDataError, find_shards, load_samples
from analysis.load import SweepDataWarning
from analysis_fixtures import one_line, outcomes, shard_file, write_arrow


def result(sweep_dir, tag: str):
    """Path of a result shard of ``sweep_dir`` (its shards/ folder created)."""
    (sweep_dir / "shards").mkdir(exist_ok=True)
    return sweep_dir / "shards" / shard_file(tag)


@pytest.fixture()
def sweep(tmp_path):
    """Two result shards plus every kind of file a reader must skip."""
    rows = outcomes([("confidence", "p1", 3, 1), ("confidence", "p2", 2, 2)])
    shards = tmp_path / "shards"
    shards.mkdir()
    rows.slice(0, 3).write_parquet(shards / shard_file("a"))
    rows.slice(3, 2).write_parquet(shards / shard_file("b"))
    junk = outcomes([("junk", "p9", 7, 7)])
    rows.slice(0, 3).write_parquet(shards / "backup-copy.parquet")     # a copy of a real shard
    junk.write_parquet(shards / f".{shard_file('c')}.0a1b.tmp")       # a writer's temporary
    write_arrow(shards / "shard-0123.parquet", {"x": [1]})             # wrong schema, near-miss name
    (shards / "notes.txt").write_text("not a shard")                   # not Parquet
    (shards / "w0").mkdir()
    junk.write_parquet(shards / "w0" / shard_file("d"))                # a nested folder
    junk.write_parquet(tmp_path / "a.parquet")                         # outside shards/
    for folder in ("report", "quarantine"):
        (tmp_path / folder).mkdir()
        junk.write_parquet(tmp_path / folder / shard_file("g"))
    return tmp_path


def test_only_the_drivers_shard_names_count_and_strays_are_named_once(sweep):
    with pytest.warns(SweepDataWarning) as caught:
        _, shards = find_shards(sweep)
    assert [s.rsplit("/", 1)[-1] for s in shards] == sorted([shard_file("a"), shard_file("b")])
    assert len(caught) == 1 and one_line(caught[0].message)
    msg = str(caught[0].message)
    for name in ("backup-copy.parquet", "shard-0123.parquet", "notes.txt", "w0/"):
        assert name in msg, msg
    assert ".tmp" not in msg  # temporaries are neither results nor strays
    with pytest.warns(SweepDataWarning):
        df = load_samples(sweep).collect()
    assert df.height == 5 and set(df["sampler"]) == {"confidence"}
    with pytest.warns(SweepDataWarning):  # pointing at OUT/shards reads the same files
        assert load_samples(sweep / "shards").collect().height == 5


def test_strays_alone_are_not_results(tmp_path):
    (tmp_path / "shards").mkdir()
    outcomes([("confidence", "p1", 2, 1)]).write_parquet(tmp_path / "shards" / "part-0.parquet")
    with pytest.warns(SweepDataWarning), pytest.raises(SweepDataError, match="no Parquet shards") as err:
        load_samples(tmp_path)
    assert "1 other file" in str(err.value) and one_line(err.value)


@pytest.mark.filterwarnings("ignore::analysis.load.SweepDataWarning")
def test_file_uri_reads_the_same_rows(sweep):
    local = load_samples(sweep).collect().sort(["problem_id", "seed"])
    uri = load_samples(sweep.as_uri()).collect().sort(["problem_id", "seed"])
    assert sweep.as_uri().startswith("file://")
    assert uri.equals(local)


@pytest.mark.filterwarnings("ignore::analysis.load.SweepDataWarning")
def test_non_local_filesystems_go_through_pyarrow_datasets(sweep):
    # SubTreeFileSystem is not a LocalFileSystem, so this takes the generic pyarrow path that
    # s3:// or gs:// URIs take (tests/test_sweep_s3.py runs a real S3 server).
    fs = pafs.SubTreeFileSystem(str(sweep), pafs.LocalFileSystem())
    df = load_samples("", filesystem=fs).collect()
    assert df.height == 5
    assert df["correct"].sum() == 3


def test_shards_with_drifting_schemas_are_unified(tmp_path):
    write_arrow(tmp_path / "shards" / shard_file("old"), {"sampler": ["imh"], "problem_id": ["p1"], "correct": [True],
                                           "nfe": pa.array([10], pa.int32())})
    write_arrow(tmp_path / "shards" / shard_file("new"), {"sampler": ["imh"], "problem_id": ["p2"], "correct": [False],
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
    outcomes([("confidence", "p1", 2, 1)]).drop("problem_id").write_parquet(result(tmp_path, "a"))
    with pytest.raises(ValueError, match="problem_id") as err:
        load_samples(tmp_path)
    assert one_line(err.value)


def test_non_boolean_correct_is_refused(tmp_path):
    outcomes([("confidence", "p1", 2, 1)]).with_columns(pl.col("correct").cast(pl.Int64)).write_parquet(result(tmp_path, "a"))
    with pytest.raises(ValueError, match="'correct' must be Boolean, got Int64") as err:
        load_samples(tmp_path)
    assert one_line(err.value)


def test_incompatible_shards_are_a_one_line_error(tmp_path):
    write_arrow(tmp_path / "shards" / shard_file("a"), {"sampler": ["x"], "problem_id": ["p1"], "correct": [True], "nfe": [1]})
    write_arrow(tmp_path / "shards" / shard_file("b"), {"sampler": ["x"], "problem_id": ["p2"], "correct": [True], "nfe": ["one"]})
    with pytest.raises(SweepDataError, match="incompatible schemas") as err:
        load_samples(tmp_path)
    assert one_line(err.value)


def test_dedupe_keeps_one_row_per_job_id(tmp_path):
    df = outcomes([("confidence", "p1", 3, 1)]).with_columns(job_id=pl.format("j{}", "seed"))
    df.write_parquet(result(tmp_path, "a"))
    df.slice(0, 1).write_parquet(result(tmp_path, "b"))  # the same job written twice
    assert load_samples(tmp_path).collect().height == 4
    assert load_samples(tmp_path, dedupe=True).collect().height == 3


def test_analysis_needs_neither_torch_nor_ray_nor_workers_beyond_the_layout_and_contract():
    code = ("import sys, analysis, analysis.report, analysis.plots; "
            "bad = sorted(m for m in sys.modules if m.split('.')[0] in ('torch', 'ray', 'workers', 'sweeps') "
            "and m not in ('workers', 'workers.layout', 'workers.contract')); "
            "print(bad); sys.exit(1 if bad else 0)")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr
