"""Find and scan a sweep's Parquet shards (docs/design.md §3 row contract).

Which files are results is defined once, in ``workers.layout`` (shared with the driver, so the
two always count the same rows): the files ``OUT/shards/shard-<32 hex>.parquet``.
Writer temporaries are invisible; anything else in ``shards/`` (a ``backup-copy.parquet``, a
wrong-schema file, notes) is a stray: named in one ``SweepDataWarning`` and never read.  A sweep
that is still running can be read at any time: a shard appears only once it is complete.
Shards written at different times may disagree slightly (a column added later, an all-null
column stored as Arrow ``null``); their schemas are unified before scanning.
"""
from __future__ import annotations

import os
import warnings
from pathlib import Path
from typing import Iterable, Sequence

import polars as pl
import pyarrow as pa
import pyarrow.dataset as pads
import pyarrow.fs as pafs
import pyarrow.parquet as pq

# Torch- and Ray-free by design (stdlib + pyarrow): the row contract and the one shard-name definition.
from workers.contract import ADDED_COLUMNS, SCHEMA
from workers.layout import describe_strays, list_results, shards_dir

__all__ = [
    "CONTRACT",
    "REQUIRED",
    "SweepDataError",
    "SweepDataWarning",
    "find_shards",
    "resolve_path",
    "load_samples",
    "as_lazy",
    "require_columns",
    "check_settings",
    "POOL_BY",
]


class SweepDataError(ValueError):
    """Malformed or missing sweep data; the message is always one line."""


class SweepDataWarning(UserWarning):
    """Files in a sweep's ``shards/`` that are not result shards (ignored, left in place)."""


# Column → dtype of the docs/design.md §3 contract.  Used to give all-null columns their real type and
# by ``analysis.synthetic`` to build rows; extra columns are allowed and kept as they are.
# The row contract's column types, as Polars sees them (from workers.contract's pyarrow schema).
CONTRACT: dict[str, pl.DataType] = dict(pl.from_arrow(SCHEMA.empty_table()).schema)

# The least every analysis needs: which problem, which sampler, was it right.
REQUIRED: tuple[str, ...] = ("problem_id", "sampler", "correct")
# Columns every analysis keeps apart; rows that agree on them must share their ``settings``.
POOL_BY: tuple[str, ...] = ("model", "task")
FINGERPRINT_FILE = "fingerprint.json"  # written by the driver (sweeps/engine/identity.py)

def resolve_path(path: str | os.PathLike, filesystem: pafs.FileSystem | None = None) -> tuple[pafs.FileSystem, str]:
    """(filesystem, path on it) for a local path, a URI, or a path on an explicit filesystem."""
    if filesystem is not None:
        return filesystem, str(path)
    text = os.fspath(path)
    if "://" in text:
        fs, root = pafs.FileSystem.from_uri(text)
        return fs, root
    return pafs.LocalFileSystem(), str(Path(text).expanduser().resolve())


def find_shards(
    path: str | os.PathLike, filesystem: pafs.FileSystem | None = None
) -> tuple[pafs.FileSystem, list[str]]:
    """The result shards of the sweep at ``path`` (its directory, its ``shards/`` folder, a
    single Parquet file, or a filesystem URI such as ``s3://bucket/sweep``).

    Returns the pyarrow filesystem and the sorted shard paths on it.  Only
    ``shards/shard-<32 hex>.parquet`` counts (``workers.layout``); other entries there are named
    in one :class:`SweepDataWarning` and skipped, as the driver skips them.
    """
    fs, root = resolve_path(path, filesystem)
    info = fs.get_file_info(root)
    if info.type == pafs.FileType.NotFound:
        raise SweepDataError(f"sweep path not found: {path}")
    if info.type == pafs.FileType.File:
        return fs, [root]
    shards, strays = list_results(fs, shards_dir(fs, root))
    if strays:
        warnings.warn(SweepDataWarning(describe_strays(strays)), stacklevel=2)
    if not shards:
        more = f" ({len(strays)} other file(s) there are not result shards)" if strays else ""
        raise SweepDataError(f"no Parquet shards (shards/shard-<hash>.parquet) under {path}{more}")
    return fs, shards


