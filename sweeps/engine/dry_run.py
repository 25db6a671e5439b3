"""Cost before launch: what a sweep spec implies, without loading a model.

``estimate(spec)`` expands the spec (task data is read when it is available; otherwise the
problem count comes from the spec's ``problem_ids``/``limit`` or the benchmark's published size)
and counts, per (model, task, sampler, params): jobs, sequential forwards and forwarded rows.

* one-token samplers (random, confidence, max_prob, entropy, margin, left_to_right): gen_length
  forwards of one row per sample (docs/design.md §5);
* IMH: the same sequential forwards, (T + 1) rows each (000 §4.3: the T + 1 lookahead states are
  one batched forward);
* ``med`` with λ above every entropy (fixed k tokens a step, 004 App. A): ⌈block/k⌉ per block;
* parallel samplers (threshold, factor, eb, med, ete): the mean nfe/gen_length and
  forward_rows/nfe ratios measured in a previous sweep (``nfe_from``: its directory) for the same
  sampler — the closest params, preferring the same task — else the one-token upper bound
  (ETE: 2 forwards a token, ``beam`` + 1 rows), marked as such.

GPU-hours = forwarded tokens / throughput, where a forwarded row is ``prompt + gen_length``
tokens (the prompt estimated at 4 characters a token from the task's prompts, else 200 tokens) and
the throughput (forwarded tokens per second on one GPU) is given by the user or measured by a
benchmark.  Every assumption is printed with the figures.
"""
from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from typing import Any, Optional, Sequence

from sweeps.engine.spec import (SpecError, SweepSpec, TaskSpec, collapse_note, config_seeds, sampler_configs,
                         select_problems, validate)

ONE_TOKEN = ("random", "confidence", "max_prob", "entropy", "margin", "left_to_right")
PARALLEL = ("threshold", "factor", "eb", "med", "ete")
# Problem counts of the benchmarks' test sets, for a dry run where the data is not at hand.
KNOWN_SIZES = {"math500": 500, "gsm8k": 1319, "aime24": 30, "aime25": 30, "humaneval": 164, "mbpp": 378,
               "mmlu_pro": 1000}
KNOWN_LENGTHS = {"math500": (128, 32), "gsm8k": (256, 32), "aime24": (512, 32), "aime25": (512, 32),
                 "humaneval": (256, 32), "mbpp": (256, 32), "mmlu_pro": (256, 32)}
CHARS_PER_TOKEN = 4.0
DEFAULT_PROMPT_TOKENS = 200
MED_FIXED_K_LAMBDA = 20.0   # λ (nats) above log|V| of any model here: MED commits exactly k_max


@dataclass
class Line:
    model: str
    task: str
    sampler: str
    params: dict[str, Any]
    gen_length: int
    block_length: int
    jobs: int
    forwards: float          # sequential forwards per sample
    rows: float              # forwarded rows per sample
    prompt_tokens: float
    basis: str               # how forwards were obtained
    cache: str = "none"      # the spec's KV cache for this model
    batch: int = 32          # jobs per generate call (the spec's batch_size)

    @property
    def total_forwards(self) -> float:
        return self.jobs * self.forwards

    @property
    def total_rows(self) -> float:
        return self.jobs * self.rows

    @property
    def total_tokens(self) -> float:
        return self.total_rows * (self.prompt_tokens + self.gen_length)


@dataclass
class Estimate:
    name: str
    lines: list[Line] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def jobs(self) -> int:
        return sum(x.jobs for x in self.lines)

    def total(self, attr: str) -> float:
        return sum(getattr(x, attr) for x in self.lines)


def measured_ratios(sweep_dir: str) -> dict[tuple[str, str, str], tuple[float, float]]:
    """(task, sampler, params) -> (mean nfe / gen_length, mean forward_rows / nfe) from a sweep."""
    import polars as pl

    from analysis import load_samples

    lf = load_samples(sweep_dir)
    df = (lf.filter(pl.col("error").is_null() & (pl.col("nfe") > 0))
          .group_by(["task", "sampler", "params"])
          .agg((pl.col("nfe") / pl.col("gen_length")).mean().alias("r_nfe"),
               (pl.col("forward_rows") / pl.col("nfe")).mean().alias("r_rows"))
          .collect())
    return {(r["task"], r["sampler"], r["params"]): (r["r_nfe"], r["r_rows"]) for r in df.iter_rows(named=True)}


