"""Trace scoring (004 Fig. 3): decode left to right with the answer-block template, record
φ_t = Σ_answer log p(a*_j | prompt, reasoning so far) at every step, and relate φ at fractions of
the trace to the final answer's correctness (ROC AUC).  Writes OUT/trace_scores.parquet.

    python sweeps/trace_scores.py [--smoke] [--out DIR]
"""
from __future__ import annotations

import argparse
from typing import Optional, Sequence


def auc(scores, labels) -> float:
    """ROC AUC by ranks (ties count half); NaN when only one class is present."""
    import numpy as np

    s, y = np.asarray(scores, float), np.asarray(labels, bool)
    pos, neg = s[y], s[~y]
    if len(pos) == 0 or len(neg) == 0:
        return float("nan")
    wins = (pos[:, None] > neg[None, :]).sum() + 0.5 * (pos[:, None] == neg[None, :]).sum()
    return float(wins / (len(pos) * len(neg)))


def run(args: argparse.Namespace) -> int:
    import polars as pl
    from tqdm import tqdm

    from sweeps.engine.infill_common import (answer_text, batches, ensure_out, expand, problems, template_for,
                                      template_text)
    from workers.models import load_model
    from workers.samplers import make_sampler
    from workers.samplers.infilling import infill, trace_scores
    from workers.tasks import load_task

    n_prob, n_samp = (6, 2) if args.smoke else (args.problems, args.samples)
    out = ensure_out(args.out)
    model, task = load_model(args.model), load_task(args.task)
    tpl = template_for(args.task, args.reasoning_length, args.answer_length, model)
    sampler = make_sampler("left_to_right", temperature=args.temperature)
    rows = []
    probs = problems(task, n_prob)
    with tqdm(total=len(probs) * n_samp, desc="trace scores", unit="trace") as bar:
        for chunk in batches(probs, max(1, 32 // n_samp)):
            prompts, seeds = expand(model, chunk, n_samp)
            res = infill(sampler, model, prompts, tpl, block_length=args.block_length, seeds=seeds)
            for i, tr in enumerate(res.traces):
                pr = chunk[i // n_samp]
                text = template_text(model, res.tokens[i])
                phi = trace_scores(model, prompts[i], res.tokens[i], tr.order, tpl, answer_text(task, pr))
                rows.append(dict(problem_id=pr.problem_id, seed=seeds[i], completion=text,
                                 correct=bool(task.grade(pr, text).correct), phi=phi))
            bar.update(len(prompts))
    df = pl.DataFrame(rows)
    df.write_parquet(out / "trace_scores.parquet")
    print("fraction of reasoning revealed -> AUC of φ for final correctness")
    for frac in (0.0, 0.25, 0.5, 0.75, 1.0):
        at = [p[min(len(p) - 1, round(frac * (len(p) - 1)))] for p in df["phi"].to_list()]
        print(f"  {frac:4.2f}: AUC {auc(at, df['correct'].to_list()):.3f}")
    print(f"accuracy {df['correct'].mean():.3f} over {len(df)} traces; rows: {out / 'trace_scores.parquet'}")
    return 0


def add_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--temperature", type=float, default=1.0, help="(default: %(default)s)")


def main(argv: Optional[Sequence[str]] = None) -> int:
    from sweeps.engine.infill_common import script_main

    return script_main("python sweeps/trace_scores.py", __doc__, "runs/trace_scores", add_args, run, argv)


if __name__ == "__main__":
    raise SystemExit(main())
