"""Tune ETE's knobs (and the baselines' threshold / factor) on a task's train split, then run them
on its test split (002 §5.4's protocol), on the embedded default; prints train and test tables.

    python sweeps/ete_tune.py [--task arith] [--train-problems 24] [--test-problems 40] [--trials 5]
                              [--thresholds 0.5,0.7,0.9] [--factors 0.5,1,2] [--tolerance 0.02]
                              [--smoke] [--out DIR]

002 §5.4 holds ETE's hyperparameters "fixed (tuned on the GSM8K training set)" and varies the
confidence threshold on the test sets, against Fast-dLLM's threshold rule over the same grid.
Here, all decoding greedy (τ = 0, as 002 §4.3; one sample per problem):

1. train (OUT/train): the threshold rule over ``--thresholds``, the factor rule over ``--factors``,
   and ETE over ``--trials`` knob settings × ``--thresholds``: trial 0 is the sampler's defaults,
   the others are seeded random draws (``--tune-seed``) from ``SPACE`` (budget S, extra rounds E,
   explore threshold, min masked, beam ≤ 4 (002 §5.2's "free lunch" batch), target confidence,
   position bias, λ), on the task's train split (problems disjoint from the test set).
2. choose, per sampler, on train only: the configuration with the fewest mean forwards (NFE)
   among those whose train accuracy is within ``--tolerance`` of that sampler's best (ties:
   higher accuracy): 002's aim, fewer rounds without losing accuracy.
3. test (OUT/test-spec.yaml, then OUT/test): a spec on the test split with the threshold and
   factor grids and ETE over the threshold grid with its other knobs fixed at the chosen values
   (002's "ETE (Standard)"); the tuned point of each sampler is marked.  CIs are 95% bootstrap
   over problems (the problem is the unit).  OUT/tuning.json keeps the choice and both tables.
Rerunning resumes both sweeps; the test spec is an ordinary spec (``python -m sweeps.run``).
"""
from __future__ import annotations

import argparse
import copy
import json
import random
from pathlib import Path
from typing import Any, Optional, Sequence

from sweeps.engine.cli import EPILOG, add_run_args, entry, execute
from sweeps.engine.spec import SamplerSpec, SpecError, SweepSpec, TaskSpec, load_spec
from workers.progname import prog

# ETE's knobs beyond the threshold and the values tried (random search over this grid).
SPACE: dict[str, list[Any]] = {
    "budget": [2, 4, 8],
    "extra_rounds": [0, 2, 4],
    "explore_threshold": [0.5, 0.6, 0.8],
    "min_masked": [2, 4],
    "beam": [2, 3, 4],                 # ≤ 4: within 002 §5.2's free-lunch batch
    "target_conf": [0.3, 0.5, 0.7],
    "position_bias": [0.0, 0.01, 0.05],
    "lam": [0.5, 1.0, 2.0],
}
GREEDY = {"temperature": 0.0}


def _floats(text: str) -> list[float]:
    return [float(x) for x in text.split(",") if x.strip()]


def draw_trials(n: int, seed: int) -> list[dict[str, Any]]:
    """``n`` distinct ETE knob settings: the sampler's defaults first, then seeded draws from SPACE."""
    from workers.samplers import make_sampler

    defaults = make_sampler("ete").params
    trials = [{k: defaults[k] for k in SPACE}]
    rng = random.Random(seed)
    space_size = 1
    for v in SPACE.values():
        space_size *= len(v)
    while len(trials) < min(n, space_size):
        t = {k: rng.choice(v) for k, v in SPACE.items()}
        if t not in trials:
            trials.append(t)
    return trials[:n]


def train_spec(args: argparse.Namespace, trials: list[dict[str, Any]]) -> SweepSpec:
    thr, fac = args.thresholds, args.factors
    samplers = [SamplerSpec("threshold", grid={"threshold": thr}, params=dict(GREEDY)),
                SamplerSpec("factor", grid={"factor": fac}, params=dict(GREEDY))]
    samplers += [SamplerSpec("ete", grid={"threshold": thr}, params={**t, **GREEDY}) for t in trials]
    task = TaskSpec(args.task, limit=args.train_problems,
                    args={"split": "train", "n": max(200, 4 * args.train_problems)})
    return SweepSpec(name=f"{args.name}-train", models=[args.model], tasks=[task], samplers=samplers,
                     samples=1, batch_size=32)


def per_config(out: str) -> Any:
    """One row per (sampler, params): accuracy and mean NFE, each averaged over problems (problem
    means first, so a configuration with several seeds still counts each problem once)."""
    import polars as pl

    from analysis import load_samples

    s = load_samples(out).collect()
    per_problem = (s.group_by(["sampler", "params", "problem_id"])
                   .agg(pl.col("correct").cast(pl.Float64).mean(), pl.col("nfe").cast(pl.Float64).mean()))
    return (per_problem.group_by(["sampler", "params"])
            .agg(pl.col("correct").mean().alias("accuracy"), pl.col("nfe").mean().alias("mean_nfe"),
                 pl.len().alias("problems"))
            .sort(["sampler", "params"]))


