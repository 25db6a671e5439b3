"""Benchmark records from a local file or the Hugging Face hub (docs/design.md §3, Task).

``load_records(task, hub_id, split, config=None, path=None)``: with ``path`` read that file
(JSON Lines, optionally gzipped, or one JSON array); without it call ``datasets.load_dataset``
(which uses the local HF cache when the hub is unreachable).  Whatever goes wrong — ``datasets``
missing, no network and no cache, a wrong id — ends in ONE line naming the override:

    DatasetUnavailable: task math500: cannot load HuggingFaceH4/MATH-500 (split test) from the
    Hugging Face hub or its cache (ConnectionError: ...); pass a local copy:
    load_task('math500', path='/path/to/test.jsonl')
"""
from __future__ import annotations

import gzip
import json
from pathlib import Path
from typing import Any, Iterable, Optional, Sequence

__all__ = ["DatasetUnavailable", "load_records", "read_records", "require_fields", "first_present",
           "one_line"]


class DatasetUnavailable(FileNotFoundError):
    """The benchmark's data is not reachable; the message names the local-file override."""


def one_line(e: BaseException, limit: int = 200) -> str:
    """``Type: first line of the message`` (long messages clipped)."""
    lines = str(e).strip().splitlines()
    msg = lines[0] if lines else ""
    return f"{type(e).__name__}: {msg[:limit]}" if msg else type(e).__name__


def _open_text(path: Path):
    if path.name.endswith(".gz"):
        return gzip.open(path, "rt", encoding="utf-8")
    return path.open("r", encoding="utf-8")


def read_records(path: str | Path, task: str = "task") -> list[dict]:
    """Records of a ``.jsonl``/``.jsonl.gz`` file (one JSON object a line; blank lines skipped) or
    of a ``.json`` file holding one array.  One-line errors name the file and line."""
    p = Path(path).expanduser()
    if not p.is_file():
        raise DatasetUnavailable(f"task {task}: no such file {str(path)!r}")
    records: list[dict] = []
    try:
        with _open_text(p) as f:
            if p.name.endswith((".json", ".json.gz")):
                try:
                    data = json.load(f)
                except ValueError as e:
                    raise ValueError(f"{p}: not JSON ({e})") from None
                if not isinstance(data, list) or not all(isinstance(r, dict) for r in data):
                    raise ValueError(f"{p}: expected a JSON array of objects")
                return data
            for lineno, line in enumerate(f, 1):
                if not line.strip():
                    continue
                try:
                    rec = json.loads(line)
                except ValueError as e:
                    raise ValueError(f"{p}:{lineno}: not JSON ({e})") from None
                if not isinstance(rec, dict):
                    raise ValueError(f"{p}:{lineno}: expected a JSON object, got {type(rec).__name__}")
                records.append(rec)
    except (OSError, EOFError, UnicodeDecodeError) as e:  # unreadable, a corrupt gzip, not text
        raise ValueError(f"task {task}: cannot read {str(path)!r} ({one_line(e)})") from None
    return records


def load_records(task: str, hub_id: str, split: str, config: Optional[str] = None,
                 path: Optional[str | Path] = None, example_path: str = "/path/to/test.jsonl") -> list[dict]:
    """Records from ``path`` when given, else from the hub via ``datasets.load_dataset``."""
    if path is not None:
        return read_records(path, task)
    where = f"{hub_id}" + (f" ({config})" if config else "") + f" (split {split})"
    hint = f"pass a local copy: load_task({task!r}, path={example_path!r})"
    try:
        import datasets  # noqa: F401  (optional dependency)
    except ImportError:
        raise DatasetUnavailable(f"task {task}: loading {where} from the hub needs the `datasets` "
                                 f"package (pip install datasets); or {hint}") from None
    try:
        from datasets import load_dataset

        ds = load_dataset(hub_id, config, split=split)
        return [dict(r) for r in ds]
    except Exception as e:  # offline without cache, unknown id, auth, ...: all the same to the user
        raise DatasetUnavailable(f"task {task}: cannot load {where} from the Hugging Face hub or its "
                                 f"cache ({one_line(e)}); {hint}") from None


def require_fields(task: str, records: Iterable[dict], fields: Sequence[str], source: str,
                   alternatives: Optional[dict[str, Sequence[str]]] = None) -> None:
    """One-line ``ValueError`` when a record lacks a field (``alternatives``: other names that
    also satisfy a field, e.g. ``{"problem": ["question"]}``)."""
    alternatives = alternatives or {}
    for i, rec in enumerate(records):
        missing = [f for f in fields
                   if f not in rec and not any(a in rec for a in alternatives.get(f, ()))]
        if missing:
            raise ValueError(f"task {task}: record {i} of {source} lacks {', '.join(missing)} "
                             f"(has {', '.join(sorted(rec)[:8])})")


def first_present(rec: dict, names: Sequence[str]) -> Any:
    for n in names:
        if n in rec and rec[n] is not None:
            return rec[n]
    return None
