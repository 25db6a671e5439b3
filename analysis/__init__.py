"""Analysis of sweep shards: pass@k, Pareto frontiers, difficulty strata, bits vs rounds, report.

Reads only the Parquet row contract (docs/design.md §3); needs neither torch nor Ray.

    from analysis import load_samples, pass_at_k, pareto_frontier, stratified_pass_at_k, bits_vs_rounds
    samples = load_samples("runs/pareto")            # LazyFrame over every finished shard
    pass_at_k(samples, [1, 8, 32], by=["sampler", "temperature"])
"""
from .bits_rounds import bits_budget, bits_vs_rounds, rounds_bound
from .configs import KNOBS, knob_of
from .cost import acceptance_by_chain_length, cost_table, paired_bootstrap
from .diversity import distinct_correct_answers, similarity_matrix
from .frontier import non_dominated, pareto_frontier
from .load import SweepDataError, find_shards, load_samples
from .passk import estimate_pass_at_k, k_grid, pass_at_k
from .strata import problem_tiers, stratified_pass_at_k

__all__ = [
    "load_samples", "pass_at_k", "pareto_frontier", "stratified_pass_at_k", "bits_vs_rounds",
    "write_report", "SweepDataError", "find_shards", "estimate_pass_at_k", "k_grid", "non_dominated",
    "problem_tiers", "bits_budget", "rounds_bound", "cost_table", "paired_bootstrap",
    "acceptance_by_chain_length", "similarity_matrix", "distinct_correct_answers", "KNOBS", "knob_of",
]


def __getattr__(name: str):
    # ``write_report`` is imported on first use so that ``python -m analysis.report`` does not
    # find its own module already imported (runpy warns) and plain imports skip matplotlib.
    if name == "write_report":
        from .report import write_report

        return write_report
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