def choose(res: Any, tolerance: float) -> dict[str, dict[str, Any]]:
    """Per sampler: the fewest mean NFE among configurations whose accuracy is within
    ``tolerance`` of the sampler's best (ties: higher accuracy, then the params text)."""
    chosen: dict[str, dict[str, Any]] = {}
    for name in sorted(set(res["sampler"])):
        rows = [r for r in res.iter_rows(named=True) if r["sampler"] == name]
        best = max(r["accuracy"] for r in rows)
        ok = [r for r in rows if r["accuracy"] >= best - tolerance - 1e-12]
        pick = min(ok, key=lambda r: (r["mean_nfe"], -r["accuracy"], r["params"]))
        chosen[name] = {"params": json.loads(pick["params"]), "train_accuracy": pick["accuracy"],
                        "train_mean_nfe": pick["mean_nfe"], "train_problems": pick["problems"]}
    return chosen


def held_out_spec(args: argparse.Namespace, chosen: dict[str, dict[str, Any]]) -> SweepSpec:
    """The test-split spec: both baselines' grids and ETE over the threshold grid with its other
    knobs at the tuned values (002 §5.4's "ETE (Standard)")."""
    ete = {k: v for k, v in chosen["ete"]["params"].items() if k != "threshold"}
    thr = sorted(set(args.thresholds) | {chosen["threshold"]["params"]["threshold"],
                                          chosen["ete"]["params"]["threshold"]})
    fac = sorted(set(args.factors) | {chosen["factor"]["params"]["factor"]})
    samplers = [SamplerSpec("threshold", grid={"threshold": thr}, params=dict(GREEDY)),
                SamplerSpec("factor", grid={"factor": fac},
                            params={k: v for k, v in chosen["factor"]["params"].items() if k != "factor"}),
                SamplerSpec("ete", grid={"threshold": thr}, params=ete)]
    return SweepSpec(name=f"{args.name}-test", models=[args.model],
                     tasks=[TaskSpec(args.task, limit=args.test_problems)], samplers=samplers,
                     samples=1, batch_size=32)


def write_spec(spec: SweepSpec, path: Path, header: str) -> None:
    import yaml

    text = yaml.safe_dump(spec.to_dict(), sort_keys=False, default_flow_style=None)
    path.write_text("".join(f"# {line}\n" for line in header.splitlines()) + text, encoding="utf-8")


def problem_ci_table(s: Any, by: list[str], n_boot: int = 2000) -> Any:
    """Per group of ``by``: accuracy and mean NFE with 95% bootstrap CIs over problems (each
    problem's mean over its samples first: the problem is the unit; a fixed problem order, so the
    same rows give the same CIs)."""
    import polars as pl

    from analysis.stats import mean_ci

    rows = []
    for key, g in s.group_by(by):
        pp = (g.group_by("problem_id").agg(pl.col("correct").cast(pl.Float64).mean(),
                                           pl.col("nfe").cast(pl.Float64).mean())
              .sort("problem_id"))
        acc, alo, ahi = mean_ci(pp["correct"].to_numpy(), n_boot=n_boot)
        nfe, nlo, nhi = mean_ci(pp["nfe"].to_numpy(), n_boot=n_boot)
        rows.append(dict(zip(by, key), problems=pp.height, accuracy=acc, acc_low=alo, acc_high=ahi,
                         mean_nfe=nfe, nfe_low=nlo, nfe_high=nhi))
    return pl.DataFrame(rows).sort(by)


def held_out_table(out: str, chosen: dict[str, dict[str, Any]], n_boot: int = 2000) -> Any:
    """Per test configuration: accuracy and mean NFE with 95% bootstrap CIs over problems; the
    tuned configuration of each sampler marked."""
    import polars as pl

    from analysis import load_samples

    t = problem_ci_table(load_samples(out).collect(), ["sampler", "params"], n_boot)
    knob = [json.loads(p).get("factor" if n == "factor" else "threshold") for n, p in zip(t["sampler"], t["params"])]
    tuned = [json.loads(p) == chosen[n]["params"] for n, p in zip(t["sampler"], t["params"])]
    t = t.with_columns(pl.Series("knob", knob, dtype=pl.Float64), pl.Series("tuned", tuned))
    return (t.select(["sampler", "knob", "tuned", "problems", "accuracy", "acc_low", "acc_high",
                      "mean_nfe", "nfe_low", "nfe_high"]).sort(["sampler", "knob"]))


