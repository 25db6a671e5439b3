"""The ONE definition of what a sweep directory holds, shared by the driver and the analysis.

    OUT/spec.yaml                          the spec of the last run
    OUT/status.json                        progress of the running (or last) driver
    OUT/driver.lock                        host/pid of the driver that owns OUT (while it runs)
    OUT/shards/shard-<32 hex>.parquet      results: one per batch, named by the hash of its ids
    OUT/quarantine/                        corrupt or redundant shards set aside
    OUT/report/                            the analysis report

A result file is a file directly in ``OUT/shards`` whose name is ``shard-<32 hex>.parquet``;
nothing else counts (a stray ``backup-copy.parquet`` once made analysis read 12 duplicated rows
the driver ignored).  Writer temporaries (``.<name>.<uuid>.tmp``) are neither
results nor strays.  Every other entry in ``shards/`` is a *stray*: reported by name, never read,
never deleted.

Only the standard library and ``pyarrow.fs`` here: the analysis side (no torch, no Ray) imports
this module.
"""
from __future__ import annotations

import os
import re
from typing import Iterable

import pyarrow.fs as pafs

SHARDS = "shards"
QUARANTINE = "quarantine"
REPORT = "report"
STATUS = "status.json"
LOCK = "driver.lock"
SHARD_RE = re.compile(r"^shard-([0-9a-f]{32})\.parquet$")


def shard_name(key: str) -> str:
    """File name of the shard whose batch key (32 hex digits) is ``key``."""
    if not re.fullmatch(r"[0-9a-f]{32}", key):
        raise ValueError(f"a shard key is 32 lowercase hex digits, got {key!r}")
    return f"shard-{key}.parquet"


def is_shard_name(name: str) -> bool:
    """True for a result file's base name (``shard-<32 hex>.parquet``)."""
    return SHARD_RE.match(name) is not None


def is_temporary(name: str) -> bool:
    """A writer's in-progress file (hidden, ending in ``.tmp``): invisible, cleaned by the driver."""
    return name.startswith(".") and name.endswith(".tmp")


def shards_dir(fs: pafs.FileSystem, root: str) -> str:
    """Where the results of the sweep at ``root`` live: ``root/shards``; or ``root`` itself
    when it is a ``shards`` folder (someone pointed the analysis at ``OUT/shards``)."""
    root = root.rstrip("/")
    if os.path.basename(root) == SHARDS and fs.get_file_info(f"{root}/{SHARDS}").type != pafs.FileType.Directory:
        return root
    return f"{root}/{SHARDS}"


def classify(entries: Iterable[pafs.FileInfo]) -> tuple[list[str], list[str]]:
    """Split a (non-recursive) listing of a shards folder into (result paths, stray paths),
    both sorted.  Temporaries are in neither list."""
    results, strays = [], []
    for e in entries:
        name = os.path.basename(e.path.rstrip("/"))
        if e.type == pafs.FileType.File and is_shard_name(name):
            results.append(e.path)
        elif not is_temporary(name):
            strays.append(e.path + ("/" if e.type == pafs.FileType.Directory else ""))
    return sorted(results), sorted(strays)


def list_results(fs: pafs.FileSystem, shards: str) -> tuple[list[str], list[str]]:
    """(result files, strays) in the shards folder ``shards`` (empty lists when it is absent)."""
    sel = pafs.FileSelector(shards, allow_not_found=True, recursive=False)
    return classify(fs.get_file_info(sel))


def describe_strays(strays: list[str], limit: int = 8) -> str:
    """One line naming the ignored entries (the first ``limit`` of them)."""
    names = [os.path.basename(s.rstrip("/")) + ("/" if s.endswith("/") else "") for s in strays]
    more = f" and {len(names) - limit} more" if len(names) > limit else ""
    return (f"{len(names)} file(s) in shards/ are not result shards (shard-<hash>.parquet) and were "
            f"ignored, left in place: {', '.join(names[:limit])}{more}")
