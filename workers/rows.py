"""Sample rows: the builders that fill the fixed Parquet schema (``workers.contract``, docs/design.md §3).

Every shard is written with ``SCHEMA`` exactly, so shards from any worker, run or version
concatenate cleanly (Polars ``scan_parquet``, ``pyarrow.dataset``).
"""
from __future__ import annotations

import datetime as dt
from typing import Any, Mapping, Optional, Sequence

import pyarrow as pa

from workers.contract import COLUMNS, FLOAT_KNOBS, INT_KNOBS, SCHEMA  # noqa: F401 (re-exported)
from workers.jobs import JobBatch, canonical_json

TRACE_OPTIONAL = ("exploit_rounds", "explore_rounds", "exploit_bits", "explore_bits",
                  "acceptance_rate", "exit_step")
MAX_ERROR_CHARS = 500


def one_line(err: BaseException | str) -> str:
    """An exception as one bounded line (rows and logs stay readable)."""
    if isinstance(err, BaseException):
        msg = str(err).strip().splitlines()
        err = f"{type(err).__name__}: {msg[0] if msg else ''}".rstrip(": ")
    return err.replace("\n", " ")[:MAX_ERROR_CHARS]


def knob_columns(params: Mapping[str, Any]) -> dict[str, Any]:
    """The flattened knob columns of a params dict (None for knobs the sampler does not have)."""
    out: dict[str, Any] = {k: (None if params.get(k) is None else float(params[k])) for k in FLOAT_KNOBS}
    out.update({k: (None if params.get(k) is None else int(params[k])) for k in INT_KNOBS})
    return out


class RowBuilder:
    """Builds the rows of one batch; shared fields are computed once."""

    def __init__(self, batch: JobBatch, worker: str, code_version: str,
                 difficulties: Optional[Sequence[Optional[str]]] = None,
                 base_sampler: Optional[str] = None) -> None:
        self.batch = batch
        self.difficulties = list(difficulties) if difficulties is not None else [None] * len(batch)
        self.common = {
            "sweep": batch.sweep, "model": batch.model, "task": batch.task,
            "sampler": batch.sampler, "params": canonical_json(batch.params),
            **knob_columns(batch.params),
            "gen_length": int(batch.gen_length), "block_length": int(batch.block_length),
            "base_sampler": base_sampler, "settings": batch.settings, "cache": batch.cache,
            "worker": worker, "code_version": code_version,
        }

    def _base(self, i: int, created_at: dt.datetime) -> dict[str, Any]:
        b = self.batch
        return {**self.common, "job_id": b.job_ids[i], "problem_id": b.problem_ids[i],
                "difficulty": self.difficulties[i], "seed": int(b.seeds[i]), "created_at": created_at}

    def sample(self, i: int, *, completion: str, correct: bool, extracted: Optional[str],
               error: Optional[str], trace: Any, wall_s: float,
               bits_l2r: Optional[float] = None, score: Optional[float] = None) -> dict[str, Any]:
        """Row for job ``i`` of the batch from its decoded text, grade and sampler trace."""
        row = self._base(i, now())
        row.update(completion=completion, correct=bool(correct) and not error, extracted=extracted,
                   error=error, nfe=int(trace.nfe), forward_rows=int(trace.forward_rows),
                   tokens=int(trace.tokens), bits=float(trace.bits), wall_s=float(wall_s),
                   bits_l2r=None if bits_l2r is None else float(bits_l2r),
                   score=None if score is None else float(score))
        for k in TRACE_OPTIONAL:
            v = getattr(trace, k, None)
            row[k] = None if v is None else (float(v) if k.endswith(("bits", "rate")) else int(v))
        return row

    def failed(self, i: int, error: str, wall_s: float = 0.0) -> dict[str, Any]:
        """Row for job ``i`` that produced no sample: ``error`` set, counters zero."""
        row = self._base(i, now())
        row.update(completion="", correct=False, extracted=None, error=error or "unknown error",
                   nfe=0, forward_rows=0, tokens=0, bits=0.0, bits_l2r=None, score=None, wall_s=float(wall_s),
                   **{k: None for k in TRACE_OPTIONAL})
        return row


def now() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


def to_table(rows: Sequence[Mapping[str, Any]]) -> pa.Table:
    """Rows -> a table with exactly ``SCHEMA`` (raises if a required value is missing)."""
    return pa.Table.from_pylist([dict(r) for r in rows], schema=SCHEMA)
