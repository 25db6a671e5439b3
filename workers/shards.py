"""Parquet shards of a sweep directory: atomic writes, fast scans, quarantine.

Layout of a sweep directory (a local path or any pyarrow filesystem URI such as ``s3://b/p``)::

    DIR/shards/shard-<batch key>.parquet   one per batch; the name is the hash of its job ids
    DIR/quarantine/                        corrupt shards set aside (never read as results)

A shard's name is a function of the job ids it holds, so a retried or re-run batch replaces its
own file rather than adding a second copy, and a scan can check that the ids inside a file are
the ids its name promises.  Local writes go to a hidden temporary and are renamed into place;
object stores (S3, GCS) publish an object only when its upload completes, so there the final
key is written directly.  Which files are results is defined once, in ``workers.layout``
(shared with the analysis); anything else in ``shards/`` is a stray, reported and left alone.

A write that fails (disk full, permission, lost connection) raises ``StorageError`` naming the
path and the remedy, after removing its own temporary: nothing half-written is ever counted.
"""
from __future__ import annotations

import datetime as dt
import os
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Optional

import pyarrow as pa
import pyarrow.fs as pafs
import pyarrow.parquet as pq

from workers.jobs import batch_key
from workers.layout import QUARANTINE, SHARD_RE, SHARDS, is_temporary, list_results, shard_name
from workers.rows import SCHEMA

_ATOMIC_OBJECT_STORES = {"s3", "gcs"}  # uploads become visible only when complete


class StorageError(OSError):
    """Writing to the sweep directory failed (disk full, permissions, ...); one-line message."""


def storage_error(path: str, e: BaseException) -> StorageError:
    """A one-line StorageError for a failed write of ``path``, with the remedy."""
    import errno

    code = getattr(e, "errno", None)
    text = str(e).splitlines()[0] if str(e) else type(e).__name__
    if code == errno.ENOSPC or "No space left" in text:
        why, fix = "no space left on device", "free space there (or use another --out)"
    elif code in (errno.EACCES, errno.EPERM, errno.EROFS) or "ermission" in text or "AccessDenied" in text:
        why, fix = f"not writable ({text})", "fix the permissions/credentials (or use another --out)"
    else:
        why, fix = text, "check the storage (or use another --out)"
    return StorageError(f"cannot write {path}: {why}; {fix}")


def shard_filename(job_ids) -> str:
    return shard_name(batch_key(job_ids))


@dataclass
class Scan:
    """What a sweep directory holds: valid shards and their ids, plus what is wrong."""

    shard_ids: dict[str, list[str]] = field(default_factory=dict)  # shard path -> job ids
    corrupt: list[tuple[str, str]] = field(default_factory=list)    # (path, reason)
    duplicates: set[str] = field(default_factory=set)              # ids found in >1 shard
    strays: list[str] = field(default_factory=list)                # not results: ignored

    @property
    def ids(self) -> set[str]:
        out: set[str] = set()
        for v in self.shard_ids.values():
            out.update(v)
        return out

    @property
    def rows(self) -> int:
        return sum(len(v) for v in self.shard_ids.values())


