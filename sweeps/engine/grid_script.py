"""Shared shape of the small experiment scripts (imh_mixing, bits_rounds, ete_frontier): a fixed
sampler grid on the embedded default, the usual run options, then a table printed from the shards.
"""
from __future__ import annotations

import argparse
from typing import Callable

from sweeps.engine.cli import EPILOG, add_run_args, entry, execute, shrink
from sweeps.engine.spec import SamplerSpec, SpecError, SweepSpec, TaskSpec
from workers import progname


def grid_parser(prog: str, description: str, name: str, problems: int, samples: int,
                task: str = "countdown,arith") -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog=progname.prog(prog), description=description, epilog=EPILOG,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    g = p.add_argument_group("sweep")
    g.add_argument("--model", default="tiny", help="preset, local checkpoint dir or hub id (default: tiny)")
    g.add_argument("--task", default=task, help="comma-separated task names (default: %(default)s)")
    g.add_argument("--problems", type=int, default=problems, metavar="N",
                   help="problems per task, spread over tiers (default: %(default)s; smoke: 3)")
    g.add_argument("--samples", type=int, default=samples, metavar="N",
                   help="samples per problem and setting (default: %(default)s; smoke: 4)")
    g.add_argument("--name", default=name, help="sweep name (part of every job id)")
    add_run_args(p, default_out=f"runs/{name}")
    return p


def run_grid(args: argparse.Namespace, samplers: list[SamplerSpec],
             table: Callable[[str], None], bits_l2r: bool = False) -> int:
    """Run the grid (resumable, like every sweep), then print the script's table.
    ``bits_l2r``: also rescore every sample left to right (row column ``bits_l2r``)."""
    if not args.smoke and (args.problems < 1 or args.samples < 1):
        raise SpecError("--problems and --samples must be >= 1")
    tasks = [TaskSpec(t.strip(), limit=args.problems) for t in args.task.split(",") if t.strip()]
    spec = SweepSpec(name=args.name, models=[args.model], tasks=tasks, samplers=samplers,
                     samples=args.samples, batch_size=32, bits_l2r=bits_l2r)
    if args.smoke:  # the scripts cut their own grids; the one smoke helper cuts problems and seeds
        spec = shrink(spec, samples=4, problems=3, values=max((len(v) for s in samplers for v in s.grid.values()),
                                                              default=1))
        if args.out == f"runs/{args.name}":
            args.out = f"runs/{spec.name}"
    status = execute(spec, args)
    if status == 0:
        table(args.out)
    return status


# The grid scripts' ``main = main_for(_main)``: the one CLI helper, ``sweeps.engine.cli.entry``.
main_for = entry
