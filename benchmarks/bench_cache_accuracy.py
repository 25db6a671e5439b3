"""What a KV cache costs in accuracy: the same problems and seeds decoded with and without it.

    python -m benchmarks.bench_cache_accuracy                          # tiny model, arith, CPU
    python -m benchmarks.bench_cache_accuracy --task countdown --problems 60 --samples 8 --k 4
    python -m benchmarks.bench_cache_accuracy --model llada-8b-instruct --task math500 \\
        --caches prefix,dual --device cuda --batch 32                  # a real model on a GPU

For each sampler and cache mode: the share of generated tokens identical to the uncached run, the
share of samples identical in full, Pass@1 and Pass@k without and with the cache, and the paired
difference (cache − none) per problem with its 95% bootstrap CI over problems (analysis.stats:
problems are the unit, docs/design.md §6).  Seeds are shared, so a sample differs only where the
cache changed the model's predictions (workers/prefix_cache.py: exact for one layer, an
approximation from layer 2 on); the difference is the accuracy cost a sweep with ``cache:`` pays.
"""
from __future__ import annotations

import argparse
import time
from dataclasses import dataclass
from typing import Any, Optional, Sequence

import numpy as np
import torch

#: label -> (sampler, params): a one-token rule, a parallel rule and IMH (000's three families)
SAMPLERS: dict[str, tuple[str, dict[str, Any]]] = {
    "confidence τ=1": ("confidence", {"temperature": 1.0}),
    "threshold 0.9": ("threshold", {"threshold": 0.9, "temperature": 1.0}),
    "imh α=2 T=4": ("imh", {"alpha": 2.0, "chain_length": 4}),
}


@dataclass
class CacheCost:
    sampler: str
    cache: str
    tokens_identical: float        # share of generated tokens equal to the uncached run
    samples_identical: float       # share of samples equal in full
    pass1: tuple[float, float]     # (none, cache)
    passk: tuple[float, float]
    d_pass1: tuple[float, float, float]   # paired difference cache − none: (mean, low, high)
    d_passk: tuple[float, float, float]
    wall: tuple[float, float]      # seconds (none, cache)


def decode_and_grade(model: Any, task: Any, problems: Sequence[Any], sampler: Any, samples: int,
                     gen_length: int, block_length: int, batch: int, cache: Any
                     ) -> tuple[torch.Tensor, np.ndarray, float]:
    """Tokens [P·S, G], correct [P, S] and wall seconds; sample (p, s) has seed s."""
    jobs = [(i, s) for i in range(len(problems)) for s in range(samples)]
    prompts = {i: model.encode_prompt(p.prompt) for i, p in enumerate(problems)}
    toks, correct = [], np.zeros((len(problems), samples), dtype=bool)
    t0 = time.perf_counter()
    for b in range(0, len(jobs), batch):
        chunk = jobs[b:b + batch]
        out = sampler.generate(model, [prompts[i] for i, _ in chunk], gen_length, block_length,
                               seeds=[s for _, s in chunk], prefix_cache=cache)
        toks.append(out.tokens)
        for (i, s), row in zip(chunk, out.tokens):
            correct[i, s] = task.grade(problems[i], model.decode(row)).correct
    return torch.cat(toks), correct, time.perf_counter() - t0


