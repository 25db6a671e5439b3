"""Sweep specs: a grid over models × tasks (problem subsets) × samplers × parameter grids × seeds.

A spec is written in code (the dataclasses below) or in YAML (``load_spec``)::

    name: demo                      # part of every job id: rename to start a fresh sweep
    models: [tiny]                  # preset names, local checkpoint dirs or hub ids;
                                    # an entry may be {name: llada-8b-instruct, cache: prefix}
    cache: none                     # KV cache of every model: none | prefix | dual (or a mapping
                                    # model -> mode); default none (exact decoding)
    tasks:
      - name: countdown
        limit: 12                   # N problems, taken round-robin over difficulty tiers
        difficulties: [easy, hard]  # optional filter;  problem_ids: [...] also works
        gen_length: 24              # default: the task's own
        block_length: 8
        args: {split: train}        # load_task keywords; split: test (default) or train (tuning)
    samplers:
      - name: confidence
        grid: {temperature: [0.5, 1.0]}   # the product of all lists
        params: {}                        # fixed parameters
    samples: 16                     # seeds seed .. seed+samples-1 per problem
    seed: 0
    batch_size: 32                  # jobs per generate() call (and per shard)
    slots: 32                       # optional: rows decoded at once; below batch_size, a finished
                                    # row's slot goes to the batch's next job (continuous batching)
    compare_at: {temperature: 0.5}  # optional: the protocol the report compares samplers at (000
                                    # Table 2's shared temperature); else it picks on held-out seeds

``expand`` turns a spec into deterministic ``JobBatch``es; every problem with the spec is a
one-line ``SpecError``.
"""
from __future__ import annotations

import copy
import itertools
import math
import os
import re
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Optional, Sequence

from workers.contract import CACHE_MODES, NONNEGATIVE_KNOBS
from sweeps.engine.identity import Identity, job_settings, task_settings
from workers.jobs import JobBatch, canonical_json, job_id
_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-]*$")


class SpecError(ValueError):
    """A bad sweep spec or argument; the message is one line."""


@dataclass
class TaskSpec:
    name: str
    limit: Optional[int] = None
    difficulties: Optional[list[str]] = None
    problem_ids: Optional[list[str]] = None
    gen_length: Optional[int] = None
    block_length: Optional[int] = None
    args: dict[str, Any] = field(default_factory=dict)


@dataclass
class SamplerSpec:
    name: str
    grid: dict[str, list[Any]] = field(default_factory=dict)
    params: dict[str, Any] = field(default_factory=dict)


@dataclass
class SweepSpec:
    name: str
    models: list[str]
    tasks: list[TaskSpec]
    samplers: list[SamplerSpec]
    samples: int = 16
    seed: int = 0
    batch_size: int = 32
    bits_l2r: bool = False   # rescore every sample left to right (row column bits_l2r; 002 §5.1)
    # KV cache per model ("none" | "prefix" | "dual"); a model not named decodes without one
    cache: dict[str, str] = field(default_factory=dict)
    # rows decoded at once (None: the whole batch); below batch_size: continuous batching
    slots: Optional[int] = None
    # the declared comparison protocol ({column: value}) the report compares samplers at
    # (analysis.report reads it from OUT/spec.yaml); changes no row
    compare_at: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def cache_for(self, model: str) -> str:
        """The cache mode ``model`` decodes with (row column ``cache``)."""
        return self.cache.get(model, "none")

    def with_models(self, models: Sequence[str]) -> "SweepSpec":
        """This spec on other models (``--model``, ``--smoke``): they inherit the cache mode when
        every model of the spec shares one, so a stand-in runs the same decoding path."""
        modes = {self.cache_for(m) for m in self.models}
        one = modes.pop() if len(modes) == 1 else "none"
        new = copy.deepcopy(self)
        new.models = list(models)
        new.cache = {m: one for m in models if one != "none"}
        return new


# ---------------------------------------------------------------------------- parsing
def _keys(d: Any, where: str, allowed: Sequence[str], required: Sequence[str] = ()) -> dict:
    if not isinstance(d, dict):
        raise SpecError(f"{where}: expected a mapping, got {type(d).__name__}")
    unknown = [k for k in d if k not in allowed]
    if unknown:
        raise SpecError(f"{where}: unknown key {unknown[0]!r} (allowed: {', '.join(allowed)})")
    for k in required:
        if k not in d:
            raise SpecError(f"{where}: missing required key {k!r}")
    return d


