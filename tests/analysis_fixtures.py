"""Small hand-made sample frames and sweep directories for the analysis tests.

``outcomes`` spells a frame out by its counts ("sampler s ran problem p n times, c correct"), so
every expected number in the tests can be worked out by hand from the call that built it.
"""
from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Iterable

import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq


def outcomes(spec: Iterable[tuple], **extra) -> pl.DataFrame:
    """Rows from ``(sampler, problem_id, n, c)`` or ``(sampler, problem_id, n, c, {col: value})``.

    The first c of the n rows are correct.  ``extra`` columns are constant over all rows.
    """
    rows = []
    for item in spec:
        sampler, pid, n, c = item[:4]
        cols = item[4] if len(item) > 4 else {}
        for i in range(n):
            rows.append({"sampler": sampler, "problem_id": pid, "seed": i, "correct": i < c, **cols, **extra})
    return pl.DataFrame(rows)


def write_shards(directory: Path, df: pl.DataFrame, shards: int = 2, subdir: str = "shards") -> Path:
    """Split ``df`` into ``shards`` Parquet files under ``directory/subdir``; return ``directory``."""
    target = directory / subdir if subdir else directory
    target.mkdir(parents=True, exist_ok=True)
    step = max(1, -(-df.height // shards))
    for i, start in enumerate(range(0, df.height, step)):
        df.slice(start, step).write_parquet(target / shard_file(f"part-{i}"))
    return directory


def shard_file(tag: str) -> str:
    """A result-shard file name (``shard-<32 hex>.parquet``, workers.layout) derived from ``tag``."""
    return f"shard-{hashlib.sha256(tag.encode()).hexdigest()[:32]}.parquet"


def write_arrow(path: Path, table: dict, schema: pa.Schema | None = None) -> None:
    """One shard written straight through pyarrow (to control exact column types)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(pa.table(table, schema=schema), path)


def one_line(exc: BaseException) -> bool:
    """Error messages must fit on one line."""
    text = str(exc)
    return bool(text) and "\n" not in text