def _closest(ratios: dict, task: str, sampler: str, params: dict) -> Optional[tuple[float, float, str]]:
    import json

    best, best_d = None, math.inf
    for (t, s, p), val in ratios.items():
        if s != sampler:
            continue
        q = json.loads(p)
        d = sum(abs(float(q.get(k, 0) or 0) - float(v or 0)) for k, v in params.items()
                if isinstance(v, (int, float)) and not isinstance(v, bool)) + (0 if t == task else 1e3)
        if d < best_d:
            best, best_d = (val[0], val[1], f"measured on {t} {p}"), d
    return best


def per_sample(sampler: str, params: dict, gen: int, block: int, task: str,
               ratios: Optional[dict]) -> tuple[float, float, str]:
    """(sequential forwards, forwarded rows, basis) of one sample."""
    if sampler in ONE_TOKEN:
        return gen, gen, "one token a forward"
    if sampler == "imh":
        t = int(params.get("chain_length", 4))
        return gen, gen * (t + 1), f"one token a forward, T+1 = {t + 1} rows"
    if sampler == "med" and float(params.get("lam", 0)) >= MED_FIXED_K_LAMBDA:
        k = max(1, int(params.get("k_max", 1)))
        f = (gen // block) * math.ceil(block / min(k, block))
        return f, f, f"fixed k = {k} tokens a forward"
    if ratios:
        hit = _closest(ratios, task, sampler, params)
        if hit is not None:
            r_nfe, r_rows, where = hit
            return gen * r_nfe, gen * r_nfe * r_rows, where
    if sampler == "ete":
        return 2 * gen, 2 * gen * (1 + int(params.get("beam", 2))), "upper bound (no measured ratio)"
    return gen, gen, "upper bound: one token a forward (no measured ratio)"


def _task_size(t: TaskSpec, notes: list[str]) -> tuple[list[Any], int, int, float]:
    """(problems or [], gen_length, block_length, prompt tokens) of a task spec."""
    from workers.tasks import TASKS, load_task

    try:
        task = load_task(t.name, **{"split": "test", **t.args})
    except Exception as e:  # data not here (hub, EvalPlus) or task not registered: fall back
        if t.problem_ids is not None:
            n = len(t.problem_ids)
        elif t.name in KNOWN_SIZES:
            n = min(KNOWN_SIZES[t.name], t.limit or KNOWN_SIZES[t.name])
        elif t.limit is not None:
            n = t.limit
        else:
            reason = "not a registered task" if t.name not in TASKS else str(e).splitlines()[0][:120]
            raise SpecError(f"dry run: task {t.name!r} cannot be loaded ({reason}) and has no size; give limit:") from None
        gen0, block0 = KNOWN_LENGTHS.get(t.name, (t.gen_length or 0, t.block_length or 0))
        gen = t.gen_length or gen0
        block = t.block_length or block0 or gen
        if not gen:
            raise SpecError(f"dry run: task {t.name!r} cannot be loaded; give its gen_length")
        notes.append(f"{t.name}: data not loaded here, {n} problems assumed (the published size or the spec's limit), "
                     f"prompt {DEFAULT_PROMPT_TOKENS} tokens")
        return [None] * n, gen, block, DEFAULT_PROMPT_TOKENS
    problems = select_problems(task.problems, t)
    gen = t.gen_length or task.gen_length
    block = t.block_length or (task.block_length if task.block_length <= gen else gen)
    chars = sum(len(p.prompt) for p in problems) / len(problems)
    return problems, gen, block, chars / CHARS_PER_TOKEN


def estimate(spec: SweepSpec, nfe_from: Optional[str] = None) -> Estimate:
    """The job, forward and row counts a spec implies (see the module doc)."""
    validate(spec)
    est = Estimate(spec.name)
    ratios = measured_ratios(nfe_from) if nfe_from else None
    configs = [(s.name, full) for s in spec.samplers for _, full in sampler_configs(s)]
    # the expansion's rule: a deterministic (greedy) configuration runs one seed
    n_seeds = {i: len(config_seeds(n, full, range(spec.samples))) for i, (n, full) in enumerate(configs)}
    note = collapse_note([f"{n}{json.dumps(full, sort_keys=True)}" for i, (n, full) in enumerate(configs)
                          if n_seeds[i] < spec.samples], spec.samples, spec.seed)
    if note:
        est.notes.append(note[len("note: "):])
    for t in spec.tasks:
        problems, gen, block, prompt = _task_size(t, est.notes)
        if gen % block:
            raise SpecError(f"task {t.name!r}: block_length {block} does not divide gen_length {gen}")
        for model in spec.models:
            for i, (sampler, params) in enumerate(configs):
                f, r, basis = per_sample(sampler, params, gen, block, t.name, ratios)
                est.lines.append(Line(model, t.name, sampler, params, gen, block, len(problems) * n_seeds[i],
                                      f, r, prompt, basis, spec.cache_for(model), spec.batch_size))
    return est


def _num(x: float) -> str:
    for unit, div in (("T", 1e12), ("G", 1e9), ("M", 1e6), ("k", 1e3)):
        if abs(x) >= div:
            return f"{x / div:.2f}{unit}"
    return f"{x:.0f}"


def load_throughput(path: str) -> list[dict[str, Any]]:
    """The cells ``benchmarks/bench_gpu_native.py --json FILE`` wrote; a bad file is one line."""
    import json

    try:
        cells = json.loads(open(path, encoding="utf-8").read())
        ok = isinstance(cells, list) and cells and all(
            isinstance(c, dict) and float(c["fwd_tokens_s"]) > 0 and {"sampler_name", "cache_mode", "batch",
                                                                      "model_shape", "dtype"} <= set(c)
            for c in cells)
    except (OSError, ValueError, KeyError, TypeError) as e:
        raise SpecError(f"--throughput-from {path!r}: cannot read it ({type(e).__name__})") from None
    if not ok:
        raise SpecError(f"--throughput-from {path!r}: not a cell list of benchmarks/bench_gpu_native.py --json")
    return cells


def pick_cell(cells: Sequence[dict[str, Any]], line: Line) -> dict[str, Any]:
    """The measured cell closest to a line: same model family first (llada / dream in the name),
    then the sampler (else a one-token sampler for one-token rules), the cache mode, bf16, and
    the nearest batch size (log scale)."""
    fam = next((f for f in ("llada", "dream") if f in line.model.lower()), None)
    one_token = line.sampler in ONE_TOKEN

    def score(c: dict[str, Any]) -> tuple:
        same_sampler = c["sampler_name"] == line.sampler
        same_kind = one_token and c["sampler_name"] in ONE_TOKEN
        return (fam is not None and fam not in str(c["model_shape"]).lower(), not same_sampler, not same_kind,
                c["cache_mode"] != line.cache, c["dtype"] != "bfloat16",
                abs(math.log(max(int(c["batch"]), 1)) - math.log(max(line.batch, 1))))

    return min(cells, key=score)


def describe_cell(c: dict[str, Any]) -> str:
    return (f"{c['model_shape']} {c['sampler']} cache {c['cache_mode']} batch {c['batch']} {c['dtype']} on "
            f"{c.get('device', '?')}: {float(c['fwd_tokens_s']):,.0f} fwd tokens/s")


def format_estimate(ests: Sequence[Estimate], tokens_per_s: Optional[float] = None, *,
                    gpus: int = 1, throughput: Optional[Sequence[dict[str, Any]]] = None) -> str:
    """The dry-run printout: per sampler, then totals and GPU-hours."""
    out: list[str] = []
    grand = {"jobs": 0, "total_forwards": 0.0, "total_rows": 0.0, "total_tokens": 0.0}
    for est in ests:
        out.append(f"dry run: sweep {est.name}")
        out.append(f"  {'model':<20} {'task':<10} {'sampler':<13} {'gen/blk':>8} {'jobs':>8} "
                   f"{'fwd/sample':>10} {'rows':>9} {'fwd tokens':>10}  basis")
        by: dict[tuple, list[Line]] = {}
        for x in est.lines:
            by.setdefault((x.model, x.task, x.sampler, x.gen_length, x.block_length), []).append(x)
        for (model, task, sampler, gen, block), xs in by.items():
            jobs = sum(x.jobs for x in xs)
            fwd = sum(x.total_forwards for x in xs) / max(jobs, 1)
            bases = sorted({x.basis for x in xs})
            out.append(f"  {model[-20:]:<20} {task:<10} {sampler:<13} {f'{gen}/{block}':>8} {jobs:>8} "
                       f"{fwd:>10.1f} {_num(sum(x.total_rows for x in xs)):>9} "
                       f"{_num(sum(x.total_tokens for x in xs)):>10}  {'; '.join(bases)}")
        out.append(f"  total: {est.jobs} jobs (rows of Parquet), {_num(est.total('total_forwards'))} sample-forwards, "
                   f"{_num(est.total('total_rows'))} forwarded rows, {_num(est.total('total_tokens'))} forwarded tokens")
        for n in dict.fromkeys(est.notes):
            out.append(f"  note: {n}")
        grand["jobs"] += est.jobs
        for k in ("total_forwards", "total_rows", "total_tokens"):
            grand[k] += est.total(k)
    if len(ests) > 1:
        out.append(f"all parts: {grand['jobs']} jobs, {_num(grand['total_rows'])} forwarded rows, "
                   f"{_num(grand['total_tokens'])} forwarded tokens")
    if throughput:
        hours, used = 0.0, {}
        for est in ests:
            for x in est.lines:
                c = pick_cell(throughput, x)
                hours += x.total_tokens / float(c["fwd_tokens_s"]) / 3600
                key = describe_cell(c)
                used.setdefault(key, []).append(f"{x.sampler}/{x.cache}")
        out.append(f"GPU-hours: {hours:,.1f} measured ({hours / gpus:,.1f} h wall on {gpus} GPU(s)); cells used:")
        for key, what in used.items():
            out.append(f"  {key}  <- {', '.join(dict.fromkeys(what))}")
    elif tokens_per_s:
        hours = grand["total_tokens"] / tokens_per_s / 3600
        out.append(f"GPU-hours: {hours:,.1f} at {tokens_per_s:,.0f} forwarded tokens/s per GPU "
                   f"({hours / gpus:,.1f} h wall on {gpus} GPU(s)); a forwarded row = prompt + gen_length tokens, "
                   "no prefix cache, batches full")
    else:
        out.append("GPU-hours: give --tokens-per-s (forwarded tokens per second of one GPU at your batch size: "
                   "NFE/s x batch x (prompt + gen_length) from python -m benchmarks.bench_gpu_native on that GPU, "
                   "which runs LLaDA-8B's shape) or --throughput-from FILE (python -m benchmarks.bench_gpu_native "
                   "--json FILE on that GPU)")
    return "\n".join(out)


def infill_estimate(prog: str, args: Any, tpl: Any) -> str:
    """Dry run of the in-process infilling scripts (004 §4.1): samples × configurations, each at
    most reasoning + answer positions forwards (one token a forward; an early exit only shortens).
    ``tpl`` is the script's ``Template`` (given by the caller, so that this module, which the CLI
    helper imports, does not import the infilling scripts' helpers back)."""
    from workers.tasks import load_task

    n_prob, n_samp = (6, 2) if args.smoke else (args.problems, args.samples)
    if n_prob < 1 or n_samp < 1:
        raise ValueError("--problems and --samples must be >= 1")
    # early_exit.py's grid: (entropy + one MED per λ) × (γ list with the γ = 0 baseline)
    configs = 1
    if hasattr(args, "gammas") and hasattr(args, "lams"):
        gammas = {float(x) for x in args.gammas.split(",") if x.strip()} | {0.0}
        configs = (1 + len([x for x in args.lams.split(",") if x.strip()])) * len(gammas)
    try:
        ps = load_task(args.task).problems[:n_prob]
        prompt = sum(len(p.prompt) for p in ps) / len(ps) / CHARS_PER_TOKEN
        n_prob = len(ps)
    except Exception:  # data not here: the requested count, a 200-token prompt
        prompt = DEFAULT_PROMPT_TOKENS
    gen = tpl.reasoning_length + tpl.answer_length
    samples = n_prob * n_samp * configs
    tokens = samples * gen * (prompt + gen)
    lines = [f"dry run: {prog}: {n_prob} problems x {n_samp} samples x {configs} configuration(s) = {samples} samples "
             f"of at most {gen} forwards (upper bound: one token a forward), {_num(samples * gen)} forwarded rows, "
             f"{_num(tokens)} forwarded tokens"]
    if args.tokens_per_s:
        lines.append(f"GPU-hours: at most {tokens / args.tokens_per_s / 3600:,.2f} at {args.tokens_per_s:,.0f} forwarded tokens/s")
    return "\n".join(lines)