def _int(v: Any, where: str, low: int = 1, optional: bool = False) -> Optional[int]:
    if v is None and optional:
        return None
    if isinstance(v, bool) or not isinstance(v, int):
        raise SpecError(f"{where} must be an integer, got {v!r}")
    if v < low:
        raise SpecError(f"{where} must be >= {low}, got {v}")
    return v


def _str_list(v: Any, where: str) -> Optional[list[str]]:
    if v is None:
        return None
    if isinstance(v, str):
        v = [v]
    if not isinstance(v, list) or not v or not all(isinstance(x, (str, int)) for x in v):
        raise SpecError(f"{where} must be a non-empty list of names")
    return [str(x) for x in v]


def spec_from_dict(d: Any, source: str = "spec") -> SweepSpec:
    """Build and check a spec from plain data (parsed YAML); raises ``SpecError``."""
    top = ("name", "models", "tasks", "samplers", "samples", "seed", "batch_size", "bits_l2r", "cache", "slots",
           "compare_at")
    d = _keys(d, source, top, required=("name", "models", "tasks", "samplers"))
    tasks = []
    raw_tasks = d["tasks"] if isinstance(d["tasks"], list) else [d["tasks"]]
    for i, t in enumerate(raw_tasks):
        where = f"{source}: tasks[{i}]"
        if isinstance(t, str):
            t = {"name": t}
        t = _keys(t, where, [f.name for f in TaskSpec.__dataclass_fields__.values()], ("name",))
        tasks.append(TaskSpec(**t))
    samplers = []
    raw_samplers = d["samplers"] if isinstance(d["samplers"], list) else [d["samplers"]]
    for i, s in enumerate(raw_samplers):
        where = f"{source}: samplers[{i}]"
        if isinstance(s, str):
            s = {"name": s}
        s = _keys(s, where, ("name", "grid", "params"), ("name",))
        samplers.append(SamplerSpec(name=s["name"], grid=s.get("grid") or {}, params=s.get("params") or {}))
    models, cache = _models(d["models"], d.get("cache"), source)
    if not isinstance(d.get("bits_l2r", False), bool):
        raise SpecError(f"{source}: bits_l2r must be true or false, got {d['bits_l2r']!r}")
    spec = SweepSpec(name=d["name"], models=models, tasks=tasks, samplers=samplers, cache=cache,
                     **{k: d[k] for k in ("samples", "seed", "batch_size", "bits_l2r", "slots", "compare_at") if k in d})
    validate(spec, source)
    return spec


def _models(raw: Any, cache: Any, source: str) -> tuple[list[str], dict[str, str]]:
    """``models`` (names, or {name, cache} mappings) and the top-level ``cache`` (one mode for
    every model, or a mapping model -> mode) -> (names, {model: mode})."""
    entries = raw if isinstance(raw, list) else [raw]
    names: list[str] = []
    modes: dict[str, str] = {}
    if isinstance(cache, dict):
        modes.update({str(k): v for k, v in cache.items()})
    for i, m in enumerate(entries):
        if isinstance(m, dict):
            m = _keys(m, f"{source}: models[{i}]", ("name", "cache"), ("name",))
            if "cache" in m:
                modes[str(m["name"])] = m["cache"]
            m = m["name"]
        names.extend(_str_list(m, f"{source}: models") or [])
    if cache is not None and not isinstance(cache, dict):
        modes = {n: modes.get(n, cache) for n in names}
    unknown = [m for m in modes if m not in names]
    if unknown:
        raise SpecError(f"{source}: cache names model {unknown[0]!r}, which models does not list")
    return names, {m: v for m, v in modes.items() if v != "none"}


def load_spec(path: str | Path) -> SweepSpec:
    """Read a YAML spec file; every problem is a one-line ``SpecError``."""
    import yaml

    p = Path(path)
    if p.is_dir():  # e.g. ``sweeps/specs``: name the files it holds
        found = sorted(x.name for x in p.glob("*.y*ml"))
        raise SpecError(f"{str(p)!r} is a directory; give one spec file in it"
                        + (f" ({', '.join(found[:6])}{', …' if len(found) > 6 else ''})" if found else ""))
    if not p.is_file():
        raise SpecError(f"spec file {str(p)!r} does not exist")
    try:
        data = yaml.safe_load(p.read_text(encoding="utf-8"))
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        at = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(e, "problem", None) or str(e).splitlines()[0]
        raise SpecError(f"{p}: malformed YAML{at}: {problem}") from None
    except UnicodeDecodeError:
        raise SpecError(f"{p}: not a UTF-8 text file") from None
    if data is None:
        raise SpecError(f"{p}: empty spec")
    return spec_from_dict(data, str(p))


