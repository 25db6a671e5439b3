"""Pass@1 vs Pass@k frontier: one-token samplers over a temperature grid (+ IMH over α).

With no arguments: the embedded tiny model on the bundled tasks, 16 samples per problem, in
under 10 minutes on 2 CPU cores; shards in runs/pareto/shards, then the analysis report
(Pass@1-vs-Pass@k frontier plot).  The paper's experiment (000 Fig. 3 left):

    python sweeps/pareto.py --model GSAI-ML/LLaDA-8B-Instruct --task math500 \\
        --problems 500 --samples 32 --out s3://bucket/pareto-llada
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Optional, Sequence

if __package__ in (None, ""):  # run as `python sweeps/pareto.py`: import from the checkout root,
    sys.path[0] = str(Path(__file__).resolve().parent.parent)  # not sweeps/ (spec.py etc. would shadow)

from sweeps.cli import EPILOG, add_run_args, execute, main_guard
from sweeps.spec import SamplerSpec, SpecError, SweepSpec, TaskSpec

ONE_TOKEN = ("random", "confidence", "entropy", "margin")
TEMPERATURES = (0.5, 1.0, 1.5)
ALPHAS = (1.0, 2.0, 4.0)
DEFAULTS = dict(model="tiny", tasks="countdown,arith", problems=6, samples=16)
SMOKE = dict(problems=3, samples=4, temperatures=(0.5, 1.0), alphas=(2.0,))


def _floats(text: str) -> tuple[float, ...]:
    try:
        vals = tuple(float(x) for x in text.split(",") if x.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated numbers, got {text!r}") from None
    if not vals:
        raise argparse.ArgumentTypeError("expected at least one number")
    return vals


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python sweeps/pareto.py",
        description="Sweep the one-token samplers (random, confidence, entropy, margin) over a\n"
                    "temperature grid, and IMH over an alpha grid when it is available, with many\n"
                    "samples per problem; then plot Pass@1 against Pass@k (the Pareto frontier).",
        epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    g = p.add_argument_group("sweep")
    g.add_argument("--model", default=DEFAULTS["model"],
                   help="preset (tiny), local checkpoint dir or hub id (default: tiny)")
    g.add_argument("--task", default=DEFAULTS["tasks"],
                   help="comma-separated task names (default: countdown,arith)")
    g.add_argument("--problems", type=int, default=None, metavar="N",
                   help=f"problems per task, spread over difficulty tiers (default: {DEFAULTS['problems']}; "
                        f"smoke: {SMOKE['problems']})")
    g.add_argument("--samples", type=int, default=None, metavar="N",
                   help=f"samples (seeds) per problem and setting (default: {DEFAULTS['samples']}; "
                        f"smoke: {SMOKE['samples']})")
    g.add_argument("--samplers", default=",".join(ONE_TOKEN),
                   help="comma-separated one-token samplers (default: %(default)s)")
    g.add_argument("--temperatures", type=_floats, default=None, metavar="T1,T2,..",
                   help=f"temperature grid (default: {','.join(map(str, TEMPERATURES))})")
    g.add_argument("--alphas", type=_floats, default=None, metavar="A1,A2,..",
                   help=f"IMH alpha grid, used when the imh sampler exists (default: "
                        f"{','.join(map(str, ALPHAS))})")
    g.add_argument("--no-imh", action="store_true", help="leave IMH out")
    g.add_argument("--gen-length", type=int, default=None, help="default: each task's own")
    g.add_argument("--block-length", type=int, default=None, help="default: each task's own")
    g.add_argument("--name", default="pareto", help="sweep name (part of every job id)")
    add_run_args(p, default_out="runs/pareto")
    return p


def build_spec(args: argparse.Namespace) -> SweepSpec:
    """The sweep spec the arguments describe."""
    from workers.samplers import SAMPLERS

    smoke = args.smoke
    problems = args.problems or (SMOKE["problems"] if smoke else DEFAULTS["problems"])
    samples = args.samples or (SMOKE["samples"] if smoke else DEFAULTS["samples"])
    temps = args.temperatures or (SMOKE["temperatures"] if smoke else TEMPERATURES)
    alphas = args.alphas or (SMOKE["alphas"] if smoke else ALPHAS)
    if samples < 1 or problems < 1:
        raise SpecError("--samples and --problems must be >= 1")
    names = [s.strip() for s in args.samplers.split(",") if s.strip()]
    samplers = [SamplerSpec(n, grid={"temperature": list(temps)}) for n in names]
    if "imh" in SAMPLERS and not args.no_imh:
        samplers.append(SamplerSpec("imh", grid={"alpha": list(alphas)}))
    tasks = [TaskSpec(t.strip(), limit=problems, gen_length=args.gen_length, block_length=args.block_length)
             for t in args.task.split(",") if t.strip()]
    name = f"{args.name}-smoke" if smoke else args.name
    return SweepSpec(name=name, models=[args.model], tasks=tasks, samplers=samplers,
                     samples=samples, batch_size=32)


def _main(argv: Optional[Sequence[str]]) -> int:
    args = parser().parse_args(argv)
    if args.smoke and args.out == "runs/pareto":
        args.out = "runs/pareto-smoke"
    return execute(build_spec(args), args)


def main(argv: Optional[Sequence[str]] = None) -> int:
    return main_guard(_main, argv)


if __name__ == "__main__":
    raise SystemExit(main())
