"""Difficulty-stratified Pass@k (paper 000 §5 "Expanding the Reasoning Boundary", Fig. 3 middle).

000 stratifies AIME problems into tiers following Sun et al. (2025) and shows Pass@32 per tier:
gains on the Hard tier are the ones that expand what the model can solve at all.  Where tiers
come from, first match wins:

1. the task's own ``difficulty`` labels (AIME24: Sun et al.'s easy/medium/hard/extra-hard by
   dataset id; MATH500: its level 1–5), whenever the sweep has any;
2. a per-problem solve rate r, measured on samples *disjoint* from the ones scored — tiers
   estimated on the same samples they then score are circular (a sampler's "unsolved" tier is
   by construction one where it scored 0):
   - ``reference=DIR`` (a path, URI or frame of another sweep's shards): r from that sweep (its
     ``reference_sampler``, default ``"confidence"`` if present, else the most-sampled sampler);
     every sample of the scored sweep is scored;
   - ``reference=None`` (the default): the **symmetric seed split** — r is each configuration's
     solve rate on its even seeds, averaged over every configuration with equal weight; only odd
     seeds are scored.  No sampler rates the tiers alone, so samplers whose per-problem skills
     are exchangeable have zero expected difference on every tier (issue 25: a tier rated by
     one sampler puts the *other* samplers ahead on its hard tiers by regression to the mean —
     +0.17 Pass@16 on "unsolved" from nothing in a 1,500-problem simulation);
   - a sampler name / a ``{column: value}`` filter, on request only: r from that reference's
     even seeds alone, its odd seeds scored and every other sampler's samples all scored.  The
     reference is then disadvantaged on the hard tiers and favoured on the easy ones
     (``python -m analysis.null_sim --rater`` measures by how much).

Solve-rate tiers:

    easy       r ≥ 2/3
    medium     1/3 ≤ r < 2/3
    hard       0 < r < 1/3
    unsolved   r = 0          (the reference never solved it: only exploration can help)

Problems with no label while others have one are ``unlabelled``; problems the reference sampler
never ran (on its tier seeds) are ``unrated``.
"""
from __future__ import annotations

import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping, Sequence

import polars as pl

from .configs import config_columns, problem_key, selector
from .load import SweepDataError, as_lazy, require_columns
from .passk import normalise_k, pass_at_k_from_counts, per_problem_pass_at_k
from .stats import bootstrap_means, percentile_ci

__all__ = ["STRATA_K", "TIER_ORDER", "SOLVE_RATE_CUTS", "DEFAULT_REFERENCE", "TIER_SEED_PARITY",
           "StrataSplit", "strata_split", "tier_of_rate", "problem_tiers", "scored_samples",
           "tiers_from_counts", "stratified_from_counts", "stratified_pass_at_k", "tier_sort_key"]

STRATA_K = 32  # 000 Fig. 3 middle reports Pass@32
TIER_ORDER = ("easy", "medium", "hard", "extra-hard", "unsolved", "unlabelled", "unrated")
# Lower edges of the solve-rate tiers (see module docstring); anything in (0, 1/3) is hard.
SOLVE_RATE_CUTS: dict[str, float] = {"easy": 2 / 3, "medium": 1 / 3}
# Rank-then-sample max probability would be IMH's base; LLaDA's low-confidence remasking is the
# standard baseline of 000 Table 1 and the one every sweep runs.
DEFAULT_REFERENCE = "confidence"
# In-sweep rating: samples with seed % 2 == TIER_SEED_PARITY rate tiers, the others are scored.
TIER_SEED_PARITY = 0
_CUTS_TEXT = (f"easy ≥ {SOLVE_RATE_CUTS['easy']:.3g}, medium ≥ {SOLVE_RATE_CUTS['medium']:.3g}, "
              "hard > 0, unsolved = 0")

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


def _is_external(reference: Any) -> bool:
    """A reference that names other shards (sampler names never contain a path separator)."""
    if isinstance(reference, (pl.DataFrame, pl.LazyFrame, os.PathLike)):
        return True
    return isinstance(reference, str) and ("/" in reference or os.sep in reference or Path(reference).is_dir())


def check_reference(samples: pl.LazyFrame, reference: Any) -> None:
    """A reference that cannot be what it names is an error, even where task labels would win
    (a typo must not pass silently): a local reference sweep that does not exist, or a sampler
    name this sweep does not have.  URIs are checked when they are read."""
    if reference is None or isinstance(reference, (pl.DataFrame, pl.LazyFrame, Mapping)):
        return
    text = str(reference)
    if _is_external(reference):
        if "://" not in text and not Path(text).expanduser().exists():
            raise SweepDataError(f"reference sweep {text!r} does not exist")
        return
    have = samples.select(pl.col("sampler").unique()).collect()["sampler"].to_list()
    if text not in have:
        raise SweepDataError(f"the reference sampler={text} has no samples in this sweep (its samplers: "
                             f"{', '.join(sorted(have))}); a reference sweep is given as a directory")


