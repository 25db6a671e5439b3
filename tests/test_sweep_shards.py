"""Shards and rows without Ray: fixed schema, atomic names, scans, corruption, quarantine, resume plan."""
from __future__ import annotations

import os

import polars as pl
import pyarrow.parquet as pq
import pytest

from sweeps.engine.driver import plan_todo
from sweeps.engine.spec import Plan, SweepSpec
from workers.contract import ADDED_COLUMNS
from workers.jobs import JobBatch, job_id
from workers.rows import COLUMNS, SCHEMA, RowBuilder, to_table
from workers.samplers.base import Trace
from workers.shards import SweepDir, shard_filename

CONTRACT = ("job_id sweep model task problem_id difficulty sampler params alpha temperature threshold "
            "factor lam gamma chain_length gen_length block_length seed completion extracted correct "
            "error nfe forward_rows tokens bits bits_l2r exploit_rounds explore_rounds exploit_bits explore_bits "
            "acceptance_rate exit_step base_sampler settings score cache wall_s worker code_version created_at").split()


def batch(n: int = 4, sampler: str = "confidence", start: int = 0) -> JobBatch:
    params = {"temperature": 0.5}
    ids = tuple(job_id("s", "m", "countdown", f"p{i // 2}", sampler, params, i % 2) for i in range(start, start + n))
    return JobBatch("s", "m", "countdown", sampler, params, 8, 8, ids,
                    tuple(f"p{i // 2}" for i in range(start, start + n)), tuple(i % 2 for i in range(start, start + n)))


def table(b: JobBatch):
    rb = RowBuilder(b, "w:1", "v0", ["easy"] * len(b))
    tr = Trace(nfe=8, forward_rows=8, bits=3.5, tokens=7, exploit_rounds=2)
    rows = [rb.sample(i, completion="1+2=3", correct=True, extracted="3", error=None, trace=tr, wall_s=0.1)
            for i in range(len(b) - 1)]
    rows.append(rb.failed(len(b) - 1, "generate failed: boom"))
    return to_table(rows)


def test_schema_is_the_contract():
    assert list(COLUMNS) == CONTRACT


def test_rows_write_scan_and_concat(tmp_path):
    d = SweepDir(str(tmp_path / "sw"))
    d.create()
    b1, b2 = batch(4), batch(3, sampler="random")
    p1, p2 = d.write(table(b1)), d.write(table(b2))
    assert os.path.basename(p1) == shard_filename(b1.job_ids)
    scan = d.scan()
    assert not scan.corrupt and scan.ids == set(b1.job_ids) | set(b2.job_ids) and not scan.duplicates
    df = pl.read_parquet(f"{d.shards}/*.parquet")
    assert df.columns == CONTRACT and df.height == 7
    assert df.filter(pl.col("error").is_not_null()).height == 2
    row = df.filter(pl.col("sampler") == "confidence").row(0, named=True)
    assert row["temperature"] == 0.5 and row["alpha"] is None and row["params"] == '{"temperature":0.5}'
    assert row["exploit_rounds"] == 2 and row["explore_rounds"] is None and row["difficulty"] == "easy"
    assert pq.read_schema(p1).equals(SCHEMA)
    # rewriting the same batch replaces the file: still one copy of each id
    d.write(table(b1))
    assert d.scan().rows == 7


def test_temporaries_are_invisible_and_cleaned(tmp_path):
    d = SweepDir(str(tmp_path))
    d.create()
    d.write(table(batch(2)))
    half = f"{d.shards}/.{shard_filename(batch(4, start=10).job_ids)}.abc.tmp"
    with open(half, "wb") as f:
        f.write(b"PAR1 half a file")
    assert len(d.list_shards()) == 1 and not d.scan().corrupt
    assert d.clean_temporaries() == 1 and not os.path.exists(half)