class SweepDir:
    """A sweep output directory on a local or remote filesystem."""

    def __init__(self, out: str) -> None:
        self.uri = out
        if "://" in out:
            self.fs, self.root = pafs.FileSystem.from_uri(out)
        else:
            self.fs, self.root = pafs.LocalFileSystem(), os.path.abspath(os.path.expanduser(out))
        self.root = self.root.rstrip("/")
        if "://" not in out:
            self.uri = self.root  # absolute: workers may run in another working directory
        self.shards = f"{self.root}/{SHARDS}"
        self.quarantine_dir = f"{self.root}/{QUARANTINE}"
        self.atomic_put = self.fs.type_name in _ATOMIC_OBJECT_STORES

    def __reduce__(self):  # filesystems are rebuilt from the URI on the worker
        return (SweepDir, (self.uri,))

    # ------------------------------------------------------------------ checks / setup
    def check_writable_target(self) -> None:
        """Raise a one-line ValueError when the directory (or a parent) is a file."""
        path = self.root
        while path and path not in ("/", "."):
            info = self.fs.get_file_info(path)
            if info.type == pafs.FileType.File:
                raise ValueError(f"--out {self.uri!r}: {path} is a file, not a directory")
            if info.type == pafs.FileType.Directory:
                break
            parent = os.path.dirname(path)
            if parent == path:
                break
            path = parent

    def create(self) -> None:
        try:
            self.fs.create_dir(self.shards, recursive=True)
        except OSError as e:
            raise storage_error(self.shards, e) from None

    # ------------------------------------------------------------------ writing
    def write(self, table: pa.Table) -> str:
        """Write one batch's rows; returns the shard path.  Never leaves a half-visible shard."""
        ids = table.column("job_id").to_pylist()
        final = f"{self.shards}/{shard_filename(ids)}"
        target = final if self.atomic_put else f"{self.shards}/.{os.path.basename(final)}.{uuid.uuid4().hex}.tmp"
        try:
            pq.write_table(table, target, filesystem=self.fs, compression="zstd",
                           write_page_checksum=True)
            if target != final:
                self.fs.move(target, final)  # rename(2): atomic, replaces a previous copy whole
        except OSError as e:
            if target != final:  # our own temporary: never left to fill a full disk further
                try:
                    self.fs.delete_file(target)
                except OSError:
                    pass
            raise storage_error(final, e) from None
        return final

    def write_small(self, name: str, data: bytes) -> str:
        """Replace ``ROOT/name`` (spec, status, lock) atomically: a reader sees old or new whole."""
        final = f"{self.root}/{name}"
        target = final if self.atomic_put else f"{self.root}/.{name}.{uuid.uuid4().hex}.tmp"
        try:
            with self.fs.open_output_stream(target) as f:
                f.write(data)
            if target != final:
                self.fs.move(target, final)
        except OSError as e:
            if target != final:
                try:
                    self.fs.delete_file(target)
                except OSError:
                    pass
            raise storage_error(final, e) from None
        return final

    def read_small(self, name: str) -> Optional[bytes]:
        """``ROOT/name``'s bytes, or None when absent."""
        try:
            with self.fs.open_input_stream(f"{self.root}/{name}") as f:
                return f.read()
        except FileNotFoundError:
            return None
        except OSError as e:
            if self.fs.get_file_info(f"{self.root}/{name}").type == pafs.FileType.NotFound:
                return None
            raise

    # ------------------------------------------------------------------ reading
    def list_shards(self) -> list[str]:
        """The result files (``workers.layout``'s definition)."""
        return list_results(self.fs, self.shards)[0]

    def strays(self) -> list[str]:
        """Entries of ``shards/`` that are neither results nor writer temporaries."""
        return list_results(self.fs, self.shards)[1]

    def check_shard(self, path: str, full: bool = True) -> tuple[Optional[list[str]], Optional[str]]:
        """(job ids, None) for a sound shard, (None, reason) for a corrupt one.

        Checks the footer, the contract columns and types (a nullable column the shard predates
        may be absent: readers fill it with nulls), page checksums (all columns when
        ``full``, else job_id only), unique non-null ids, and that the ids hash to the name."""
        try:
            with self.fs.open_input_file(path) as f:
                pf = pq.ParquetFile(f, page_checksum_verification=True)
                schema = pf.schema_arrow
                for fld in SCHEMA:
                    i = schema.get_field_index(fld.name)
                    if i < 0:
                        if fld.nullable:  # written before this column existed: read as null
                            continue
                        return None, f"missing column {fld.name}"
                    if not schema.field(i).type.equals(fld.type):
                        return None, f"column {fld.name} has type {schema.field(i).type}, expected {fld.type}"
                table = pf.read(columns=None if full else ["job_id"])
        except Exception as e:  # truncated footer, bad page, unreadable file
            return None, f"unreadable ({type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''})"
        ids_col = table.column("job_id")
        if ids_col.null_count:
            return None, "null job_id"
        ids = ids_col.to_pylist()
        if len(set(ids)) != len(ids):
            return None, "repeated job_id inside the shard"
        m = SHARD_RE.match(os.path.basename(path))
        if not m or batch_key(ids) != m.group(1):
            return None, "job ids do not match the shard name"
        return ids, None

    def scan(self, full: bool = True, threads: int = 8) -> Scan:
        """Read every shard's ids (in parallel: remote stores are latency-bound)."""
        paths, strays = list_results(self.fs, self.shards)
        out = Scan(strays=strays)
        with ThreadPoolExecutor(max_workers=max(1, min(threads, len(paths)))) as pool:
            results = list(pool.map(lambda p: self.check_shard(p, full), paths))
        seen: set[str] = set()
        for path, (ids, reason) in zip(paths, results):
            if ids is None:
                out.corrupt.append((path, reason or "corrupt"))
                continue
            out.duplicates.update(seen.intersection(ids))
            seen.update(ids)
            out.shard_ids[path] = ids
        return out

    def read_ids(self, path: str) -> Optional[list[str]]:
        """The ids of one shard if it exists and is sound, else None."""
        if self.fs.get_file_info(path).type != pafs.FileType.File:
            return None
        return self.check_shard(path, full=False)[0]

    # ------------------------------------------------------------------ repair
    def quarantine(self, path: str, reason: str) -> str:
        """Move a corrupt shard out of the result set (keeping it for inspection)."""
        self.fs.create_dir(self.quarantine_dir, recursive=True)
        stamp = dt.datetime.now(dt.timezone.utc).strftime("%Y%m%dT%H%M%S%f")
        dest = f"{self.quarantine_dir}/{os.path.basename(path)}.{stamp}.bad"
        self.fs.move(path, dest)
        with self.fs.open_output_stream(dest + ".reason.txt") as f:
            f.write(f"{path}: {reason}\n".encode("utf-8"))
        return dest

    def clean_temporaries(self, older_than_s: Optional[float] = None) -> int:
        """Delete temporaries left by writers that died mid-write (call before submitting).
        ``older_than_s``: only those not modified for that long (another driver may be live)."""
        sel = pafs.FileSelector(self.shards, allow_not_found=True)
        now = dt.datetime.now(dt.timezone.utc)
        n = 0
        for i in self.fs.get_file_info(sel):
            name = os.path.basename(i.path)
            if older_than_s is not None and i.mtime is not None:
                mtime = i.mtime if i.mtime.tzinfo else i.mtime.replace(tzinfo=dt.timezone.utc)
                if (now - mtime).total_seconds() < older_than_s:
                    continue
            if i.type == pafs.FileType.File and is_temporary(name):
                try:
                    self.fs.delete_file(i.path)
                    n += 1
                except OSError:
                    pass  # another process got there first
        return n