def _default_sampler(lf: pl.LazyFrame) -> str:
    n = lf.group_by("sampler").len().collect()
    if n.height == 0:
        raise SweepDataError("the stratification reference has no samples")
    if DEFAULT_REFERENCE in n["sampler"].to_list():
        return DEFAULT_REFERENCE
    # the most-sampled sampler is the best-measured one
    return n.sort(["len", "sampler"], descending=[True, False])["sampler"][0]


def _has_labels(lf: pl.LazyFrame, names: Sequence[str], difficulty: str) -> bool:
    return difficulty in names and lf.select(pl.col(difficulty).is_not_null().any()).collect().item()


@dataclass(frozen=True)
class StrataSplit:
    """What tiers are rated on and what is scored (see the module docstring)."""

    tiers: pl.DataFrame        # problem key columns, ``tier``, ``solve_rate`` (null for labels)
    source: str                # one line: where the tiers come from
    scored: pl.LazyFrame       # the samples whose Pass@k may be reported per tier


def strata_split(samples, reference: Any = None, difficulty: str = "difficulty",
                 reference_sampler: str | Mapping[str, object] | None = None) -> StrataSplit:
    """Tiers of every problem and the samples disjoint from the ones the tiers were rated on.

    ``reference``: None → symmetric seed split (every configuration's even seeds, pooled with
    equal weight); a sampler name / ``{column: value}`` filter → that reference alone (on
    request, biased against it); a path, URI, DataFrame or LazyFrame → another sweep's shards
    (``reference_sampler`` picks the sampler there).  Labels in ``difficulty`` always win.
    """
    lf = as_lazy(samples)
    names = lf.collect_schema().names()
    require_columns(names, ("sampler", "problem_id", "correct"), "difficulty tiers")
    problems = problem_key(names)
    check_reference(lf, reference)
    if _has_labels(lf, names, difficulty):
        tiers = (lf.group_by(problems)
                 .agg(tier=pl.col(difficulty).drop_nulls().first().cast(pl.String).fill_null("unlabelled"))
                 .with_columns(solve_rate=pl.lit(None, dtype=pl.Float64)).collect())
        return StrataSplit(tiers, f"task labels (column '{difficulty}')", lf)
    if _is_external(reference):
        ref = as_lazy(reference)
        ref_names = ref.collect_schema().names()
        require_columns(ref_names, ("sampler", *problems, "correct"), "the stratification reference sweep")
        pick = reference_sampler if reference_sampler is not None else _default_sampler(ref)
        expr, label = selector(pick)
        require_columns(ref_names, ({"sampler": pick} if isinstance(pick, str) else pick).keys(),
                        "the stratification reference")
        rows, scored = ref.filter(expr), lf
        where = reference if isinstance(reference, (str, os.PathLike)) else "the given frame"
        note = f"solve rate of {label} in reference sweep {where}"
    elif reference is None:
        if reference_sampler is not None:
            raise SweepDataError("reference_sampler is for a reference sweep; pass the sampler as reference=")
        require_columns(names, ("seed",), "the seed split of the difficulty tiers (or pass reference=DIR)")
        configs = config_columns(names) or ["sampler"]
        even = pl.col("seed") % 2 == TIER_SEED_PARITY
        per_config = (lf.filter(even).group_by([*configs, *problems])
                      .agg(_r=pl.col("correct").fill_null(False).cast(pl.Float64).mean()))
        rated = per_config.group_by(problems).agg(solve_rate=pl.col("_r").mean()).collect()
        if rated.height == 0:
            raise SweepDataError("the difficulty tiers have no even-seed samples to be rated on")
        tiers = (lf.select(problems).unique().collect()
                 .join(rated, on=problems, how="left", nulls_equal=True)
                 .with_columns(tier=tier_of_rate(pl.col("solve_rate"))))
        return StrataSplit(tiers.select([*problems, "tier", "solve_rate"]),
                           "solve rate pooled over every configuration's even seeds, equal weight per configuration "
                           f"(only odd seeds are scored; {_CUTS_TEXT})", lf.filter(~even.fill_null(False)))
    else:
        if reference_sampler is not None:
            raise SweepDataError("reference_sampler is for a reference sweep; pass the sampler as reference=")
        pick = reference
        spec = {"sampler": pick} if isinstance(pick, str) else dict(pick)
        require_columns(names, spec.keys(), "the stratification reference")
        require_columns(names, ("seed",), "the seed split of the stratification reference (or pass reference=DIR)")
        expr, label = selector(spec)
        tier_half = expr & (pl.col("seed") % 2 == TIER_SEED_PARITY)
        rows, scored = lf.filter(tier_half), lf.filter(~tier_half.fill_null(False))
        note = (f"solve rate of reference {label} alone on its even seeds (on request; only its odd seeds are "
                f"scored; it is disadvantaged on the hard tiers, see analysis.null_sim)")
    rated = (rows.group_by(problems)
             .agg(solve_rate=pl.col("correct").fill_null(False).cast(pl.Float64).mean()).collect())
    if rated.height == 0:
        raise SweepDataError(f"the stratification reference ({label}) has no samples")
    tiers = (lf.select(problems).unique().collect()
             .join(rated, on=problems, how="left", nulls_equal=True)
             .with_columns(tier=tier_of_rate(pl.col("solve_rate"))))
    return StrataSplit(tiers.select([*problems, "tier", "solve_rate"]), f"{note} ({_CUTS_TEXT})", scored)