# ---------------------------------------------------------------------------- validation
def validate(spec: SweepSpec, source: str = "spec") -> None:
    """Cheap structural checks (no model, task or sampler is loaded)."""
    if not isinstance(spec.name, str) or not _NAME_RE.match(spec.name):
        raise SpecError(f"{source}: name must be letters, digits, '_', '-', '.', got {spec.name!r}")
    if not spec.models:
        raise SpecError(f"{source}: models must list at least one model")
    if not spec.tasks:
        raise SpecError(f"{source}: tasks must list at least one task")
    if not spec.samplers:
        raise SpecError(f"{source}: samplers must list at least one sampler")
    _int(spec.samples, f"{source}: samples")
    _int(spec.seed, f"{source}: seed", low=0)
    _int(spec.batch_size, f"{source}: batch_size")
    _int(spec.slots, f"{source}: slots", optional=True)
    if not isinstance(spec.compare_at, dict) or not all(isinstance(k, str) for k in spec.compare_at):
        raise SpecError(f"{source}: compare_at must map column names to values, e.g. {{temperature: 0.5}}")
    if not isinstance(spec.cache, dict):
        raise SpecError(f"{source}: cache must map model names to modes")
    for m, mode in spec.cache.items():
        if mode not in CACHE_MODES:
            raise SpecError(f"{source}: cache of {m!r} must be one of {', '.join(CACHE_MODES)}, got {mode!r}")
    for i, t in enumerate(spec.tasks):
        w = f"{source}: tasks[{i}]"
        if not isinstance(t.name, str) or not t.name:
            raise SpecError(f"{w}: name must be a task name")
        _int(t.limit, f"{w}.limit", optional=True)
        _int(t.gen_length, f"{w}.gen_length", optional=True)
        _int(t.block_length, f"{w}.block_length", optional=True)
        t.difficulties = _str_list(t.difficulties, f"{w}.difficulties")
        t.problem_ids = _str_list(t.problem_ids, f"{w}.problem_ids")
        if not isinstance(t.args, dict):
            raise SpecError(f"{w}.args must be a mapping")
    for i, s in enumerate(spec.samplers):
        w = f"{source}: samplers[{i}]"
        if not isinstance(s.name, str) or not s.name:
            raise SpecError(f"{w}: name must be a sampler name")
        if not isinstance(s.grid, dict) or not isinstance(s.params, dict):
            raise SpecError(f"{w}: grid and params must be mappings")
        for k, vals in s.grid.items():
            if not isinstance(vals, list) or not vals:
                raise SpecError(f"{w}.grid.{k} must be a non-empty list")
            for v in vals:
                _check_knob(k, v, f"{w}.grid.{k}")
        for k, v in s.params.items():
            if k in s.grid:
                raise SpecError(f"{w}: {k!r} is both in grid and params")
            _check_knob(k, v, f"{w}.params.{k}")


def _check_knob(name: str, value: Any, where: str) -> None:
    if isinstance(value, (dict, list)):
        raise SpecError(f"{where} must be a scalar, got {value!r}")
    if isinstance(value, float) and not math.isfinite(value):
        raise SpecError(f"{where} must be finite, got {value!r}")
    if name in NONNEGATIVE_KNOBS and isinstance(value, (int, float)) and not isinstance(value, bool) and value < 0:
        raise SpecError(f"{where} must be >= 0, got {value!r}")


