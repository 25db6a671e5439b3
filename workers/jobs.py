"""Jobs and batches: what the sweep driver hands to a worker (docs/design.md §3, job contract).

A job is (sweep, model, task, problem_id, sampler, params, seed) under its configuration's settings
(sweeps/engine/identity.py: lengths, task options and version, model entry, row options, row-contract
version); its ``job_id`` is a stable hash of exactly those fields plus the settings hash, so a
rerun recognises finished work and never takes a row made under other settings for it.
A ``JobBatch`` is a set of jobs that share everything but (problem_id, seed) and therefore run in one ``generate`` call.
"""
from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from typing import Any, Iterable, Mapping, Optional

JOB_ID_HEX = 24  # 96 bits: collision-free for any sweep we can imagine, short in Parquet


def canonical_json(obj: Any) -> str:
    """Sorted-key, whitespace-free JSON: the one serialisation hashed and stored in ``params``."""
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def job_id(sweep: str, model: str, task: str, problem_id: str, sampler: str,
           params: Mapping[str, Any], seed: int, settings: Optional[str] = None) -> str:
    """Stable id of one job: sha256 of the sorted-key JSON of exactly the contract's fields
    (``settings``: the configuration's settings hash; sweeps always pass it)."""
    key = {"sweep": sweep, "model": model, "task": task, "problem_id": problem_id,
           "sampler": sampler, "params": dict(params), "seed": int(seed)}
    if settings is not None:
        key["settings"] = settings
    return hashlib.sha256(canonical_json(key).encode("utf-8")).hexdigest()[:JOB_ID_HEX]


def batch_key(job_ids: Iterable[str]) -> str:
    """Hash of a batch's sorted job ids: names its shard, so a retried batch overwrites the
    same file instead of writing its rows twice."""
    h = hashlib.sha256()
    for j in sorted(job_ids):
        h.update(j.encode("ascii"))
        h.update(b"\n")
    return h.hexdigest()[:32]


@dataclass(frozen=True)
class JobBatch:
    """Jobs sharing (sweep, model, task, sampler, params, lengths); one ``generate`` call."""

    sweep: str
    model: str
    task: str
    sampler: str
    params: dict[str, Any]          # all sampler params, defaults included
    gen_length: int
    block_length: int
    job_ids: tuple[str, ...]
    problem_ids: tuple[str, ...]
    seeds: tuple[int, ...]
    task_args: dict[str, Any] = field(default_factory=dict)  # extra load_task kwargs (e.g. path)
    sampler_args: Optional[dict[str, Any]] = None  # what make_sampler gets (default: params)
    bits_l2r: bool = False   # also rescore each completion left to right (row column bits_l2r)
    settings: Optional[str] = None  # the settings hash in the job ids (row column settings)
    cache: str = "none"      # KV cache to decode with: "none" | "prefix" | "dual" (row column cache)
    slots: Optional[int] = None  # rows decoded at once; fewer than the jobs: continuous batching

    @property
    def make_args(self) -> dict[str, Any]:
        """Keyword arguments that rebuild the sampler: ``params`` (each sampler's params are its
        constructor's keywords; IMH's fixed τ = 1/α is not among them), unless ``sampler_args``
        says otherwise."""
        return dict(self.params if self.sampler_args is None else self.sampler_args)

    def __len__(self) -> int:
        return len(self.job_ids)

    @property
    def prefix_cache(self) -> bool | str:
        """``generate``'s ``prefix_cache`` argument for this batch's cache mode."""
        return False if self.cache == "none" else self.cache

    @property
    def key(self) -> str:
        return batch_key(self.job_ids)

    def subset(self, keep: Iterable[str]) -> "JobBatch":
        """The same batch restricted to the job ids in ``keep`` (order preserved)."""
        keep = set(keep)
        idx = [i for i, j in enumerate(self.job_ids) if j in keep]
        return JobBatch(self.sweep, self.model, self.task, self.sampler, self.params,
                        self.gen_length, self.block_length,
                        tuple(self.job_ids[i] for i in idx), tuple(self.problem_ids[i] for i in idx),
                        tuple(self.seeds[i] for i in idx), self.task_args, self.sampler_args,
                        self.bits_l2r, self.settings, self.cache, self.slots)

    def singles(self) -> list["JobBatch"]:
        """One batch per job (used to isolate a job that keeps killing its worker)."""
        return [self.subset([j]) for j in self.job_ids]

    def describe(self, limit: Optional[int] = 3) -> str:
        ids = ", ".join(self.job_ids[:limit]) + (" …" if limit and len(self) > limit else "")
        return f"{self.sampler}{canonical_json(self.params)} on {self.task} [{ids}]"
