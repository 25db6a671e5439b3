"""Bits vs rounds (002 §5.1, Fig. 2 and 4): the factor sampler over f ∈ {0.25, 0.5, 1.0, 1.5, 1.9}
on the embedded default, decoded greedily as 002 does, every sample rescored left to right (its
true joint −log2 p, row column ``bits_l2r``).  Prints per f the OLS fit of rounds (nfe) on the
rescored bits (002's regression), the fit on trajectory bits (a second, labelled fit), the
exploration / exploitation shares of bits and rounds, and how many samples violate the
bits-to-rounds bound (there must be none; it is checked on trajectory exploitation bits, see
``analysis.bits_rounds``).  The report adds the scatter with fitted and bound lines.

    python sweeps/bits_rounds.py [--factors 0.25,0.5,1,1.5,1.9] [--temperature 0] [--smoke] [--out DIR]
"""
from __future__ import annotations

from typing import Optional, Sequence

from sweeps.engine.grid_script import grid_parser, main_for, run_grid
from sweeps.engine.spec import SamplerSpec


def table(out: str, temperature: Optional[float] = None) -> None:
    import polars as pl

    from analysis import bits_vs_rounds, load_samples

    s = load_samples(out).filter(pl.col("sampler") == "factor")
    if temperature is not None:   # an old run in the same --out at another τ is not mixed in
        s = s.filter(pl.col("temperature") == temperature)
    res = bits_vs_rounds(s)
    if "l2r_slope" not in res.columns:
        res = res.with_columns(l2r_samples=pl.lit(0), mean_bits_l2r=pl.lit(None, pl.Float64),
                               l2r_slope=pl.lit(None, pl.Float64), l2r_intercept=pl.lit(None, pl.Float64),
                               l2r_r2=pl.lit(None, pl.Float64))
    with pl.Config(tbl_cols=-1, tbl_rows=-1, tbl_width_chars=250, float_precision=3):
        print("rounds ~ left-to-right rescored bits (002 §5.1's regression):")
        print(res.select(["task", "factor", "l2r_samples", "mean_bits_l2r", "mean_nfe", "l2r_slope",
                          "l2r_intercept", "l2r_r2", "bound_slope"]).sort(["task", "factor"]))
        print("rounds ~ trajectory bits (second fit), shares, bound check on trajectory exploitation bits:")
        print(res.select(["task", "factor", "samples", "mean_bits", "slope", "intercept", "r2",
                          "explore_bit_share", "explore_round_share", "bound_violations"]).sort(["task", "factor"]))


def _main(argv: Optional[Sequence[str]]) -> int:
    # greedy decoding is deterministic: one sample per problem (raise --samples with --temperature > 0)
    p = grid_parser("python sweeps/bits_rounds.py", __doc__.split("\n\n")[0], "bits-rounds", 48, 1)
    p.add_argument("--factors", default="0.25,0.5,1.0,1.5,1.9", help="factor grid (default: %(default)s)")
    p.add_argument("--temperature", type=float, default=0.0,
                   help="sampling temperature (default: %(default)s = greedy, as 002 §5.1)")
    p.add_argument("--no-rescore", action="store_true",
                   help="skip the left-to-right rescoring (bits_l2r stays null; only the trajectory fit)")
    args = p.parse_args(argv)
    fs = [float(f) for f in args.factors.split(",")][: 2 if args.smoke else None]
    return run_grid(args, [SamplerSpec("factor", grid={"factor": fs}, params={"temperature": args.temperature})],
                    lambda out: table(out, args.temperature), bits_l2r=not args.no_rescore)


main = main_for(_main)

if __name__ == "__main__":
    raise SystemExit(main())
