"""Difficulty-stratified Pass@k (paper 000 §5 "Expanding the Reasoning Boundary", Fig. 3 middle).

000 stratifies AIME problems into tiers following Sun et al. (2025) and shows Pass@32 per tier:
gains on the Hard tier are the ones that expand what the model can solve at all.  Tiers come
from the task's own ``difficulty`` labels when the sweep has them; otherwise from a reference
sampler's per-problem solve rate r = c/n (all of its samples on that problem pooled):

    easy       r ≥ 2/3
    medium     1/3 ≤ r < 2/3
    hard       0 < r < 1/3
    unsolved   r = 0          (the reference never solved it: only exploration can help)

Problems with no label while others have one are ``unlabelled``; problems the reference sampler
never ran are ``unrated``.
"""
from __future__ import annotations

from typing import Mapping, Sequence

import polars as pl

from .configs import config_columns, problem_key, selector
from .load import SweepDataError, as_lazy, require_columns
from .passk import normalise_k, pass_at_k_from_counts

__all__ = ["STRATA_K", "TIER_ORDER", "SOLVE_RATE_CUTS", "DEFAULT_REFERENCE", "tier_of_rate",
           "problem_tiers", "tiers_from_counts", "stratified_pass_at_k", "tier_sort_key"]

STRATA_K = 32  # 000 Fig. 3 middle reports Pass@32
TIER_ORDER = ("easy", "medium", "hard", "extra-hard", "unsolved", "unlabelled", "unrated")
# Lower edges of the solve-rate tiers (see module docstring); anything in (0, 1/3) is hard.
SOLVE_RATE_CUTS: dict[str, float] = {"easy": 2 / 3, "medium": 1 / 3}
# LLaDA's low-confidence remasking: the standard baseline of 000 Table 1.
DEFAULT_REFERENCE = "confidence"


def tier_of_rate(rate: pl.Expr) -> pl.Expr:
    """Solve rate → tier label (the cut points of the module docstring)."""
    return (
        pl.when(rate.is_null()).then(pl.lit("unrated"))
        .when(rate >= SOLVE_RATE_CUTS["easy"]).then(pl.lit("easy"))
        .when(rate >= SOLVE_RATE_CUTS["medium"]).then(pl.lit("medium"))
        .when(rate > 0).then(pl.lit("hard"))
        .otherwise(pl.lit("unsolved"))
    )


def tier_sort_key(tier: str) -> tuple[int, str]:
    """Order tiers easy → hard, unknown labels after the known ones, alphabetically."""
    return (TIER_ORDER.index(tier), "") if tier in TIER_ORDER else (len(TIER_ORDER), str(tier))


def _reference_filter(counts: pl.DataFrame, reference: str | Mapping[str, object] | None) -> tuple[pl.Expr, str]:
    if reference is None:
        samplers = counts["sampler"].unique().to_list()
        if DEFAULT_REFERENCE in samplers:
            reference = DEFAULT_REFERENCE
        else:  # the most-sampled sampler is the best-measured one
            reference = (counts.group_by("sampler").agg(pl.col("n").sum())
                         .sort(["n", "sampler"], descending=[True, False])["sampler"][0])
    if isinstance(reference, str):
        reference = {"sampler": reference}
    require_columns(counts, reference.keys(), "the stratification reference")
    return selector(reference)


def tiers_from_counts(counts: pl.DataFrame, problems: Sequence[str],
                      reference: str | Mapping[str, object] | None = None,
                      difficulty: str = "difficulty") -> tuple[pl.DataFrame, str]:
    """Per problem its ``tier`` (and reference ``solve_rate``), plus a one-line source note.

    ``counts`` holds per-(config, problem) ``n``/``c`` and, optionally, the problem's
    ``difficulty`` label.
    """
    problems = list(problems)
    if difficulty in counts.columns and counts[difficulty].drop_nulls().len() > 0:
        tiers = (counts.group_by(problems)
                 .agg(tier=pl.col(difficulty).drop_nulls().first().fill_null("unlabelled"))
                 .with_columns(solve_rate=pl.lit(None, dtype=pl.Float64)))
        return tiers, f"task labels (column '{difficulty}')"
    expr, label = _reference_filter(counts, reference)
    rated = (counts.filter(expr).group_by(problems)
             .agg(solve_rate=pl.col("c").sum() / pl.col("n").sum()))
    if rated.height == 0:
        raise SweepDataError(f"the stratification reference ({label}) has no samples")
    tiers = (counts.select(problems).unique().join(rated, on=problems, how="left", nulls_equal=True)
             .with_columns(tier=tier_of_rate(pl.col("solve_rate"))))
    cuts = f"easy ≥ {SOLVE_RATE_CUTS['easy']:.3g}, medium ≥ {SOLVE_RATE_CUTS['medium']:.3g}, hard > 0, unsolved = 0"
    return tiers.select([*problems, "tier", "solve_rate"]), f"solve rate of reference {label} ({cuts})"


