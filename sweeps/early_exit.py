"""Early exit by the answer-entropy bound (004 §4.1, Table 2 analogue): γ grid × {one-token
entropy, MED λ grid} with the answer-block template on the embedded default; prints accuracy and
mean NFE per (sampler, γ) with the accuracy change against γ = 0 (paired bootstrap 95% CI over
problems: each problem's mean over its samples first, the problem is the unit), and writes
OUT/early_exit.parquet and OUT/early_exit.png.  Every configuration here is greedy (004 decodes
greedily), hence deterministic: it runs one sample per problem whatever ``--samples`` says.

    python sweeps/early_exit.py [--gammas 0,0.5,1,2] [--lams 0.1,0.3] [--smoke] [--out DIR]
"""
from __future__ import annotations

import argparse
import time
from typing import Any, Optional, Sequence


def _floats(text: str) -> list[float]:
    return [float(x) for x in text.split(",") if x.strip()]


def run(args: argparse.Namespace) -> int:
    import polars as pl
    from tqdm import tqdm

    from sweeps.engine.infill_common import (batches, ensure_out, expand, med_k_max, problems, template_text,
                                      template_for)
    from workers.models import load_model
    from workers.samplers import make_sampler
    from workers.samplers.infilling import infill
    from workers.tasks import load_task

    gammas, lams = _floats(args.gammas), _floats(args.lams)
    if any(g < 0 for g in gammas):
        raise ValueError("gammas must be >= 0")
    if 0.0 not in gammas:
        gammas = [0.0] + gammas                       # the no-exit baseline the CIs compare with
    n_prob, n_samp = (6, 2) if args.smoke else (args.problems, args.samples)
    out = ensure_out(args.out)
    model, task = load_model(args.model), load_task(args.task)
    tpl = template_for(args.task, args.reasoning_length, args.answer_length, model)
    tpl.layout(model)                                  # one-line error if the tokenizer can't encode it
    configs = [("entropy", {"temperature": 0.0})] + [("med", {"lam": l, "k_max": med_k_max(args.task), "temperature": 0.0}) for l in lams]
    probs = problems(task, n_prob)
    samplers = [(name, params, make_sampler(name, **params)) for name, params in configs]
    # a deterministic (greedy) configuration's samples would be identical copies: one per problem
    n_of = {name + str(params): 1 if smp.deterministic else n_samp for name, params, smp in samplers}
    if n_samp > 1 and any(n == 1 for n in n_of.values()):
        print(f"note: greedy configurations are deterministic: one sample per problem, not {n_samp}")
    rows = []
    bar = tqdm(total=sum(n_of.values()) * len(gammas) * len(probs), desc="early exit", unit="sample")
    for name, params, sampler in samplers:
        n = n_of[name + str(params)]
        for gamma in gammas:
            for chunk in batches(probs, max(1, 32 // n)):
                prompts, seeds = expand(model, chunk, n)
                t0 = time.perf_counter()
                res = infill(sampler, model, prompts, tpl, block_length=args.block_length, seeds=seeds,
                             gamma=gamma)
                wall = (time.perf_counter() - t0) / len(prompts)
                for i, tr in enumerate(res.traces):
                    pr = chunk[i // n]
                    text = template_text(model, res.tokens[i])
                    g = task.grade(pr, text)
                    rows.append(dict(problem_id=pr.problem_id, difficulty=pr.difficulty, sampler=name,
                                     params=str(sorted(params.items())), lam=params.get("lam"),
                                     gamma=gamma, seed=seeds[i], completion=text, correct=bool(g.correct),
                                     nfe=tr.nfe, exit_step=tr.exit_step, wall_s=wall,
                                     h_ub_at_exit=tr.extra.get("h_ub_at_exit")))
                bar.update(len(prompts))
    bar.close()
    df = pl.DataFrame(rows, infer_schema_length=None)  # exit_step etc. are None until a sample exits
    df.write_parquet(out / "early_exit.parquet")
    table = summarize(df)
    with pl.Config(tbl_rows=-1, tbl_cols=-1, fmt_str_lengths=60, tbl_width_chars=250):
        print(table)
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, ax = plt.subplots(figsize=(6, 4))
    for (name, params), grp in table.group_by(["sampler", "params"]):
        grp = grp.sort("gamma")
        ax.plot(grp["mean_nfe"], grp["accuracy"], "o-", label=f"{name} {params}")
        for g, x, y in zip(grp["gamma"], grp["mean_nfe"], grp["accuracy"]):
            ax.annotate(f"γ={g:g}", (x, y), fontsize=7)
    ax.set_xlabel("mean NFE"); ax.set_ylabel("accuracy"); ax.legend(fontsize=7)
    ax.set_title(f"early exit on {args.task} ({args.model})")
    fig.tight_layout(); fig.savefig(out / "early_exit.png", dpi=120)
    print(f"rows: {out / 'early_exit.parquet'}\nplot: {out / 'early_exit.png'}")
    return 0


def summarize(df: Any, n_boot: int = 2000) -> Any:
    """Per (sampler, params, γ): accuracy, mean NFE, exit share and the accuracy change against
    γ = 0 with its paired bootstrap 95% CI.  The problem is the unit: each problem's mean over its
    samples first, then means and CIs over problems (identical greedy copies add nothing)."""
    import polars as pl

    from analysis.stats import mean_ci

    cfg = ["sampler", "params", "gamma"]
    pp = (df.group_by(cfg + ["problem_id"])
          .agg(pl.col("correct").cast(pl.Float64).mean(), pl.col("nfe").cast(pl.Float64).mean(),
               pl.col("exit_step").is_not_null().cast(pl.Float64).mean().alias("exited")))
    table = (pp.group_by(cfg)
             .agg(pl.col("correct").mean().alias("accuracy"), pl.col("nfe").mean().alias("mean_nfe"),
                  pl.col("exited").mean(), pl.len().alias("problems"))
             .sort(cfg))
    diffs = []
    for (name, params, gamma), grp in pp.group_by(cfg):
        base = pp.filter((pl.col("sampler") == name) & (pl.col("params") == params) & (pl.col("gamma") == 0.0))
        joined = base.select(["problem_id", "correct"]).join(grp.select(["problem_id", "correct"]),
                                                             on="problem_id", suffix="_g")
        joined = joined.sort("problem_id")            # a fixed order: the same bootstrap every run
        d, lo, hi = mean_ci(joined["correct_g"].to_numpy() - joined["correct"].to_numpy(), n_boot=n_boot)
        diffs.append(dict(sampler=name, params=params, gamma=gamma, acc_change=d, ci_low=lo, ci_high=hi))
    return table.join(pl.DataFrame(diffs), on=cfg).sort(cfg)


def add_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--gammas", default="0,0.5,1,2", help="exit thresholds γ in nats (default: %(default)s)")
    p.add_argument("--lams", default="0.1,0.3", help="MED λ grid (default: %(default)s)")


def main(argv: Optional[Sequence[str]] = None) -> int:
    from sweeps.engine.infill_common import script_main

    return script_main("python sweeps/early_exit.py", __doc__, "runs/early_exit", add_args, run, argv)


if __name__ == "__main__":
    raise SystemExit(main())
