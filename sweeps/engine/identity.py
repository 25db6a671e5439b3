"""A sweep's identity: the settings that made its rows (docs/design.md §4, "Resume").

Two levels, both computed generically from the normalised spec, so a setting added to the spec
later (a per-model ``cache`` mode, ``lm_eval`` task options, a new row option) is covered without
touching this file:

- **job settings** (per model × task configuration): the model entry, the task entry with its
  effective ``gen_length``/``block_length``, split and task ``version``, the spec-wide options
  that change rows (``bits_l2r``, …) and the row-contract version (``workers.contract``).  Its
  hash is part of every ``job_id`` and stored in the row column ``settings``: a job whose settings
  changed is a new job, never "already done".
- **sweep fingerprint** (``OUT/fingerprint.json``): the whole spec minus its enumeration axes
  (which samplers, parameter values, seeds and problems are swept, and the batch size, which
  changes no sample).  A resume whose fingerprint differs is refused in one line naming the
  differing fields, unless ``--extend`` says the change is intended.

A field at its dataclass default is left out, so a setting added with a default that keeps the
old behaviour keeps existing sweeps resumable.
"""
from __future__ import annotations

import dataclasses
import hashlib
import json
from dataclasses import dataclass, field
from typing import Any, Mapping, Optional

from workers.contract import ROW_CONTRACT_VERSION
from workers.jobs import canonical_json

FINGERPRINT_FILE = "fingerprint.json"
SETTINGS_HEX = 16
# Spec fields that enumerate what is swept (or only how it is batched: continuous batching's
# ``slots`` gives the static batch's tokens; ``compare_at`` only tells the report what to compare):
# not part of any identity.  ``cache`` is per model, so
# it enters each model's settings (job_settings) instead of the spec-wide row options.
SWEEP_AXES = frozenset({"name", "models", "tasks", "samplers", "samples", "seed", "batch_size", "slots", "cache",
                        "compare_at"})
TASK_AXES = frozenset({"limit", "difficulties", "problem_ids"})


class ResumeRefused(ValueError):
    """``--out`` holds a sweep run with other settings; the message is one line."""


def plain(obj: Any) -> Any:
    """Normalised plain data of a spec entry: dataclasses lose fields at their default, a bare
    name becomes ``{"name": ...}``; dict keys are kept, ``None`` values dropped."""
    if isinstance(obj, str):
        return {"name": obj}
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        out = {}
        for f in dataclasses.fields(obj):
            v = getattr(obj, f.name)
            default = (f.default if f.default is not dataclasses.MISSING else
                       f.default_factory() if f.default_factory is not dataclasses.MISSING else dataclasses.MISSING)
            if v != default or f.name == "name":
                out[f.name] = _value(v)
        return out
    if isinstance(obj, Mapping):
        return {str(k): _value(v) for k, v in obj.items() if v is not None}
    return obj