def _unified_schema(fs: pafs.FileSystem, shards: Sequence[str]) -> pa.Schema:
    schemas = []
    for shard in shards:
        try:
            schemas.append(pq.read_schema(shard, filesystem=fs))
        except (pa.ArrowInvalid, OSError) as exc:
            first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            raise SweepDataError(f"unreadable shard {shard}: {first}") from None
    try:
        # "permissive" lets an all-null column (Arrow null) or an int32 column meet its wider kin.
        return pa.unify_schemas(schemas, promote_options="permissive")
    except (pa.ArrowInvalid, pa.ArrowTypeError) as exc:
        first = str(exc).splitlines()[0]
        raise SweepDataError(f"shards under one sweep have incompatible schemas: {first}") from None


def require_columns(frame: pl.LazyFrame | pl.DataFrame | pl.Schema | Iterable[str],
                    columns: Iterable[str], what: str) -> None:
    """Raise a one-line :class:`SweepDataError` naming the columns ``what`` needs but lacks."""
    if isinstance(frame, pl.LazyFrame):
        have = set(frame.collect_schema().names())
    elif isinstance(frame, pl.DataFrame):
        have = set(frame.columns)
    else:
        have = set(frame)
    missing = [c for c in columns if c not in have]
    if missing:
        raise SweepDataError(
            f"{what} needs column(s) {', '.join(missing)}; the data has {', '.join(sorted(have)) or 'none'}"
        )


def check_correct(schema: pl.Schema) -> None:
    """``correct`` must be Boolean: a 0/1 or string column is a writer bug, not data to guess at."""
    dtype = schema.get("correct")
    if dtype is not None and dtype != pl.Boolean and dtype != pl.Null:
        raise SweepDataError(f"column 'correct' must be Boolean, got {dtype}")


def _normalise(lf: pl.LazyFrame) -> pl.LazyFrame:
    schema = lf.collect_schema()
    fixes = [pl.col(c).cast(CONTRACT[c]) for c, t in schema.items() if t == pl.Null and c in CONTRACT]
    return lf.with_columns(fixes) if fixes else lf


def as_lazy(samples: pl.LazyFrame | pl.DataFrame | str | os.PathLike) -> pl.LazyFrame:
    """Accept a LazyFrame, a DataFrame or a sweep path and return a validated LazyFrame."""
    if isinstance(samples, pl.LazyFrame):
        lf = samples
    elif isinstance(samples, pl.DataFrame):
        lf = samples.lazy()
    elif isinstance(samples, (str, os.PathLike)):
        return load_samples(samples)
    else:
        raise TypeError(f"expected a Polars DataFrame/LazyFrame or a sweep path, got {type(samples).__name__}")
    check_correct(lf.collect_schema())
    return _normalise(lf)


def _fingerprint(fs: pafs.FileSystem, root: str) -> dict:
    """The sweep's ``fingerprint.json`` (at ``root`` or above its ``shards/``), or ``{}``."""
    import json

    for where in (root, root.rstrip("/").rsplit("/", 1)[0] if root.rstrip("/").endswith("/shards") else None):
        if not where:
            continue
        try:
            with fs.open_input_stream(f"{where.rstrip('/')}/{FINGERPRINT_FILE}") as f:
                data = json.loads(f.read().decode("utf-8"))
            return data if isinstance(data, dict) else {}
        except (OSError, ValueError, UnicodeDecodeError):
            continue
    return {}


def check_settings(lf: pl.LazyFrame, by: Sequence[str] = POOL_BY, known: dict | None = None) -> None:
    """Refuse to pool rows made under different settings (docs/design.md §4, resume).

    Rows that agree on the columns ``by`` (what the caller groups by) must share one ``settings``
    hash (null, from a shard written before the column existed, counts as one more value): else
    a mean would mix, say, gen_length 8 with 16.  ``known``: settings hash -> settings (from
    ``fingerprint.json``) to name the differing fields.  Raises a one-line ``SweepDataError``."""
    schema = lf.collect_schema()
    if "settings" not in schema:
        return
    keys = [c for c in by if c in schema]
    grouped = lf.group_by(keys) if keys else lf.select("settings").group_by(pl.lit(0).alias("_all"))
    mixed = (grouped.agg(pl.col("settings").unique().alias("_s"))
             .filter(pl.col("_s").list.len() > 1).limit(1).collect())
    if not mixed.height:
        return
    row = mixed.row(0, named=True)
    where = ", ".join(f"{k}={row[k]}" for k in keys) or "all rows"
    hashes = sorted(row["_s"], key=lambda h: (h is None, h or ""))
    why = ""
    if known and len(hashes) >= 2 and all(h in known for h in hashes[:2]):
        why = " (" + "; ".join(_diff(known[hashes[0]], known[hashes[1]])) + ")"
    names = ", ".join("null (older shard)" if h is None else h for h in hashes)
    raise SweepDataError(
        f"rows with {where} were made under {len(hashes)} different settings [{names}]{why}: "
        "not pooled; read one with load_samples(path, settings='current' or a hash) (report: "
        "--settings current), or group by the differing column")