def summary(chosen: dict[str, dict[str, Any]], test: Any) -> Any:
    """One row per sampler: the tuned knobs, their train figures and their test figures."""
    import polars as pl

    rows = []
    for name, c in chosen.items():
        t = test.filter((pl.col("sampler") == name) & pl.col("tuned")).row(0, named=True)
        shown = {k: v for k, v in c["params"].items() if k in SPACE or k in ("threshold", "factor")}
        rows.append(dict(sampler=name, knobs=json.dumps(shown, separators=(",", ":")),
                         train_acc=c["train_accuracy"], train_nfe=c["train_mean_nfe"],
                         test_acc=t["accuracy"], test_acc_ci=f"[{t['acc_low']:.2f}, {t['acc_high']:.2f}]",
                         test_nfe=t["mean_nfe"]))
    return pl.DataFrame(rows)


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog=prog("python sweeps/ete_tune.py"), description=__doc__.split("\n\n")[0],
                                epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    g = p.add_argument_group("tuning")
    g.add_argument("--model", default="tiny", help="preset, local checkpoint dir or hub id (default: tiny)")
    g.add_argument("--task", default="arith",
                   help="a task with a train split (countdown, arith, sudoku) (default: %(default)s)")
    g.add_argument("--train-problems", type=int, default=24, metavar="N", help="train problems (default: 24; smoke: 3)")
    g.add_argument("--test-problems", type=int, default=40, metavar="N", help="test problems (default: 40; smoke: 3)")
    g.add_argument("--trials", type=int, default=5, metavar="N",
                   help="ETE knob settings tried, defaults included (default: 5; smoke: 2)")
    g.add_argument("--thresholds", default="0.5,0.7,0.9", help="threshold grid (default: %(default)s)")
    g.add_argument("--factors", default="0.5,1,2", help="factor grid (default: %(default)s)")
    g.add_argument("--tolerance", type=float, default=0.02,
                   help="accuracy given up for fewer forwards when choosing (default: %(default)s)")
    g.add_argument("--tune-seed", type=int, default=0, help="seed of the random knob draws (default: 0)")
    g.add_argument("--name", default="ete-tune", help="sweep name prefix (default: %(default)s)")
    add_run_args(p, default_out="runs/ete-tune")
    return p


def _main(argv: Optional[Sequence[str]]) -> int:
    args = _parser().parse_args(argv)
    args.thresholds, args.factors = _floats(args.thresholds), _floats(args.factors)
    if args.smoke:
        args.train_problems, args.test_problems, args.trials = 3, 3, 2
        args.thresholds, args.factors = args.thresholds[-2:], args.factors[1:2]
        args.name = f"{args.name}-smoke"
        if args.out == "runs/ete-tune":
            args.out = "runs/ete-tune-smoke"
    for flag in ("train_problems", "test_problems", "trials"):
        if getattr(args, flag) < 1:
            raise SpecError(f"--{flag.replace('_', '-')} must be >= 1, got {getattr(args, flag)}")
    if not args.thresholds or not args.factors or args.tolerance < 0:
        raise SpecError("--thresholds and --factors need values and --tolerance must be >= 0")
    out = Path(args.out)
    if getattr(args, "dry_run", False):
        return execute(train_spec(args, draw_trials(args.trials, args.tune_seed)), args)

    from sweeps.engine.driver import connect

    started, _ = connect(args.address, print)          # one Ray for both sweeps
    try:
        return _tune(args, out)
    finally:
        if started:
            import ray

            ray.shutdown()


def _tune(args: argparse.Namespace, out: Path) -> int:
    import polars as pl

    train = copy.copy(args)
    train.out, train.no_report = str(out / "train"), True
    status = execute(train_spec(args, draw_trials(args.trials, args.tune_seed)), train)
    if status:
        return status
    res = per_config(train.out)
    chosen = choose(res, args.tolerance)
    spec = held_out_spec(args, chosen)
    spec_path = out / "test-spec.yaml"
    write_spec(spec, spec_path, f"written by sweeps/ete_tune.py: knobs tuned on {args.task}'s train split "
               f"({args.train_problems} problems, tolerance {args.tolerance}),\nrun on its test split "
               f"(002 §5.4): python -m sweeps.run {spec_path} --out {out / 'test'}")
    test = copy.copy(args)
    test.out = str(out / "test")
    status = execute(load_spec(spec_path), test)
    if status:
        return status
    table = held_out_table(test.out, chosen)
    summ = summary(chosen, table)
    (out / "tuning.json").write_text(json.dumps(
        {"task": args.task, "model": args.model, "tolerance": args.tolerance, "chosen": chosen,
         "train": res.to_dicts(), "test": table.to_dicts()}, indent=1, default=str), encoding="utf-8")
    with pl.Config(tbl_rows=-1, tbl_cols=-1, tbl_width_chars=250, fmt_str_lengths=200, float_precision=3):
        print(f"train ({args.task} train split, {res['problems'].max()} problems, greedy):")
        print(res.sort(["sampler", "mean_nfe"]))
        print(f"test ({args.task} test split; 95% bootstrap CIs over problems):")
        print(table)
        print("tuned on train, scored on test:")
        print(summ)
    print(f"spec: {spec_path}\ntuning: {out / 'tuning.json'}")
    return 0


main = entry(_main)

if __name__ == "__main__":
    raise SystemExit(main())