def _value(v: Any) -> Any:
    if dataclasses.is_dataclass(v) and not isinstance(v, type):
        return plain(v)
    if isinstance(v, Mapping):
        return {str(k): _value(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [_value(x) for x in v]
    return v


def short_hash(obj: Any) -> str:
    return hashlib.sha256(canonical_json(obj).encode("utf-8")).hexdigest()[:SETTINGS_HEX]


def row_options(spec: Any) -> dict[str, Any]:
    """The spec-wide settings that change rows: every top-level field but the sweep axes."""
    return {k: v for k, v in plain(spec).items() if k not in SWEEP_AXES}


def task_settings(t: Any, task: Any, gen_length: int, block_length: int) -> dict[str, Any]:
    """A task entry's settings: its non-axis fields, with the effective lengths, split and the
    task's own ``version`` (a grader or data change bumps it)."""
    d = {k: v for k, v in plain(t).items() if k not in TASK_AXES}
    d.update(gen_length=int(gen_length), block_length=int(block_length),
             split=getattr(task, "split", "test"), version=str(getattr(task, "version", "0")))
    return d


def job_settings(spec: Any, model: Any, task: dict[str, Any]) -> dict[str, Any]:
    """Everything but (problem, sampler, params, seed) that decides what a job computes/records."""
    m = plain(model)
    cache = spec.cache_for(model) if isinstance(model, str) and hasattr(spec, "cache_for") else "none"
    if cache != "none":  # a cached decode is another computation (rows record it in ``cache``)
        m["cache"] = cache
    return {"contract": ROW_CONTRACT_VERSION, "model": m, "task": task, "rows": row_options(spec)}


@dataclass
class Identity:
    """What ``expand`` learns about a spec: its fingerprint fields and each configuration's
    settings (hash -> settings)."""

    fields: dict[str, Any] = field(default_factory=dict)
    settings: dict[str, dict[str, Any]] = field(default_factory=dict)

    @property
    def fingerprint(self) -> str:
        return short_hash(self.fields)

    def add(self, model: Any, task_key: str, settings: dict[str, Any]) -> str:
        """Record one model × task configuration; returns its settings hash."""
        h = short_hash(settings)
        self.settings[h] = settings
        self.fields[f"models[{plain(model)['name']}]"] = settings["model"]
        self.fields[f"tasks[{task_key}]"] = settings["task"]
        self.fields["rows"] = settings["rows"]  # the same for every configuration of a spec
        self.fields["contract"] = settings["contract"]
        return h

    def to_json(self, name: str, stored: Optional[Mapping[str, Any]] = None) -> bytes:
        """``fingerprint.json``: per sweep name run into this directory (several specs may share
        one, e.g. a paper table's parts) its fingerprint, fields and configurations' settings
        hashes (``current``); and the settings of every configuration ever run here, so the
        analysis can say how two configurations differ.  ``stored``: the file's previous content."""
        stored = dict(stored or {})
        sweeps = dict(stored.get("sweeps") or {})
        sweeps[name] = {"fingerprint": self.fingerprint, "fields": self.fields, "current": sorted(self.settings)}
        known = {**dict(stored.get("settings") or {}), **self.settings}
        current = sorted({h for v in sweeps.values() for h in v.get("current", [])})
        return (json.dumps({"format": 1, "sweeps": sweeps, "current": current, "settings": known},
                           sort_keys=True, indent=1) + "\n").encode("utf-8")


def _flat(d: Any, prefix: str) -> dict[str, Any]:
    if isinstance(d, dict) and d:
        out: dict[str, Any] = {}
        for k, v in d.items():
            out.update(_flat(v, f"{prefix}.{k}" if prefix else str(k)))
        return out
    return {prefix: d}


def differences(old: Mapping[str, Any], new: Mapping[str, Any], limit: int = 4) -> list[str]:
    """Human-readable differences between two fingerprints' fields (or two settings dicts):
    a whole model/task added or removed is named once, otherwise each differing leaf."""
    out: list[str] = []
    for k in sorted(set(old) | set(new)):
        if k not in old:
            out.append(f"{k} added")
        elif k not in new:
            out.append(f"{k} removed")
        elif old[k] != new[k]:
            a, b = _flat(old[k], k), _flat(new[k], k)
            for leaf in sorted(set(a) | set(b)):
                if a.get(leaf, "unset") != b.get(leaf, "unset"):
                    out.append(f"{leaf} {json.dumps(a.get(leaf, 'unset'))} -> {json.dumps(b.get(leaf, 'unset'))}")
    return out[:limit] + ([f"… {len(out) - limit} more"] if len(out) > limit else [])


def check_resume(out: str, stored: Optional[bytes], has_rows: bool, name: str, ident: Identity,
                 extend: bool) -> dict[str, Any]:
    """Refuse (``ResumeRefused``) to resume sweep ``name`` in ``out`` under other settings unless
    ``extend``.  ``stored``: the bytes of ``OUT/fingerprint.json`` (None when absent); ``has_rows``:
    whether ``OUT`` holds shards.  Another sweep name in the same directory is another sweep (its
    job ids differ).  Returns the stored content, to update."""
    ways = ("use a new --out for the new settings, or pass --extend to add them to this sweep "
            "(rows made under other settings are kept but not counted as done)")
    if stored is None:
        if has_rows and not extend:
            raise ResumeRefused(f"{out} holds rows of a driver that recorded no settings fingerprint "
                                f"(an older version; its job ids differ from this one's): {ways}")
        return {}
    try:
        old = json.loads(stored.decode("utf-8"))
        mine = (old.get("sweeps") or {}).get(name)
        old_fields = None if mine is None else dict(mine["fields"])
    except (ValueError, KeyError, TypeError, AttributeError, UnicodeDecodeError):
        if extend:
            return {}
        raise ResumeRefused(f"{out}/{FINGERPRINT_FILE} is unreadable, so its settings are unknown: {ways}") from None
    if old_fields is not None and old_fields != ident.fields and not extend:
        raise ResumeRefused(f"{out} was run with other settings ({'; '.join(differences(old_fields, ident.fields))}): {ways}")
    return old
