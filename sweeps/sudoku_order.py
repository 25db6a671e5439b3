"""004's decoding-order comparison (Table 7, Table 1, Fig. 2) on the embedded models.

    python sweeps/sudoku_order.py                      # Sudoku on tiny-sudoku + arith on tiny
    python sweeps/sudoku_order.py --smoke              # a few problems, to see it run

On 4×4 Sudoku (``load_task("sudoku")``, ``load_model("tiny-sudoku")``), greedy decoding (τ = 0,
one sample per problem, as 004 Table 7) with: left-to-right; any-order by entropy, confidence
(max probability: ``max_prob``; at τ = 0 the same rule as LLaDA's ``confidence``) and margin over
the whole grid; block any-order (entropy within blocks of 4 = one grid row, and of 8); entropy
decoding 1 / 2 / 4 tokens in parallel (004 Table 1: the k lowest-entropy positions per step,
``med`` with λ = ∞ and k_max = k); and MED (λ = ``--lam``, k_max 4; 004 §4.2).  The same orders on
arith (``tiny``) check the direction of 004's text result: left-to-right competitive there.

Prints, per task, accuracy with a 95% bootstrap CI over problems, mean rounds (NFE), and the
paired-bootstrap difference to left-to-right; writes OUT/sudoku_order.parquet (one row per
problem and configuration) and OUT/sudoku_order.md.
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any, Optional, Sequence

from sweeps.engine.cli import entry
from workers.progname import prog

PARALLEL = float("1e9")  # λ of "k tokens per step": every position qualifies, k_max bounds the count


def configs(gen_length: int, lam: float) -> list[tuple[str, str, dict[str, Any], int]]:
    """(label, sampler, params, block_length) in 004 Table 7 / Table 1 order."""
    g = gen_length
    rows = [("left-to-right", "left_to_right", {}, g),
            ("any-order entropy", "entropy", {}, g),
            ("any-order confidence", "max_prob", {}, g),
            ("any-order margin", "margin", {}, g)]
    for b in (4, 8):
        if b < g and g % b == 0:
            rows.append((f"block any-order ({b}) entropy", "entropy", {}, b))
    rows += [(f"entropy, {k} tokens/step", "med", {"lam": PARALLEL, "k_max": k}, g) for k in (2, 4)]
    rows.append((f"MED λ={lam:g} (k_max 4)", "med", {"lam": lam, "k_max": 4}, g))
    return [(label, name, {**params, "temperature": 0.0}, bl) for label, name, params, bl in rows]


def parse_args(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog=prog("python sweeps/sudoku_order.py"), description=__doc__.splitlines()[0],
                                formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("--model", default="tiny-sudoku", help="model for the sudoku task")
    p.add_argument("--text-model", default="tiny", help="model for the text task (arith); '' to skip")
    p.add_argument("--text-task", default="arith", help="the text task of the comparison")
    p.add_argument("--problems", type=int, default=200, help="sudoku problems per tier (3 tiers)")
    p.add_argument("--text-problems", type=int, default=50, help="text-task problems per tier")
    p.add_argument("--lam", type=float, default=0.1, help="MED entropy cap λ (nats)")
    p.add_argument("--batch", type=int, default=128, help="sequences per generate() call")
    p.add_argument("--threads", type=int, default=1, help="torch CPU threads")
    p.add_argument("--n-boot", type=int, default=2000, help="bootstrap resamples")
    p.add_argument("--out", default="runs/sudoku_order", help="output directory")
    p.add_argument("--smoke", action="store_true", help="6 problems per tier")
    args = p.parse_args(argv)
    for flag in ("problems", "text_problems", "batch", "threads", "n_boot"):
        if getattr(args, flag) < 1:
            p.error(f"--{flag.replace('_', '-')} must be >= 1, got {getattr(args, flag)}")
    if args.lam < 0:
        p.error(f"--lam must be >= 0, got {args.lam}")
    return args


def evaluate(model: Any, task: Any, problems: list, label: str, name: str, params: dict,
             block_length: int, batch: int) -> list[dict[str, Any]]:
    """One greedy decode per problem: correctness and rounds."""
    from workers.samplers import make_sampler

    sampler = make_sampler(name, **params)
    rows = []
    for s in range(0, len(problems), batch):
        chunk = problems[s:s + batch]
        t0 = time.perf_counter()
        out = sampler.generate(model, [model.encode_prompt(p.prompt) for p in chunk], gen_length=task.gen_length,
                               block_length=block_length, seeds=list(range(len(chunk))))
        wall = (time.perf_counter() - t0) / len(chunk)
        for p, toks, tr in zip(chunk, out.tokens, out.traces):
            rows.append({"task": task.name, "config": label, "sampler": name, "block_length": block_length,
                         "problem_id": p.problem_id, "difficulty": p.difficulty,
                         "correct": bool(task.grade(p, model.decode(toks)).correct), "nfe": tr.nfe, "wall_s": wall})
    return rows


def table(rows: list[dict[str, Any]], n_boot: int) -> str:
    """Markdown: accuracy [95% CI], mean NFE, difference to left-to-right [paired 95% CI]."""
    import numpy as np
    import polars as pl

    df = pl.DataFrame(rows)
    out = []
    for (task,), part in df.group_by(["task"], maintain_order=True):
        labels = list(dict.fromkeys(part["config"].to_list()))
        wide = part.pivot(on="config", index="problem_id", values="correct").sort("problem_id")
        base = wide["left-to-right"].cast(pl.Float64).to_numpy()
        rng = np.random.default_rng(0)
        idx = rng.integers(0, len(base), size=(n_boot, len(base)))
        out.append(f"### {task}: {len(base)} problems, greedy (τ = 0), one sample each\n")
        out.append("| decoding | accuracy [95% CI] | mean NFE | − left-to-right [paired 95% CI] |")
        out.append("|---|---|---:|---|")
        for lab in labels:
            v = wide[lab].cast(pl.Float64).to_numpy()
            boots = v[idx].mean(1)
            nfe = part.filter(pl.col("config") == lab)["nfe"].mean()
            cell = "–"
            if lab != "left-to-right":
                d = v - base
                db = d[idx].mean(1)
                lo, hi = np.quantile(db, [0.025, 0.975])
                cell = f"{d.mean():+.3f} [{lo:+.3f}, {hi:+.3f}]" + (" *" if lo > 0 or hi < 0 else "")
            out.append(f"| {lab} | {v.mean():.3f} [{np.quantile(boots, 0.025):.3f}, {np.quantile(boots, 0.975):.3f}] "
                       f"| {nfe:.1f} | {cell} |")
        out.append("")
    out.append("`*`: the paired-bootstrap 95% CI over problems excludes 0.")
    return "\n".join(out) + "\n"


def _main(argv: Optional[Sequence[str]] = None) -> int:
    args = parse_args(argv)
    import polars as pl
    import torch
    from tqdm import tqdm

    from workers.models import load_model
    from workers.tasks import load_task

    torch.set_num_threads(args.threads)
    per_tier = 6 if args.smoke else args.problems
    runs = [(args.model, "sudoku", per_tier)]
    if args.text_model:
        runs.append((args.text_model, args.text_task, 6 if args.smoke else args.text_problems))
    out = Path(args.out)
    if out.exists() and not out.is_dir():
        raise ValueError(f"--out {args.out} is a file, not a directory")
    rows: list[dict[str, Any]] = []
    t0 = time.perf_counter()
    for model_name, task_name, n in runs:
        model, task = load_model(model_name, dtype=torch.float32), load_task(task_name)
        probs = [p for t in task.tiers for p in task.by_difficulty(t)[:n]]
        cfgs = configs(task.gen_length, args.lam)
        # non-TTY (a log file): one line per configuration instead of a redrawn bar
        for label, name, params, bl in tqdm(cfgs, desc=task_name, file=sys.stderr, disable=not sys.stderr.isatty()):
            rows += evaluate(model, task, probs, label, name, params, bl, args.batch)
            if not sys.stderr.isatty():
                print(f"{task_name}: {label} done ({time.perf_counter() - t0:.0f} s)", file=sys.stderr, flush=True)
    out.mkdir(parents=True, exist_ok=True)
    pl.DataFrame(rows).write_parquet(out / "sudoku_order.parquet")
    md = ("# Decoding order on Sudoku vs text (004 Table 7 / Table 1)\n\n"
          f"`python sweeps/sudoku_order.py {' '.join(argv if argv is not None else sys.argv[1:])}` "
          f"({time.perf_counter() - t0:.0f} s, torch threads {args.threads})\n\n" + table(rows, args.n_boot))
    (out / "sudoku_order.md").write_text(md, encoding="utf-8")
    print(md)
    return 0


main = entry(_main)

if __name__ == "__main__":
    raise SystemExit(main())
