"""Posterior sampling of reasoning given the answer (004 §5.1): pre-fill the answer block with the
reference answer and let a sampler fill the reasoning; writes OUT/posterior.parquet (problem_id,
prompt, answer, trace, seed, nfe, reasoning_valid) as a dataset for fine-tuning elsewhere.
``reasoning_valid`` says whether the sampled reasoning alone derives the answer (the task's
``reasoning_supports`` check, e.g. arith replays the chain); null for tasks without one.  (Grading
trace + answer would be pointless: the answer block is pre-filled with the reference.)

    python sweeps/posterior.py [--sampler random] [--temperature 1] [--smoke] [--out DIR]
"""
from __future__ import annotations

import argparse
from typing import Optional, Sequence


def run(args: argparse.Namespace) -> int:
    import polars as pl
    from tqdm import tqdm

    from sweeps.engine.infill_common import (answer_text, batches, ensure_out, expand, problems, template_for,
                                      template_text)
    from workers.models import load_model
    from workers.samplers import make_sampler
    from workers.samplers.infilling import infill
    from workers.tasks import load_task

    n_prob, n_samp = (6, 2) if args.smoke else (args.problems, args.samples)
    out = ensure_out(args.out)
    model, task = load_model(args.model), load_task(args.task)
    tpl = template_for(args.task, args.reasoning_length, args.answer_length, model)
    sampler = make_sampler(args.sampler, temperature=args.temperature)
    check = getattr(task, "reasoning_supports", None)
    rows = []
    probs = problems(task, n_prob)
    with tqdm(total=len(probs) * n_samp, desc="posterior", unit="trace") as bar:
        for chunk in batches(probs, max(1, 32 // n_samp)):
            prompts, seeds = expand(model, chunk, n_samp)
            answers = [answer_text(task, p) for p in chunk for _ in range(n_samp)]
            res = infill(sampler, model, prompts, tpl, block_length=args.block_length, seeds=seeds,
                         answers=answers)
            for i, tr in enumerate(res.traces):
                pr = chunk[i // n_samp]
                text = template_text(model, res.tokens[i])
                reasoning = template_text(model, res.tokens[i][:tpl.reasoning_length])
                valid = check(pr, reasoning) if check is not None else None
                rows.append(dict(problem_id=pr.problem_id, prompt=pr.prompt, answer=pr.reference,
                                 trace=text, seed=seeds[i], nfe=tr.nfe, reasoning_valid=valid))
            bar.update(len(prompts))
    df = pl.DataFrame(rows, schema_overrides={"reasoning_valid": pl.Boolean})
    df.write_parquet(out / "posterior.parquet")
    if check is not None:
        print(f"{len(df)} traces, {df['reasoning_valid'].mean():.3f} of them derive the answer")
    else:
        print(f"{len(df)} traces ({args.task} has no reasoning check: reasoning_valid is null)")
    print(f"dataset: {out / 'posterior.parquet'}")
    return 0


def add_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--sampler", default="random", help="sampler for the reasoning (default: %(default)s)")
    p.add_argument("--temperature", type=float, default=1.0, help="(default: %(default)s)")


def main(argv: Optional[Sequence[str]] = None) -> int:
    from sweeps.engine.infill_common import script_main

    return script_main("python sweeps/posterior.py", __doc__, "runs/posterior", add_args, run, argv)


if __name__ == "__main__":
    raise SystemExit(main())
