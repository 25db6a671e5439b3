"""Bits vs rounds (002 §5.1, Fig. 2 and 4): the factor sampler over f ∈ {0.25, 0.5, 1.0, 1.5, 1.9}
on the embedded default; prints per f the OLS fit of rounds (nfe) on bits, the exploration /
exploitation shares of bits and rounds, and how many samples violate the bits-to-rounds bound
(there must be none).  The report adds the scatter with fitted and bound lines.

    python sweeps/bits_rounds.py [--factors 0.25,0.5,1,1.5,1.9] [--smoke] [--out DIR]
"""
from __future__ import annotations

import sys
from pathlib import Path
from typing import Optional, Sequence

if __package__ in (None, ""):
    sys.path[0] = str(Path(__file__).resolve().parent.parent)

from sweeps.grid_script import grid_parser, main_for, run_grid
from sweeps.spec import SamplerSpec


def table(out: str) -> None:
    import polars as pl

    from analysis import bits_vs_rounds, load_samples

    s = load_samples(out).filter(pl.col("sampler") == "factor")
    cols = ["task", "factor", "samples", "mean_bits", "mean_nfe", "slope", "intercept", "r2",
            "explore_bit_share", "explore_round_share", "bound_violations"]
    with pl.Config(tbl_cols=-1, tbl_rows=-1, tbl_width_chars=200, float_precision=3):
        print(bits_vs_rounds(s).select(cols).sort(["task", "factor"]))


def _main(argv: Optional[Sequence[str]]) -> int:
    p = grid_parser("python sweeps/bits_rounds.py", __doc__.split("\n\n")[0], "bits-rounds", 24, 4)
    p.add_argument("--factors", default="0.25,0.5,1.0,1.5,1.9", help="factor grid (default: %(default)s)")
    p.add_argument("--temperature", type=float, default=1.0, help="sampling temperature (default: %(default)s)")
    args = p.parse_args(argv)
    fs = [float(f) for f in args.factors.split(",")][: 2 if args.smoke else None]
    return run_grid(args, [SamplerSpec("factor", grid={"factor": fs},
                                       params={"temperature": args.temperature})], table)


main = main_for(_main)

if __name__ == "__main__":
    raise SystemExit(main())
