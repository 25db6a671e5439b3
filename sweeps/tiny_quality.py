"""Quality and speed table of the embedded default model (the quality bar it must meet).

    python sweeps/tiny_quality.py                       # full fixed test sets (slow: ~30 min on 2 cores)
    python sweeps/tiny_quality.py --problems 50         # first 50 test problems per tier

Per task and difficulty tier (and over all tiers): greedy confidence Pass@1 (τ = 0, one sample),
then, from ``--samples`` samples per problem at temperature ``--temperature``, Pass@1 and
Pass@k (k = ``--k``) for the ``confidence`` and ``random`` samplers, with the unbiased estimator
pass@k = 1 − C(n−c, k)/C(n, k) averaged over problems.  Each task is decoded at its default
gen_length / block_length.  Speed: samples/s for one batch of ``--speed-batch`` prompts with
one-token greedy confidence decoding at each task's default gen_length (median of 3 timed runs).
Seeds are fixed, so the table is reproducible.
"""
from __future__ import annotations

import argparse
import statistics
import sys
import time
from typing import Callable, Optional, Sequence

import torch

from analysis.passk import estimate_pass_at_k
from sweeps.engine.cli import entry
from workers.progname import prog


def pass_at_k(n: int, c: int, k: int) -> float:
    """Unbiased pass@k of one problem with c correct among n samples (Chen et al. 2021): the
    project's one estimator, ``analysis.passk.estimate_pass_at_k``, for a single problem."""
    return float(estimate_pass_at_k(n, c, k)[0])


