"""Pass@1 vs Pass@k frontier: one-token samplers over temperatures, IMH over α beside max_prob.

With no arguments: the embedded tiny model on countdown's easy tier (neither saturated nor
hopeless for it), 80 problems × 32 samples, random / confidence (τ 0.5, 1) / entropy / max_prob
(τ 0.5) and IMH (α 2, T 1); about 10 minutes on 2 quiet CPU cores.  It prints a time estimate
first (from samples/s measured on the spot), then writes shards to runs/pareto/shards and the
report to runs/pareto/report, and ends with the headline table: per task, each sampler's best
Pass@1 and Pass@32 and the differences beyond their paired-bootstrap 95% CIs.  The paper's
experiment (000 Fig. 3 left):

    python sweeps/pareto.py --model GSAI-ML/LLaDA-8B-Instruct --task math500 \\
        --problems 500 --samples 32 --temperatures 0.5,1,1.5 --alphas 1.5,2,4 --out s3://bucket/pareto-llada
"""
from __future__ import annotations

import argparse
from pathlib import Path
from typing import Optional, Sequence

from sweeps.engine.cli import EPILOG, add_run_args, check_args, execute, jobs_done, main_guard
from sweeps.engine.spec import SamplerSpec, SpecError, SweepSpec, TaskSpec
from workers.progname import prog

ONE_TOKEN = ("random", "confidence", "entropy", "max_prob")  # margin: --samplers ...,margin
# The default grid spends its budget where the tiny model's frontier bends on countdown's easy
# tier (measured: README "Running sweeps"): confidence at τ = 0.5 and 1 (its Pass@1 moves with τ),
# random and entropy at τ = 1 (the exploring end, and 004's any-order rule), and IMH at α = 2
# beside its base rule max_prob at the same proposal temperature τ = 1/α = 0.5 (000 §4.3: IMH
# samples max_prob's law at τ = 1/α plus the lookahead correction).  IMH forwards 1 + T rows per
# step (63 rows per countdown sample at T = 1, 94 at T = 2; T = 2 took 4.1× a one-token
# configuration's wall time in one sweep here); T = 1 keeps the default within 10 minutes.
TEMPERATURES: dict[str, tuple[float, ...]] = {
    "random": (1.0,), "confidence": (0.5, 1.0), "entropy": (1.0,), "max_prob": (0.5,)}
OTHER_TEMPERATURES = (1.0,)  # a one-token sampler not in TEMPERATURES
ALPHAS = (2.0,)
IMH_PARAMS = {"chain_length": 1, "window": "all", "position": "confidence"}
DEFAULTS = dict(model="tiny", tasks="countdown:easy", problems=80, samples=32)
SMOKE = dict(problems=3, samples=4, temperatures=(1.0,), alphas=(2.0,))