def _diff(a: dict, b: dict, prefix: str = "") -> list[str]:
    """Leaves where two settings dicts differ (``task.gen_length: 8 vs 16``)."""
    out: list[str] = []
    for k in sorted(set(a) | set(b)):
        x, y = a.get(k), b.get(k)
        if isinstance(x, dict) and isinstance(y, dict):
            out += _diff(x, y, f"{prefix}{k}.")
        elif x != y:
            out.append(f"{prefix}{k}: {x!r} vs {y!r}")
    return out[:4]


def load_samples(
    path: str | os.PathLike,
    *,
    required: Sequence[str] = REQUIRED,
    filesystem: pafs.FileSystem | None = None,
    dedupe: bool = False,
    settings: str | Sequence[str] | None = None,
    pool_by: Sequence[str] | None = POOL_BY,
) -> pl.LazyFrame:
    """Lazily scan every finished shard of a sweep (docs/design.md §3).

    ``path`` is a local directory/file or a URI that ``pyarrow.fs.FileSystem.from_uri``
    understands (``file://``, ``s3://``, ``gs://``, …); or pass ``filesystem`` explicitly.
    ``dedupe=True`` keeps one row per ``job_id`` (a job re-run after a crash between writing its
    shard and being acknowledged appears twice).  ``settings``: keep only rows made under these
    settings hashes (``"current"``: the configurations of the spec last run on the sweep, from its
    ``fingerprint.json``).  ``pool_by``: the columns the caller keeps apart; rows agreeing on
    them must share their settings (``check_settings``; None skips the check).  Raises
    :class:`SweepDataError` (a ``ValueError``) when there are no shards, a required column is
    missing, ``correct`` is not Boolean, or rows of different settings would be pooled.
    """
    fs, shards = find_shards(path, filesystem)
    arrow_schema = _unified_schema(fs, shards)
    schema = pl.Schema(pl.from_arrow(arrow_schema.empty_table()).schema)
    require_columns(schema, required, f"sweep {path}")
    check_correct(schema)
    if isinstance(fs, pafs.LocalFileSystem):
        # Polars' native reader is much faster than going through a pyarrow dataset.
        lf = pl.scan_parquet(
            shards,
            schema=schema,
            glob=False,
            missing_columns="insert",
            cast_options=pl.ScanCastOptions(integer_cast="upcast", float_cast="upcast"),
        )
    else:
        dataset = pads.dataset(shards, filesystem=fs, schema=arrow_schema, format="parquet")
        lf = pl.scan_pyarrow_dataset(dataset)
    lf = _normalise(lf)
    # Nullable columns the row contract gained later: shards written before them read them as
    # null (the driver counts such shards as sound too), so an upgrade never hides old results.
    late = [pl.lit(None, dtype=CONTRACT[c]).alias(c) for c in ADDED_COLUMNS if c not in schema]
    if late and "job_id" in schema:
        lf = lf.with_columns(late)
    known = _fingerprint(*resolve_path(path, filesystem))
    if settings is not None:
        if settings == "current":
            if "current" not in known:
                raise SweepDataError(f"settings='current' needs {FINGERPRINT_FILE} beside the shards of {path}")
            settings = list(known["current"])
        wanted = [settings] if isinstance(settings, str) else list(settings)
        lf = lf.filter(pl.col("settings").is_in(wanted)) if "settings" in lf.collect_schema() else lf.limit(0)
    if pool_by is not None:
        check_settings(lf, pool_by, known.get("settings"))
    if dedupe and "job_id" in schema:
        lf = lf.unique(subset="job_id", keep="first")
    return lf
