"""Accuracy vs NFE (002 Fig. 6): static-threshold decoding over a τ grid against ETE over τ and
step budgets, on the embedded default; prints accuracy and mean NFE per configuration with 95%
bootstrap CIs over problems (greedy: one sample per problem).

    python sweeps/ete_frontier.py [--thresholds 0.5,0.7,0.9] [--budgets 2,4,8] [--smoke] [--out DIR]
"""
from __future__ import annotations

from typing import Optional, Sequence

from sweeps.engine.grid_script import grid_parser, main_for, run_grid
from sweeps.engine.spec import SamplerSpec


def table(out: str) -> None:
    import polars as pl

    from analysis import load_samples

    from sweeps.ete_tune import problem_ci_table

    s = load_samples(out).filter(pl.col("sampler").is_in(["threshold", "ete"]))
    s = s.with_columns(pl.col("params").str.json_path_match("$.budget").alias("budget")).collect()
    # 95% bootstrap CIs over problems (002 Fig. 6 shades them; the problem is the unit)
    res = problem_ci_table(s, ["sampler", "threshold", "budget"])
    with pl.Config(tbl_rows=-1, tbl_cols=-1, tbl_width_chars=200, float_precision=3):
        print(res)


def _main(argv: Optional[Sequence[str]]) -> int:
    p = grid_parser("python sweeps/ete_frontier.py", __doc__.split("\n\n")[0], "ete-frontier", 24, 4)
    p.add_argument("--thresholds", default="0.5,0.7,0.9", help="τ grid (default: %(default)s)")
    p.add_argument("--budgets", default="2,4,8", help="ETE step budgets per block (default: %(default)s)")
    args = p.parse_args(argv)
    cut = 2 if args.smoke else None
    taus = [float(t) for t in args.thresholds.split(",")][:cut]
    budgets = [int(b) for b in args.budgets.split(",")][:cut]
    return run_grid(args, [
        SamplerSpec("threshold", grid={"threshold": taus}, params={"temperature": 0.0}),
        SamplerSpec("ete", grid={"threshold": taus, "budget": budgets}, params={"temperature": 0.0}),
    ], table)


main = main_for(_main)

if __name__ == "__main__":
    raise SystemExit(main())
