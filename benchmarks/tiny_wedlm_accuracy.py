"""Greedy Pass@1 of a tiny WeDLM on the arith test set, per position rule (the figures of
``workers/tinymodel/wedlm/TRAINING.md``).

    python -m benchmarks.tiny_wedlm_accuracy                         # tiny-wedlm, first 60 problems per tier
    python -m benchmarks.tiny_wedlm_accuracy --model DIR --problems 200

Each rule decodes in WeDLM's streaming window (W = 16) at τ = 0, one sample per problem, seeds
fixed: ``wedlm`` (the engine's rule: entropy + distance penalty, threshold-parallel; its forward
count per token is printed too), and 000's one-token baselines ``entropy`` (WeDLM's default, 000's
entropy†) and ``confidence``.
"""
from __future__ import annotations

import argparse
import time
from typing import Optional, Sequence

import torch


def main(argv: Optional[Sequence[str]] = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--model", default="tiny-wedlm")
    p.add_argument("--problems", type=int, default=60, help="first N arith test problems per tier")
    p.add_argument("--rules", default="wedlm,entropy,confidence")
    p.add_argument("--threads", type=int, default=1)
    a = p.parse_args(argv)
    torch.set_num_threads(a.threads)
    from workers.models import load_model
    from workers.samplers import make_sampler
    from workers.tasks import load_task

    m = load_model(a.model, device="cpu")
    task = load_task("arith")
    print(f"{a.model}: greedy Pass@1 on the first {a.problems} arith test problems per tier (τ 0, window "
          f"{m.stream_window})")
    for rule in a.rules.split(","):
        t0, cells, nfe, toks = time.time(), [], 0, 0
        for tier in task.tiers:
            probs = task.by_difficulty(tier)[:a.problems]
            res = make_sampler(rule, temperature=0.0).generate(
                m, [m.encode_prompt(q.prompt) for q in probs], gen_length=task.gen_length,
                block_length=task.block_length, seeds=list(range(len(probs))))
            ok = [task.grade(q, m.decode(t)).correct for q, t in zip(probs, res.tokens)]
            cells.append(f"{tier} {sum(ok) / len(ok):.3f}")
            nfe += sum(tr.nfe for tr in res.traces)
            toks += len(probs) * task.gen_length
        print(f"  {rule:<11} " + " / ".join(cells) + f"   (forwards per token {nfe / toks:.2f}, "
              f"{time.time() - t0:.0f} s)")


if __name__ == "__main__":
    main()