@pytest.mark.parametrize("damage", ["truncate", "garbage", "flip", "rename"])
def test_corrupt_shards_are_detected_and_quarantined(tmp_path, damage):
    d = SweepDir(str(tmp_path))
    d.create()
    good = d.write(table(batch(4)))
    bad = d.write(table(batch(4, start=20)))
    data = open(bad, "rb").read()
    if damage == "truncate":
        data = data[: len(data) // 2]
    elif damage == "garbage":
        data = os.urandom(len(data))
    elif damage == "flip":  # a flipped byte inside a data page: caught by the page checksums
        mid = len(data) // 3
        data = data[:mid] + bytes([data[mid] ^ 0xFF]) + data[mid + 1:]
    if damage == "rename":  # a sound file under another batch's name
        os.replace(bad, f"{d.shards}/{shard_filename(['x'])}")
        bad = f"{d.shards}/{shard_filename(['x'])}"
    else:
        open(bad, "wb").write(data)
    scan = d.scan()
    assert [p for p, _ in scan.corrupt] == [bad], scan.corrupt
    assert scan.ids == set(batch(4).job_ids) and good in scan.shard_ids
    dest = d.quarantine(bad, scan.corrupt[0][1])
    assert os.path.exists(dest) and not os.path.exists(bad) and "/quarantine/" in dest
    assert d.scan().corrupt == []


def test_out_that_is_a_file_is_rejected(tmp_path):
    f = tmp_path / "f"
    f.write_text("x")
    for target in (f, f / "sub"):
        with pytest.raises(ValueError, match="is a file"):
            SweepDir(str(target)).check_writable_target()
    SweepDir(str(tmp_path / "new" / "dir")).check_writable_target()  # fine: will be created


def test_plan_todo_resubmits_whole_batches_or_only_missing_ids():
    b1, b2, b3 = batch(4), batch(4, start=4), batch(4, start=8)
    plan = Plan(SweepSpec("s", ["m"], [], []), [b1, b2, b3])
    present = set(b1.job_ids) | {b2.job_ids[0]}
    todo = {b.job_ids[-1]: b for b in plan_todo(plan, present)}
    assert len(todo) == 2
    # untouched batch keeps its identity (same shard name as any earlier attempt) ...
    assert todo[b3.job_ids[-1]] == b3
    # ... a partly present batch shrinks to its missing ids
    assert todo[b2.job_ids[-1]].job_ids == b2.job_ids[1:]
    assert plan_todo(plan, set(plan.job_ids())) == []


def test_shards_whose_rows_all_exist_elsewhere_are_set_aside(tmp_path):
    from sweeps.engine.driver import drop_redundant

    d = SweepDir(str(tmp_path))
    d.create()
    b = batch(4)
    d.write(table(b))
    d.write(table(b.subset(b.job_ids[:1])))  # a late single-job shard repeating a row
    scan = d.scan()
    assert scan.duplicates == {b.job_ids[0]}
    moved = drop_redundant(d, scan, log=lambda m: None)
    assert len(moved) == 1 and not scan.duplicates
    again = d.scan()
    assert again.rows == 4 and not again.duplicates


def test_a_shard_written_before_a_nullable_column_existed_stays_sound(tmp_path):
    """Adding a nullable column to the row contract never quarantines older shards: they are read
    with the column null (analysis too), so an upgrade resumes a sweep without redoing it."""
    d = SweepDir(str(tmp_path / "sw"))
    d.create()
    b = batch(4)
    old = table(b).drop_columns(list(ADDED_COLUMNS))     # a shard from before those columns
    path = f"{d.shards}/{shard_filename(b.job_ids)}"
    pq.write_table(old, path)
    scan = d.scan()
    assert not scan.corrupt and scan.ids == set(b.job_ids)
    from analysis import load_samples
    df = load_samples(str(tmp_path / "sw")).collect()
    assert df.height == 4 and all(df[c].null_count() == 4 for c in ADDED_COLUMNS)
    # a missing non-nullable column is still corruption
    pq.write_table(table(b).drop_columns(["seed"]), path)
    assert d.scan().corrupt
