"""Sampling speed of several checkpoints, measured side by side in one process.

    python -m benchmarks.bench_model_speed --models tiny,runs/tiny-4-layers

The unit is the speed figure of ``sweeps/tiny_quality.py``: one batch of test prompts
decoded one token per step by greedy confidence at each task's default gen_length.  On a shared
machine the absolute samples/s drift by tens of percent between runs, so the models take turns,
round after round, and the ratio of their medians (each model against the first) is the figure
to read: both sides of it saw the same machine.
"""
from __future__ import annotations

import argparse
from typing import Optional, Sequence

import torch


def parse_args(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m benchmarks.bench_model_speed", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--models", default="tiny",
                   help="comma-separated presets or checkpoint dirs; ratios are against the first")
    p.add_argument("--tasks", default="countdown,arith", help="comma-separated task names")
    p.add_argument("--batch", type=int, default=32, help="prompts per batch")
    p.add_argument("--rounds", type=int, default=5, help="timed turns per model (after one warm-up turn)")
    p.add_argument("--threads", type=int, default=2, help="torch CPU threads")
    args = p.parse_args(argv)
    if args.batch < 1 or args.rounds < 1:
        p.error("--batch and --rounds must be ≥ 1")
    return args


def main(argv: Optional[Sequence[str]] = None) -> None:
    args = parse_args(argv)
    torch.set_num_threads(args.threads)
    from sweeps.tiny_quality import median_seconds, speed_run
    from workers.models import load_model
    from workers.tasks import load_task

    names = [m.strip() for m in args.models.split(",") if m.strip()]
    models = {name: load_model(name, device="cpu", dtype=torch.float32) for name in names}
    n_params = {name: sum(p.numel() for p in m.model.parameters()) for name, m in models.items()}
    print(f"batch {args.batch}, {args.rounds} rounds, torch threads {args.threads}; median samples/s")
    print("| task | model | parameters | samples/s | × first |")
    print("|---|---|---:|---:|---:|")
    for task_name in (t.strip() for t in args.tasks.split(",") if t.strip()):
        task = load_task(task_name)
        seconds = median_seconds({name: speed_run(m, task, args.batch) for name, m in models.items()}, args.rounds)
        sps = {name: args.batch / s for name, s in seconds.items()}
        for name in names:
            print(f"| {task_name} | {name} | {n_params[name]:,} | {sps[name]:.1f} | {sps[name] / sps[names[0]]:.2f} |",
                  flush=True)


if __name__ == "__main__":
    main()