def problem_tiers(samples, reference: Any = None, difficulty: str = "difficulty",
                  reference_sampler: str | Mapping[str, object] | None = None) -> pl.DataFrame:
    """Tier of every problem of a sweep (see the module docstring for the rule)."""
    return strata_split(samples, reference, difficulty, reference_sampler).tiers


def scored_samples(samples, reference: Any = None, difficulty: str = "difficulty",
                   reference_sampler: str | Mapping[str, object] | None = None) -> pl.LazyFrame:
    """The samples a stratified table may score: all of them, less the reference's tier seeds."""
    return strata_split(samples, reference, difficulty, reference_sampler).scored


def tiers_from_counts(counts: pl.DataFrame, problems: Sequence[str],
                      reference: str | Mapping[str, object] | None = None,
                      difficulty: str = "difficulty") -> tuple[pl.DataFrame, str]:
    """Per problem its ``tier`` (and reference ``solve_rate``) from per-(config, problem) counts.

    Low-level: the caller must make sure the counts it rates tiers on are disjoint from the ones
    it scores (otherwise the strata are circular); :func:`strata_split` does that from samples.
    """
    problems = list(problems)
    if difficulty in counts.columns and counts[difficulty].drop_nulls().len() > 0:
        tiers = (counts.group_by(problems)
                 .agg(tier=pl.col(difficulty).drop_nulls().first().fill_null("unlabelled"))
                 .with_columns(solve_rate=pl.lit(None, dtype=pl.Float64)))
        return tiers, f"task labels (column '{difficulty}')"
    if reference is None:
        tot = counts.group_by("sampler").agg(pl.col("n").sum())
        reference = (DEFAULT_REFERENCE if DEFAULT_REFERENCE in tot["sampler"].to_list()
                     else tot.sort(["n", "sampler"], descending=[True, False])["sampler"][0])
    spec = {"sampler": reference} if isinstance(reference, str) else reference
    require_columns(counts, spec.keys(), "the stratification reference")
    expr, label = selector(spec)
    rated = (counts.filter(expr).group_by(problems)
             .agg(solve_rate=pl.col("c").sum() / pl.col("n").sum()))
    if rated.height == 0:
        raise SweepDataError(f"the stratification reference ({label}) has no samples")
    tiers = (counts.select(problems).unique().join(rated, on=problems, how="left", nulls_equal=True)
             .with_columns(tier=tier_of_rate(pl.col("solve_rate"))))
    cuts = f"easy ≥ {SOLVE_RATE_CUTS['easy']:.3g}, medium ≥ {SOLVE_RATE_CUTS['medium']:.3g}, hard > 0, unsolved = 0"
    return tiers.select([*problems, "tier", "solve_rate"]), f"solve rate of reference {label} ({cuts})"