def _floats(text: str) -> tuple[float, ...]:
    try:
        vals = tuple(float(x) for x in text.split(",") if x.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated numbers, got {text!r}") from None
    if not vals:
        raise argparse.ArgumentTypeError("expected at least one number")
    return vals


def parse_tasks(text: str) -> list[tuple[str, Optional[list[str]]]]:
    """``countdown:easy,arith:3-step+4-step`` -> [(task, tiers or None), ...]."""
    out = []
    for part in (x.strip() for x in text.split(",")):
        if not part:
            continue
        name, _, tiers = part.partition(":")
        picked = [t.strip() for t in tiers.split("+") if t.strip()] if tiers else None
        out.append((name.strip(), picked))
    if not out:
        raise SpecError("--task: expected at least one task name")
    return out


def _count(name: str, value: Optional[int], default: int) -> int:
    """An explicit ``None`` check: 0 and negatives are errors, never 'use the default'."""
    if value is None:
        return default
    if value < 1:
        raise SpecError(f"{name} must be >= 1, got {value}")
    return value


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog=prog("python sweeps/pareto.py"),
        description="Sweep one-token samplers (default: random, confidence, entropy, max_prob)\n"
                    "over temperatures and IMH over alpha beside its base rule max_prob, with many\n"
                    "samples per problem; then plot Pass@1 against Pass@k (the Pareto frontier) and\n"
                    "print each sampler's best Pass@1 / Pass@k with the significant differences.",
        epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    g = p.add_argument_group("sweep")
    g.add_argument("--model", default=DEFAULTS["model"],
                   help="preset (tiny), local checkpoint dir or hub id (default: tiny)")
    g.add_argument("--task", default=DEFAULTS["tasks"],
                   help="comma-separated tasks, each optionally with tiers after ':' joined by '+' "
                        f"(default: {DEFAULTS['tasks']}; e.g. countdown,arith:3-step+4-step)")
    g.add_argument("--problems", type=int, default=None, metavar="N",
                   help=f"problems per task, spread over its (selected) tiers (default: {DEFAULTS['problems']}; "
                        f"smoke: {SMOKE['problems']})")
    g.add_argument("--samples", type=int, default=None, metavar="N",
                   help=f"samples (seeds) per problem and setting (default: {DEFAULTS['samples']}; "
                        f"smoke: {SMOKE['samples']})")
    g.add_argument("--samplers", default=",".join(ONE_TOKEN),
                   help="comma-separated one-token samplers (default: %(default)s)")
    g.add_argument("--temperatures", type=_floats, default=None, metavar="T1,T2,..",
                   help="one temperature grid for every sampler (default: per sampler, "
                        + ", ".join(f"{k} {'/'.join(map(str, v))}" for k, v in TEMPERATURES.items()) + ")")
    g.add_argument("--alphas", type=_floats, default=None, metavar="A1,A2,..",
                   help=f"IMH alpha grid (default: {','.join(map(str, ALPHAS))})")
    g.add_argument("--chain-length", type=int, default=IMH_PARAMS["chain_length"], metavar="T",
                   help="IMH chain length (default: %(default)s; IMH forwards T+1 rows per step)")
    g.add_argument("--no-imh", action="store_true", help="leave IMH out")
    g.add_argument("--gen-length", type=int, default=None, help="default: each task's own")
    g.add_argument("--block-length", type=int, default=None, help="default: each task's own")
    g.add_argument("--name", default="pareto", help="sweep name (part of every job id)")
    g.add_argument("--no-estimate", action="store_true",
                   help="skip the time estimate (a few seconds of timed decoding before the sweep; "
                        "never with --dry-run, which only counts)")
    add_run_args(p, default_out="runs/pareto")
    return p


def build_spec(args: argparse.Namespace) -> SweepSpec:
    """The sweep spec the arguments describe."""
    from workers.samplers import SAMPLERS

    smoke = args.smoke
    problems = _count("--problems", args.problems, SMOKE["problems"] if smoke else DEFAULTS["problems"])
    samples = _count("--samples", args.samples, SMOKE["samples"] if smoke else DEFAULTS["samples"])
    chain = _count("--chain-length", args.chain_length, IMH_PARAMS["chain_length"])
    for flag, val in (("--gen-length", args.gen_length), ("--block-length", args.block_length)):
        _count(flag, val, 1)
    names = [s.strip() for s in args.samplers.split(",") if s.strip()]
    if not names:
        raise SpecError("--samplers: expected at least one sampler name")

    def temps(name: str) -> list[float]:
        if args.temperatures is not None:
            return list(args.temperatures)
        if smoke:
            return list(SMOKE["temperatures"])
        return list(TEMPERATURES.get(name, OTHER_TEMPERATURES))

    samplers = [SamplerSpec(n, grid={"temperature": temps(n)}) for n in names]
    if "imh" in SAMPLERS and not args.no_imh:
        alphas = args.alphas or (SMOKE["alphas"] if smoke else ALPHAS)
        samplers.append(SamplerSpec("imh", grid={"alpha": list(alphas)},
                                    params={**IMH_PARAMS, "chain_length": chain}))
    tasks = [TaskSpec(name, limit=problems, difficulties=tiers, gen_length=args.gen_length,
                      block_length=args.block_length) for name, tiers in parse_tasks(args.task)]
    name = f"{args.name}-smoke" if smoke else args.name
    return SweepSpec(name=name, models=[args.model], tasks=tasks, samplers=samplers,
                     samples=samples, batch_size=32)


def note_capped(spec: SweepSpec, plan_difficulty: dict) -> list[str]:
    """Say when ``--problems`` asked for more problems than a task (selection) holds."""
    held: dict[str, int] = {}
    for task, _ in plan_difficulty:
        held[task] = held.get(task, 0) + 1
    return [f"note: --problems {t.limit} but task {t.name!r}"
            + (f" ({'+'.join(t.difficulties)})" if t.difficulties else "")
            + f" holds {held.get(t.name, 0)}: running all {held.get(t.name, 0)}"
            for t in spec.tasks if t.limit is not None and held.get(t.name, 0) < t.limit]


def estimate(spec: SweepSpec, workers: int, batch: int = 8, log=print) -> float:
    """Seconds the sweep should take: each configuration's samples/s measured here on one batch
    of ``batch`` prompts of each task (one torch thread, like a worker), divided over ``workers``
    actors.  Small batches run slower per sample than the sweep's, so this errs long."""
    import time

    import torch

    from sweeps.engine.spec import config_seeds, expand, sampler_configs
    from workers.models import load_model
    from workers.samplers import make_sampler
    from workers.tasks import load_task

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        plan = expand(spec, None, check_models=True)
        per_task = {}
        for task, _ in plan.difficulty:  # keys: (task, problem_id)
            per_task[task] = per_task.get(task, 0) + 1
        total = 0.0
        for model_name in spec.models:
            model = load_model(model_name, dtype=torch.float32)
            for t in spec.tasks:
                task = load_task(t.name, **t.args)
                probs = [p for p in task.problems if not t.difficulties or p.difficulty in t.difficulties][:batch]
                prompts = [model.encode_prompt(p.prompt) for p in probs]
                gl, bl = t.gen_length or task.gen_length, t.block_length or task.block_length
                for s in spec.samplers:
                    for given, _ in sampler_configs(s):
                        smp = make_sampler(s.name, **given)
                        t0 = time.perf_counter()
                        smp.generate(model, prompts, gen_length=gl, block_length=bl, seeds=list(range(len(prompts))))
                        rate = len(prompts) / (time.perf_counter() - t0)
                        seeds = len(config_seeds(s.name, given, range(spec.samples)))  # greedy: one
                        total += per_task.get(t.name, 0) * seeds / rate
        return total / max(1, workers)
    finally:
        torch.set_num_threads(threads)


def _local_run(args: argparse.Namespace) -> bool:
    """The time estimate decodes in this process: only for a local Ray and a model on disk here
    (a preset shipped with the package or a checkpoint directory), never an 8B hub download."""
    import os

    from workers.models import PRESETS

    if args.address or os.environ.get("RAY_ADDRESS") or args.device == "gpu":
        return False
    preset = PRESETS.get(args.model.lower())
    return bool(preset.local) if preset is not None else Path(args.model).expanduser().is_dir()


def estimate_line(total: int, left: int, secs: float, workers: int, load: float, cores: int) -> str:
    """The line printed before a run: the time for the ``left`` samples not yet in the shards,
    and how far to trust it (it was measured now, on a machine that may be busy)."""
    if left == 0:
        return f"estimate: 0 of {total} samples left (all are in the shards): nothing to decode"
    when = f"{secs:.0f} s" if secs < 90 else f"{secs / 60:.1f} min"
    line = (f"estimate: {left} of {total} samples left, about {when} on {workers} worker(s) here "
            f"({left / max(secs, 1e-9):.1f} samples/s from one batch of 8 per configuration decoded just now)")
    if load > 0.5 * cores:
        line += (f"; measured under load (load average {load:.1f} on {cores} cores): other work shares "
                 "these cores, so expect longer")
    return line + "; the progress line re-estimates as the sweep goes"


def _main(argv: Optional[Sequence[str]]) -> int:
    import os

    args = parser().parse_args(argv)
    if args.smoke and args.out == "runs/pareto":
        args.out = "runs/pareto-smoke"
    spec = build_spec(args)
    check_args(args)
    if args.dry_run:  # the cost from counts (sweeps/engine/dry_run.py): no model, no decoding, no data needed
        return execute(spec, args)
    from sweeps.engine.spec import expand

    plan = expand(spec, None, check_models=True)
    for line in note_capped(spec, plan.difficulty):
        print(line, flush=True)
    if not args.no_estimate and _local_run(args):
        workers = args.workers or os.cpu_count() or 1
        left = plan.total - jobs_done(plan.job_ids(), args.out)
        load = os.getloadavg()[0] if hasattr(os, "getloadavg") else 0.0
        secs = estimate(spec, workers) * left / plan.total if left else 0.0  # nothing to time when done
        print(estimate_line(plan.total, left, secs, workers, load, os.cpu_count() or 1), flush=True)
    status = execute(spec, args)
    if not args.no_report:
        print_results(args.out)
    return status


def print_results(out: str) -> None:
    """The report's headline table: per task, each sampler's best Pass@1 and Pass@k, and the
    differences whose paired-bootstrap 95% CI excludes 0."""
    import json

    from workers.shards import SweepDir

    try:  # local or s3://: read where the report was written
        raw = SweepDir(out).read_small("report/summary.json")
    except OSError:
        raw = None
    if raw is None:
        return
    head = json.loads(raw).get("headline")
    if head:
        from analysis.report import headline_text

        print("\n" + headline_text(head), flush=True)


def main(argv: Optional[Sequence[str]] = None) -> int:
    return main_guard(_main, argv)


if __name__ == "__main__":
    raise SystemExit(main())