def parse_args(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        prog=prog("python sweeps/tiny_quality.py"),
        description="Quality (Pass@1 / Pass@k per task and tier) and sampling speed of a model.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    p.add_argument("--model", default="tiny", help="preset name, local checkpoint dir or hub id")
    p.add_argument("--tasks", default="countdown,arith", help="comma-separated task names")
    p.add_argument("--problems", type=int, default=0, help="test problems per tier (0: all)")
    p.add_argument("--samples", type=int, default=16, help="samples per problem for Pass@k (n)")
    p.add_argument("--k", type=int, default=16, help="k of Pass@k (≤ --samples)")
    p.add_argument("--temperature", type=float, default=1.0, help="τ of the sampled runs")
    p.add_argument("--batch", type=int, default=128, help="sequences per sampler call")
    p.add_argument("--seed", type=int, default=0, help="base seed of the sampled runs")
    p.add_argument("--threads", type=int, default=2, help="torch CPU threads")
    p.add_argument("--device", default="cpu", help="device of the quality and speed runs (the README figures: cpu)")
    p.add_argument("--speed-batch", type=int, default=32, help="batch size of the speed measurement (0: skip)")
    p.add_argument("--no-quality", action="store_true", help="only measure speed")
    args = p.parse_args(argv)
    if args.k < 1 or args.k > args.samples:
        p.error(f"--k must be between 1 and --samples ({args.samples}), got {args.k}")
    if args.problems < 0 or args.batch < 1:
        p.error("--problems must be ≥ 0 and --batch ≥ 1")
    return args


def correct_counts(model, task, problems, sampler, n: int, seed: int, batch: int) -> list[int]:
    """Number of correct completions among n samples for each problem."""
    jobs = [(i, j) for i in range(len(problems)) for j in range(n)]
    prompts = [model.encode_prompt(p.prompt) for p in problems]
    counts = [0] * len(problems)
    for s in range(0, len(jobs), batch):
        chunk = jobs[s:s + batch]
        out = sampler.generate(model, [prompts[i] for i, _ in chunk], gen_length=task.gen_length,
                               block_length=task.block_length,
                               # one seed per (problem, sample): independent of batching
                               seeds=[seed + 1000 * i + j for i, j in chunk])
        for (i, _), toks in zip(chunk, out.tokens):
            counts[i] += bool(task.grade(problems[i], model.decode(toks)).correct)
    return counts


def speed_run(model, task, batch: int) -> Callable[[], object]:
    """One batch of ``batch`` test prompts, decoded one token per step by greedy confidence at the
    task's default gen_length / block_length: the unit the speed figures time."""
    from workers.samplers import make_sampler

    sampler = make_sampler("confidence", temperature=0.0)
    probs = (task.problems * (batch // max(1, len(task.problems)) + 1))[:batch]
    prompts = [model.encode_prompt(p.prompt) for p in probs]
    return lambda: sampler.generate(model, prompts, gen_length=task.gen_length,
                                    block_length=task.block_length, seeds=list(range(batch)))


def median_seconds(runs: dict[str, Callable[[], object]], rounds: int) -> dict[str, float]:
    """Median wall time of each run over ``rounds`` timed rounds, after one warm-up round
    (allocator, first-call overheads).  The runs take turns within each round, so a slow spell
    of a shared machine hits them alike and their ratio holds even when absolute times drift."""
    times: dict[str, list[float]] = {name: [] for name in runs}
    for turn in range(rounds + 1):
        for name, run in runs.items():
            t0 = time.perf_counter()
            run()
            if turn:
                times[name].append(time.perf_counter() - t0)
    return {name: statistics.median(ts) for name, ts in times.items()}


def measure_speed(model, task, batch: int) -> float:
    """Samples/s of one-token greedy confidence decoding for a batch of test prompts."""
    return batch / median_seconds({"run": speed_run(model, task, batch)}, rounds=3)["run"]


def _main(argv: Optional[Sequence[str]] = None) -> int:
    args = parse_args(argv)
    torch.set_num_threads(args.threads)
    from tqdm import tqdm

    from workers.models import load_model
    from workers.samplers import make_sampler
    from workers.tasks import load_task

    model = load_model(args.model, device=args.device, dtype=torch.float32)
    names = [t.strip() for t in args.tasks.split(",") if t.strip()]
    tasks = {name: load_task(name) for name in names}
    k, n, tau = args.k, args.samples, args.temperature
    print(f"# {args.model}: quality on the fixed test sets "
          f"({'all' if not args.problems else args.problems} problems per tier; "
          f"n = {n} samples at τ = {tau:g}; torch threads {args.threads})\n")

    if not args.no_quality:
        greedy = make_sampler("confidence", temperature=0.0)
        sampled = {s: make_sampler(s, temperature=tau) for s in ("confidence", "random")}
        head = (f"| task | tier | problems | greedy conf Pass@1 | conf Pass@1 | conf Pass@{k} "
                f"| random Pass@1 | random Pass@{k} |")
        rows = [head, "|---|---|---:|---:|---:|---:|---:|---:|"]
        for name, task in tasks.items():
            per_tier: dict[str, dict[str, list[int]]] = {}
            for tier in tqdm(task.tiers, desc=name, file=sys.stderr, leave=False):
                probs = task.by_difficulty(tier)
                probs = probs[:args.problems] if args.problems else probs
                per_tier[tier] = {
                    "greedy": correct_counts(model, task, probs, greedy, 1, args.seed, args.batch),
                    **{s: correct_counts(model, task, probs, smp, n, args.seed, args.batch)
                       for s, smp in sampled.items()},
                }
            groups = [(tier, per_tier[tier]) for tier in per_tier]
            groups.append(("all", {key: sum((per_tier[t][key] for t in per_tier), []) for key in
                                   ("greedy", "confidence", "random")}))
            for tier, c in groups:
                avg = lambda cs, kk, nn: sum(pass_at_k(nn, x, kk) for x in cs) / len(cs)  # noqa: E731
                rows.append(
                    f"| {name} | {tier} | {len(c['greedy'])} | {avg(c['greedy'], 1, 1):.3f} "
                    f"| {avg(c['confidence'], 1, n):.3f} | {avg(c['confidence'], k, n):.3f} "
                    f"| {avg(c['random'], 1, n):.3f} | {avg(c['random'], k, n):.3f} |")
        print("\n".join(rows) + "\n")

    if args.speed_batch:
        print(f"| task | gen_length | block_length | batch | samples/s (greedy confidence, one token per step) |")
        print("|---|---:|---:|---:|---:|")
        for name, task in tasks.items():
            sps = measure_speed(model, task, args.speed_batch)
            print(f"| {name} | {task.gen_length} | {task.block_length} | {args.speed_batch} | {sps:.1f} |")
    return 0


main = entry(_main)

if __name__ == "__main__":
    raise SystemExit(main())