def stratified_from_counts(counts: pl.DataFrame, tiers: pl.DataFrame, k: int, by: Sequence[str],
                           problems: Sequence[str], n_boot: int = 0, seed: int = 0) -> pl.DataFrame:
    """Pass@k per (tier, group) given per-problem counts and a problem → tier table.

    ``n_boot`` > 0 adds a 95% percentile bootstrap CI over the tier's problems
    (``pass@k_lo``/``pass@k_hi``; docs/design.md §6: problems are the unit of replication).
    """
    joined = counts.join(tiers.select([*problems, "tier"]), on=list(problems), how="left", nulls_equal=True)
    joined = joined.with_columns(pl.col("tier").fill_null("unrated"))
    table = pass_at_k_from_counts(joined, k, ["tier", *by])
    if n_boot > 0:
        per = per_problem_pass_at_k(joined, k)
        lo, hi = [], []
        for row in table.select(["tier", *by]).iter_rows(named=True):
            cond = pl.lit(True)
            for c, v in row.items():
                cond = cond & (pl.col(c).is_null() if v is None else pl.col(c) == v)
            vals = per.filter(cond)[f"pass@{k}"].to_numpy()
            a, b = percentile_ci(bootstrap_means(vals, n_boot, seed))
            lo.append(float(a[0]))
            hi.append(float(b[0]))
        table = table.with_columns(pl.Series(f"pass@{k}_lo", lo), pl.Series(f"pass@{k}_hi", hi))
    order = sorted(table["tier"].unique().to_list(), key=tier_sort_key)
    rank = {t: i for i, t in enumerate(order)}
    return (table.with_columns(_rank=pl.col("tier").replace_strict(rank, return_dtype=pl.Int64))
            .sort(["_rank", *by], nulls_last=True).drop("_rank"))


def stratified_pass_at_k(samples, k: int = STRATA_K, by: Sequence[str] | None = None,
                         reference: Any = None, difficulty: str = "difficulty",
                         reference_sampler: str | Mapping[str, object] | None = None,
                         n_boot: int = 0, seed: int = 0) -> pl.DataFrame:
    """Pass@k per difficulty tier and group (default group: the configuration columns).

    Tiers: labels, else a reference's solve rate on samples disjoint from the scored ones
    (``reference``/``reference_sampler``: see :func:`strata_split` and the module docstring).
    Columns: ``tier``, the ``by`` columns, ``problems``, ``samples``, ``n_min``, ``pass@k``
    (plus ``pass@k_lo``/``pass@k_hi`` with ``n_boot`` > 0); tiers ordered easy → unsolved.
    """
    (k,) = normalise_k(k)
    split = strata_split(samples, reference, difficulty, reference_sampler)
    lf = split.scored
    names = lf.collect_schema().names()
    by = config_columns(names) if by is None else list(by)
    require_columns(names, by, "stratified pass@k grouping")
    problems = problem_key(names)
    counts = (lf.group_by(list(dict.fromkeys([*by, *problems])))
              .agg(pl.len().cast(pl.Int64).alias("n"),
                   pl.col("correct").fill_null(False).sum().cast(pl.Int64).alias("c"))
              .collect(engine="streaming"))
    if counts.height == 0:
        raise SweepDataError("stratified pass@k of an empty set of samples")
    try:
        return stratified_from_counts(counts, split.tiers, k, by, problems, n_boot, seed)
    except SweepDataError as e:
        if "seeds" in split.source:
            raise SweepDataError(f"{e} (even seeds rate the tiers and are not scored: "
                                 "run 2k seeds or pass reference=DIR)") from None
        raise


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m analysis.strata SWEEP [--reference DIR|SAMPLER] [--reference-sampler S] [--k K]``:
    print the stratified Pass@k table with 95% bootstrap CIs and where the tiers came from."""
    import argparse

    p = argparse.ArgumentParser(prog="python -m analysis.strata", description=main.__doc__.split("\n")[1].strip())
    p.add_argument("sweep", help="sweep directory / URI whose samples are scored")
    p.add_argument("--reference", default=None, metavar="DIR|SAMPLER",
                   help="a reference sweep's shards (tiers from all its samples), or a sampler of this sweep "
                        "rating alone (biased against it); default: every configuration's even seeds, pooled")
    p.add_argument("--reference-sampler", default=None, help="sampler of the reference sweep (with --reference DIR)")
    p.add_argument("--k", type=int, default=STRATA_K, help="Pass@k (default: %(default)s)")
    args = p.parse_args(argv)
    try:
        split = strata_split(args.sweep, args.reference, reference_sampler=args.reference_sampler)
        table = stratified_pass_at_k(args.sweep, args.k, reference=args.reference,
                                     reference_sampler=args.reference_sampler, n_boot=1000)
    except (SweepDataError, FileNotFoundError) as e:
        print(f"error: {str(e).splitlines()[0]}", file=sys.stderr)
        return 2
    print(f"tiers: {split.source}")
    with pl.Config(tbl_rows=-1, tbl_cols=-1, tbl_width_chars=200, float_precision=3):
        print(table)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
