"""Run any sweep spec written in YAML.

    python -m sweeps.run sweeps/specs/example.yaml --out runs/example
"""
from __future__ import annotations

import argparse
from typing import Optional, Sequence

from sweeps.engine.cli import EPILOG, add_run_args, execute, main_guard, shrink
from sweeps.engine.spec import load_spec
from workers.progname import prog


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog=prog("python -m sweeps.run"),
        description="Run (or resume) the sweep described by a YAML spec: a grid over models,\n"
                    "tasks, samplers, sampler parameters and seeds (format: sweeps/engine/spec.py).",
        epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("spec", help="YAML spec file, e.g. sweeps/specs/example.yaml")
    add_run_args(p, default_out="runs/<spec name>")
    return p


def _main(argv: Optional[Sequence[str]]) -> int:
    args = parser().parse_args(argv)
    spec = load_spec(args.spec)
    if args.smoke:
        spec = shrink(spec)
    if args.out == "runs/<spec name>":
        args.out = f"runs/{spec.name}"
    return execute(spec, args)


def main(argv: Optional[Sequence[str]] = None) -> int:
    return main_guard(_main, argv)


if __name__ == "__main__":
    raise SystemExit(main())