def check_model(name: str) -> None:
    """Fail fast on a model no worker could load, without loading it (an 8B model is slow)."""
    from workers.models import PRESETS, check_checkpoint_dir

    preset = PRESETS.get(name.lower())
    try:
        if preset is not None:
            if preset.local:
                check_checkpoint_dir(preset.source)
            return
        if Path(name).expanduser().is_dir():
            check_checkpoint_dir(Path(name).expanduser())
            return
    except ValueError as e:
        raise SpecError(f"model {name!r}: {e}") from None
    known = f"presets: {', '.join(sorted(PRESETS))}"
    if not re.match(r"^[\w.\-]+/[\w.\-]+$", name):
        raise SpecError(f"unknown model {name!r}: not a preset ({known}), a checkpoint directory or a hub id org/name")
    try:  # a hub id: accept it when cached here or when the hub has it
        import huggingface_hub as hf

        cached = hf.try_to_load_from_cache(name, "config.json")
        if isinstance(cached, str):
            return
        if os.environ.get("HF_HUB_OFFLINE", "").strip().lower() in ("1", "true", "yes", "on"):
            raise SpecError(f"unknown model {name!r}: not cached locally and HF_HUB_OFFLINE is set ({known})")
        hub_unreachable(name, known)  # fail in a second, not after the hub client's retries
        if hf.file_exists(name, "config.json"):
            return
    except SpecError:
        raise
    except Exception as e:  # offline, gated, rate-limited: say what failed
        raise SpecError(f"unknown model {name!r}: not cached locally and the hub lookup failed "
                        f"({type(e).__name__})") from None
    raise SpecError(f"unknown model {name!r}: no config.json on the Hugging Face hub ({known})")


def hub_unreachable(name: str, known: str, timeout: float = 3.0) -> None:
    """Raise ``SpecError`` at once when the Hugging Face hub cannot be reached (offline machine):
    one TCP connect to ``HF_ENDPOINT`` (default huggingface.co:443) instead of the hub client's
    retry loop (measured: 29 s and 11 retry lines offline)."""
    import socket
    from urllib.parse import urlparse

    url = urlparse(os.environ.get("HF_ENDPOINT") or "https://huggingface.co")
    host, port = url.hostname or "huggingface.co", url.port or (80 if url.scheme == "http" else 443)
    try:
        socket.create_connection((host, port), timeout=timeout).close()
    except OSError as e:
        raise SpecError(f"unknown model {name!r}: not cached locally and the hub ({host}) is unreachable "
                        f"({type(e).__name__}); offline, use a preset or a checkpoint directory "
                        f"({known}), or set HF_HUB_OFFLINE=1 to skip the lookup") from None


# ---------------------------------------------------------------------------- expansion
@dataclass
class Plan:
    """A spec expanded into batches (deterministic: same spec and batch size, same batches)."""

    spec: SweepSpec
    batches: list[JobBatch]
    difficulty: dict[tuple[str, str], Optional[str]] = field(default_factory=dict)  # (task, id)
    notes: list[str] = field(default_factory=list)   # one line each, printed by the driver
    identity: Optional[Identity] = None  # fingerprint and settings of each configuration

    @property
    def total(self) -> int:
        return sum(len(b) for b in self.batches)

    def job_ids(self) -> list[str]:
        return [j for b in self.batches for j in b.job_ids]


def select_problems(problems: Sequence[Any], t: TaskSpec) -> list[Any]:
    """Apply a task spec's filters; ``limit`` takes problems round-robin over difficulty tiers
    (in task order), so a small subset still covers every tier."""
    ps = list(problems)
    if t.problem_ids is not None:
        by_id = {p.problem_id: p for p in ps}
        missing = [i for i in t.problem_ids if i not in by_id]
        if missing:
            raise SpecError(f"task {t.name!r} has no problem {missing[0]!r}")
        ps = [by_id[i] for i in t.problem_ids]
    if t.difficulties is not None:
        tiers = {p.difficulty for p in ps}
        bad = [d for d in t.difficulties if d not in tiers]
        if bad:
            raise SpecError(f"task {t.name!r} has no difficulty {bad[0]!r} (tiers: "
                            f"{', '.join(sorted(str(x) for x in tiers))})")
        ps = [p for p in ps if p.difficulty in t.difficulties]
    if t.limit is not None and t.limit < len(ps):
        groups: dict[Any, list[Any]] = {}
        for p in ps:
            groups.setdefault(p.difficulty, []).append(p)
        picked: list[Any] = []
        for row in itertools.zip_longest(*groups.values()):
            picked.extend(p for p in row if p is not None)
        ps = picked[: t.limit]
    if not ps:
        raise SpecError(f"task {t.name!r}: the selection holds no problems")
    return ps


def sampler_configs(s: SamplerSpec) -> list[tuple[dict[str, Any], dict[str, Any]]]:
    """All parameter sets of a sampler spec: (arguments given, all params with defaults)."""
    from workers.samplers import make_sampler

    keys = sorted(s.grid)
    out: list[tuple[dict[str, Any], dict[str, Any]]] = []
    for values in itertools.product(*(s.grid[k] for k in keys)):
        params = {**s.params, **dict(zip(keys, values))}
        try:
            sampler = make_sampler(s.name, **params)
        except ValueError as e:
            raise SpecError(f"sampler {s.name!r}: {str(e).splitlines()[0]}") from None
        full = dict(sorted(sampler.params.items()))
        try:
            canonical_json(full)
        except TypeError:
            raise SpecError(f"sampler {s.name!r}: parameters must be JSON scalars, got {full!r}") from None
        if full not in [f for _, f in out]:
            out.append((params, full))
    return out