def cache_cost(model: Any, task: Any, problems: Sequence[Any], name: str, params: dict, caches: Sequence[str],
               samples: int, k: int, gen_length: int, block_length: int, batch: int,
               n_boot: int = 2000) -> list[CacheCost]:
    """One uncached run and one run per cache mode of the same jobs; the paired comparison."""
    from analysis.passk import estimate_pass_at_k
    from analysis.stats import mean_ci
    from workers.samplers import make_sampler

    sampler = make_sampler(name, **params)
    base_tok, base_ok, base_wall = decode_and_grade(model, task, problems, sampler, samples, gen_length,
                                                    block_length, batch, False)
    n = np.full(len(problems), samples)

    def pk(ok: np.ndarray, kk: int) -> np.ndarray:
        return estimate_pass_at_k(n, ok.sum(1), kk)

    out = []
    for cache in caches:
        tok, ok, wall = decode_and_grade(model, task, problems, sampler, samples, gen_length, block_length,
                                         batch, cache)
        same = tok == base_tok
        out.append(CacheCost(
            sampler=name, cache=cache, tokens_identical=float(same.float().mean()),
            samples_identical=float(same.all(1).float().mean()),
            pass1=(float(pk(base_ok, 1).mean()), float(pk(ok, 1).mean())),
            passk=(float(pk(base_ok, k).mean()), float(pk(ok, k).mean())),
            d_pass1=mean_ci(pk(ok, 1) - pk(base_ok, 1), n_boot=n_boot),
            d_passk=mean_ci(pk(ok, k) - pk(base_ok, k), n_boot=n_boot),
            wall=(base_wall, wall)))
    return out


def _ci(x: tuple[float, float, float]) -> str:
    return f"{x[0]:+.3f} [{x[1]:+.3f}, {x[2]:+.3f}]"


def main(argv: Optional[Sequence[str]] = None) -> list[CacheCost]:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default="tiny")
    ap.add_argument("--task", default="arith")
    ap.add_argument("--problems", type=int, default=40)
    ap.add_argument("--samples", type=int, default=8, help="seeds 0..S-1 per problem")
    ap.add_argument("--k", type=int, default=4, help="Pass@k's k (<= samples)")
    ap.add_argument("--samplers", default=",".join(SAMPLERS), help=f"comma list of: {', '.join(SAMPLERS)}")
    ap.add_argument("--caches", default="prefix", help="comma list of prefix, dual (dual: native LLaDA/Dream)")
    ap.add_argument("--gen-length", type=int, default=None, help="default: the task's")
    ap.add_argument("--block-length", type=int, default=None, help="default: the task's")
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--device", default=None)
    ap.add_argument("--threads", type=int, default=2, help="torch CPU threads")
    args = ap.parse_args(argv)
    if not 1 <= args.k <= args.samples:
        ap.error("--k must be between 1 and --samples")
    torch.set_num_threads(args.threads)
    from sweeps.engine.spec import TaskSpec, select_problems
    from workers.models import load_model
    from workers.tasks import load_task

    model = load_model(args.model, device=args.device)
    task = load_task(args.task)
    problems = select_problems(task.problems, TaskSpec(args.task, limit=args.problems))  # every tier
    gen = args.gen_length or task.gen_length
    block = args.block_length or min(task.block_length, gen)
    caches = [c.strip() for c in args.caches.split(",") if c.strip()]
    print(f"{model.name} on {model.device}; {args.task}: {len(problems)} problems × {args.samples} seeds, "
          f"gen {gen}, block {block}, batch {args.batch}; paired differences cache − none, 95% bootstrap CI "
          "over problems")
    print(f"| sampler | cache | tokens identical | samples identical | Pass@1 none → cache | Δ Pass@1 "
          f"| Pass@{args.k} none → cache | Δ Pass@{args.k} | wall none / cache |")
    print("|---|---|---:|---:|---:|---:|---:|---:|---:|")
    rows: list[CacheCost] = []
    for label in (s.strip() for s in args.samplers.split(",") if s.strip()):
        name, params = SAMPLERS[label]
        for r in cache_cost(model, task, problems, name, params, caches, args.samples, args.k, gen, block,
                            args.batch):
            rows.append(r)
            print(f"| {label} | {r.cache} | {r.tokens_identical:.3f} | {r.samples_identical:.3f} | "
                  f"{r.pass1[0]:.3f} → {r.pass1[1]:.3f} | {_ci(r.d_pass1)} | {r.passk[0]:.3f} → {r.passk[1]:.3f} | "
                  f"{_ci(r.d_passk)} | {r.wall[0]:.1f} s / {r.wall[1]:.1f} s |", flush=True)
    return rows


if __name__ == "__main__":
    main()
