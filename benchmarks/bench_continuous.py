"""Continuous vs static batching for samplers whose rows finish at different steps.

    python -m benchmarks.bench_continuous                       # tiny model, arith, batch 32, CPU
    python -m benchmarks.bench_continuous --samples 256 --samplers threshold,med --device cuda --model PATH

The same jobs (problems × seeds) are decoded twice: static, in consecutive batches of ``--batch``
(each runs until its slowest row; ``Sampler.decode`` already drops finished rows, so the batch
narrows), and continuous (workers/batching.py: ``--batch`` slots, a finished row's slot goes to the
next job at once).  Printed: samples/s, model steps (forward calls) per sample, forward rows per
sample (identical by construction: only unfinished rows are forwarded either way), mean rows per
forward (the batch fill), and whether the tokens are identical.  On a GPU a forward of few rows
costs about what a full one does, so the step count is what the fill buys; on a CPU the wall
time mostly follows the rows, and the gain is only the per-step overhead.
"""
from __future__ import annotations

import argparse
import time
from typing import Any, Optional, Sequence

import torch

SAMPLERS: dict[str, tuple[str, dict[str, Any]]] = {
    "threshold": ("threshold", {"threshold": 0.9, "temperature": 1.0}),
    "med": ("med", {"lam": 0.2, "k_max": 32, "temperature": 1.0}),
    "factor": ("factor", {"factor": 1.0, "temperature": 1.0}),
    "eb": ("eb", {"gamma": 0.5, "temperature": 1.0}),
}


def compare(model: Any, prompts: Sequence[Sequence[int]], seeds: Sequence[int], sampler: Any, gen_length: int,
            block_length: int, batch: int) -> dict[str, Any]:
    """Static chunks of ``batch`` vs ``batch`` continuous slots over the same jobs."""
    from workers.batching import generate_continuous

    sync = torch.cuda.synchronize if getattr(model, "device", torch.device("cpu")).type == "cuda" else (lambda: None)
    n = len(prompts)
    steps = 0
    sync()
    t0 = time.perf_counter()
    static = []
    for b in range(0, n, batch):
        out = sampler.generate(model, prompts[b:b + batch], gen_length, block_length, seeds[b:b + batch])
        steps += max(t.nfe for t in out.traces)
        static.append(out)
    sync()
    t_static = time.perf_counter() - t0
    rows_static = sum(t.forward_rows for o in static for t in o.traces)
    t0 = time.perf_counter()
    cont, stats = generate_continuous(sampler, model, prompts, gen_length, block_length, seeds, width=batch)
    sync()
    t_cont = time.perf_counter() - t0
    # identical samples: compare each static chunk with the continuous rows of the same jobs
    same = all(torch.equal(o.tokens, cont.tokens[b * batch:b * batch + o.tokens.shape[0]])
               for b, o in enumerate(static))
    return {"n": n, "t_static": t_static, "t_cont": t_cont, "steps_static": steps, "steps_cont": stats.forwards,
            "rows_static": rows_static, "rows_cont": stats.rows, "identical": same}


def main(argv: Optional[Sequence[str]] = None) -> list[dict]:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default="tiny")
    ap.add_argument("--task", default="arith")
    ap.add_argument("--samples", type=int, default=128, help="jobs in all (problems × seeds)")
    ap.add_argument("--seeds", type=int, default=4, help="seeds per problem")
    ap.add_argument("--samplers", default="threshold,med", help=f"comma list of: {', '.join(SAMPLERS)}")
    ap.add_argument("--batch", type=int, default=32, help="static batch size = continuous slots")
    ap.add_argument("--gen-length", type=int, default=None)
    ap.add_argument("--block-length", type=int, default=None)
    ap.add_argument("--device", default=None)
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)
    from sweeps.engine.spec import TaskSpec, select_problems
    from workers.models import load_model
    from workers.samplers import make_sampler
    from workers.tasks import load_task

    model = load_model(args.model, device=args.device)
    task = load_task(args.task)
    problems = select_problems(task.problems, TaskSpec(args.task, limit=-(-args.samples // args.seeds)))
    jobs = [(p, s) for p in problems for s in range(args.seeds)][:args.samples]
    # shuffled like the driver's fixed pseudo-random batch order: neighbours of mixed difficulty
    jobs = [jobs[i] for i in torch.randperm(len(jobs), generator=torch.Generator().manual_seed(0)).tolist()]
    prompts = [model.encode_prompt(p.prompt) for p, _ in jobs]
    seeds = [s for _, s in jobs]
    gen = args.gen_length or task.gen_length
    block = args.block_length or min(task.block_length, gen)
    print(f"{model.name} on {model.device}; {args.task}, {len(jobs)} samples, gen {gen}, block {block}, "
          f"batch / slots {args.batch}")
    print("| sampler | samples/s static | samples/s continuous | ratio | steps/sample static → continuous "
          "| forward rows/sample | rows/forward static → continuous | identical |")
    print("|---|---:|---:|---:|---:|---:|---:|---|")
    out = []
    for label in (s.strip() for s in args.samplers.split(",") if s.strip()):
        name, params = SAMPLERS[label]
        sampler = make_sampler(name, **params)
        r = compare(model, prompts, seeds, sampler, gen, block, args.batch)
        n = r["n"]
        print(f"| {label} | {n / r['t_static']:.1f} | {n / r['t_cont']:.1f} | {r['t_static'] / r['t_cont']:.2f}x | "
              f"{r['steps_static'] / n:.2f} → {r['steps_cont'] / n:.2f} | {r['rows_static'] / n:.1f} / "
              f"{r['rows_cont'] / n:.1f} | {r['rows_static'] / r['steps_static']:.1f} → "
              f"{r['rows_cont'] / r['steps_cont']:.1f} | {r['identical']} |", flush=True)
        out.append({"sampler": label, **r})
    return out


if __name__ == "__main__":
    main()