def config_seeds(sampler: str, args: dict[str, Any], seeds: Sequence[int]) -> Sequence[int]:
    """The seeds one configuration runs: all of them, except for a deterministic (greedy)
    configuration (``Sampler.deterministic``), whose samples would be identical copies: it runs
    the first seed only, so the problem is its replication unit (no pseudo-replication)."""
    from workers.samplers import make_sampler

    return seeds[:1] if make_sampler(sampler, **args).deterministic else seeds


def collapse_note(collapsed: Sequence[str], samples: int, seed: int) -> Optional[str]:
    """The one line that says which configurations ran one sample per problem."""
    if not collapsed or samples <= 1:
        return None
    return (f"note: {len(collapsed)} deterministic (greedy) configuration(s) run one sample per problem "
            f"(seed {seed}), not {samples}: {', '.join(collapsed)}")


def expand(spec: SweepSpec, batch_size: Optional[int] = None, check_models: bool = True) -> Plan:
    """Spec -> batches of jobs sharing (model, task, sampler, params); raises ``SpecError``."""
    from workers.tasks import load_task

    validate(spec)
    bs = _int(batch_size if batch_size is not None else spec.batch_size, "batch_size")
    for m in spec.models:
        if check_models:
            check_model(m)
    configs = [(s.name, args, full) for s in spec.samplers for args, full in sampler_configs(s)]
    seeds = range(spec.seed, spec.seed + spec.samples)
    config_seed = {(n, canonical_json(full)): config_seeds(n, args, seeds) for n, args, full in configs}
    collapsed = [f"{n}{c}" for (n, c), ss in config_seed.items() if len(ss) < len(seeds)]
    batches: list[JobBatch] = []
    difficulty: dict[tuple[str, str], Optional[str]] = {}
    seen: set[str] = set()
    ident = Identity(fields={"name": spec.name})
    names: list[str] = []
    for t in spec.tasks:
        try:
            task = load_task(t.name, **{"split": "test", **t.args})   # args may name the split
        except (ValueError, KeyError, TypeError, FileNotFoundError) as e:
            msg = str(e).strip("'\"").splitlines()
            raise SpecError(f"task {t.name!r}: {msg[0] if msg else type(e).__name__}") from None
        problems = select_problems(task.problems, t)
        difficulty.update({(t.name, p.problem_id): p.difficulty for p in problems})
        gen = t.gen_length or task.gen_length
        block = t.block_length or (task.block_length if task.block_length <= gen else gen)
        if gen % block:
            raise SpecError(f"task {t.name!r}: block_length {block} does not divide gen_length {gen}")
        names.append(t.name)  # a task listed twice (other lengths, options) is "name#2"
        key = t.name + (f"#{names.count(t.name)}" if names.count(t.name) > 1 else "")
        tset = task_settings(t, task, gen, block)
        for model in spec.models:
            settings = ident.add(model, key, job_settings(spec, model, tset))
            for sampler, args, params in configs:
                jobs = [(job_id(spec.name, model, t.name, p.problem_id, sampler, params, s, settings),
                         p.problem_id, s)
                        for p in problems for s in config_seed[(sampler, canonical_json(params))]]
                for j, _, _ in jobs:
                    if j in seen:
                        raise SpecError(f"spec {spec.name!r}: the grid repeats a job "
                                        f"({model}, {t.name}, {sampler} {canonical_json(params)}); "
                                        "list each task/sampler setting once")
                    seen.add(j)
                for i in range(0, len(jobs), bs):
                    chunk = jobs[i:i + bs]
                    batches.append(JobBatch(spec.name, model, t.name, sampler, params, gen, block,
                                            tuple(c[0] for c in chunk), tuple(c[1] for c in chunk),
                                            tuple(c[2] for c in chunk), dict(t.args), dict(args),
                                            bool(spec.bits_l2r), settings, spec.cache_for(model), spec.slots))
    note = collapse_note(collapsed, spec.samples, spec.seed)
    return Plan(spec, batches, difficulty, [note] if note else [], ident)
