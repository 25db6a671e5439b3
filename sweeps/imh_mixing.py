"""IMH mixing ablation (000 Table 3): chain length T ∈ {1, 3, 7, 15, 31} at fixed α on the
embedded default; prints Pass@1, Pass@8 and the acceptance rate per T.  IMH's defaults target
000 Eq. 8 (window "all"); ``--window block`` or an integer N reproduces the truncated windows.

    python sweeps/imh_mixing.py [--alpha 2] [--chains 1,3,7,15,31] [--window all] [--smoke] [--out DIR]
"""
from __future__ import annotations

from typing import Optional, Sequence, Union

from sweeps.engine.grid_script import grid_parser, main_for, run_grid
from sweeps.engine.spec import SamplerSpec


def table(out: str, window: Union[str, int, None] = None, chains: Optional[Sequence[int]] = None) -> None:
    import json

    import polars as pl

    from analysis import load_samples, pass_at_k

    s = load_samples(out).filter(pl.col("sampler") == "imh")
    if window is not None:   # runs with another window in the same --out are not mixed in
        s = s.filter(pl.col("params").str.contains(f'"window":{json.dumps(window)}', literal=True))
    if chains is not None:   # this run's T grid, on the problems every T ran (a resumed or
        s = s.filter(pl.col("chain_length").is_in(list(chains)))   # interrupted run leaves others)
        common = (s.group_by(["task", "problem_id"]).agg(pl.col("chain_length").n_unique().alias("_t"))
                  .filter(pl.col("_t") == len(set(chains))).select(["task", "problem_id"]))
        s = s.join(common, on=["task", "problem_id"])
    n = s.group_by(["task", "problem_id", "chain_length"]).len().select(pl.col("len").min()).collect().item()
    k = min(8, int(n))
    res = pass_at_k(s, [1, k], by=["chain_length"]).join(
        s.group_by("chain_length").agg(pl.col("acceptance_rate").mean().alias("acceptance")).collect(),
        on="chain_length").sort("chain_length")
    print(res)


def _main(argv: Optional[Sequence[str]]) -> int:
    p = grid_parser("python sweeps/imh_mixing.py", __doc__.split("\n\n")[0], "imh-mixing", 24, 8)
    p.add_argument("--alpha", type=float, default=2.0, help="IMH alpha (default: %(default)s)")
    p.add_argument("--chains", default="1,3,7,15,31", help="chain lengths T (default: %(default)s)")
    p.add_argument("--window", default="all",
                   help='lookahead window: "all" (000 Eq. 8, default), "block", or an integer N')
    args = p.parse_args(argv)
    chains = [int(t) for t in args.chains.split(",")][: 2 if args.smoke else None]
    window: Union[str, int] = int(args.window) if args.window.isdigit() else args.window
    return run_grid(args, [SamplerSpec("imh", grid={"chain_length": chains},
                                       params={"alpha": args.alpha, "window": window})],
                    lambda out: table(out, window, chains))


main = main_for(_main)

if __name__ == "__main__":
    raise SystemExit(main())