def problem_tiers(samples, reference: str | Mapping[str, object] | None = None,
                  difficulty: str = "difficulty") -> pl.DataFrame:
    """Tier of every problem of a sweep (see the module docstring for the rule)."""
    lf = as_lazy(samples)
    names = lf.collect_schema().names()
    require_columns(names, ("sampler", "problem_id", "correct"), "difficulty tiers")
    problems = problem_key(names)
    counts = _counts(lf, names, config_columns(names), problems, difficulty, reference)
    return tiers_from_counts(counts, problems, reference, difficulty)[0]


def _counts(lf: pl.LazyFrame, names: Sequence[str], by: Sequence[str], problems: Sequence[str],
            difficulty: str, reference: str | Mapping[str, object] | None) -> pl.DataFrame:
    # Keep the reference's filter columns so its solve rate can be taken from the counts.
    ref_cols = list(reference) if isinstance(reference, Mapping) else ["sampler"]
    require_columns(names, ref_cols, "the stratification reference")
    keys = list(dict.fromkeys([*by, *ref_cols, *problems]))
    aggs = [pl.len().cast(pl.Int64).alias("n"), pl.col("correct").fill_null(False).sum().cast(pl.Int64).alias("c")]
    if difficulty in names and difficulty not in keys:
        aggs.append(pl.col(difficulty).max())  # a problem's label is constant; max streams
    return lf.group_by(keys).agg(aggs).collect(engine="streaming")


def stratified_from_counts(counts: pl.DataFrame, tiers: pl.DataFrame, k: int, by: Sequence[str],
                           problems: Sequence[str]) -> pl.DataFrame:
    """Pass@k per (tier, group) given per-problem counts and a problem → tier table."""
    joined = counts.join(tiers.select([*problems, "tier"]), on=list(problems), how="left", nulls_equal=True)
    table = pass_at_k_from_counts(joined, k, ["tier", *by])
    order = sorted(table["tier"].unique().to_list(), key=tier_sort_key)
    rank = {t: i for i, t in enumerate(order)}
    return (table.with_columns(_rank=pl.col("tier").replace_strict(rank, return_dtype=pl.Int64))
            .sort(["_rank", *by], nulls_last=True).drop("_rank"))


def stratified_pass_at_k(samples, k: int = STRATA_K, by: Sequence[str] | None = None,
                         reference: str | Mapping[str, object] | None = None,
                         difficulty: str = "difficulty") -> pl.DataFrame:
    """Pass@k per difficulty tier and group (default group: the configuration columns).

    ``reference`` picks the sampler whose solve rate defines tiers when the sweep has no
    labels: a sampler name or a ``{column: value}`` filter (default ``"confidence"`` if present,
    else the sampler with the most samples).  Columns: ``tier``, the ``by`` columns,
    ``problems``, ``samples``, ``n_min``, ``pass@k``; tiers ordered easy → unsolved.
    """
    (k,) = normalise_k(k)
    lf = as_lazy(samples)
    names = lf.collect_schema().names()
    require_columns(names, ("sampler", "problem_id", "correct"), "stratified pass@k")
    by = config_columns(names) if by is None else list(by)
    require_columns(names, by, "stratified pass@k grouping")
    problems = problem_key(names)
    counts = _counts(lf, names, by, problems, difficulty, reference)
    if counts.height == 0:
        raise SweepDataError("stratified pass@k of an empty set of samples")
    tiers, _ = tiers_from_counts(counts, problems, reference, difficulty)
    # Counts were grouped with the reference's columns too; regroup onto ``by`` alone.
    group_counts = counts.group_by(list(dict.fromkeys([*by, *problems]))).agg(pl.col("n").sum(), pl.col("c").sum())
    return stratified_from_counts(group_counts, tiers, k, by, problems)
