"""Which sampler is better, and where: the report's statistical core (docs/design.md §6).

One comparison per model × task, built so that samplers that do not differ are not declared
different (issue 25; the protocols of paper 000 §5 / Table 2 and App. E):

* **Seed halves.** Every (configuration, problem) has its samples split by seed parity: the
  *selection half* (even seeds) and the *evaluation half* (odd seeds).
* **Comparison set, chosen without peeking.** Each sampler is represented by one configuration.
  A sampler with one candidate (000 Table 2: every method at one shared temperature; or the
  spec's declared protocol, ``compare_at``) is scored on all its samples.  A sampler with several
  candidates gets the one with the best Pass@1 (then Pass@k) *on the selection half* and is
  scored on the evaluation half only, so its winner's curse does not reach the comparison.
* **The paper's k.** Pass@k at k = n/2 by default (000 App. E: Pass@16 from n = 32), where n is
  the samples per problem; the evaluation half holds n/2 samples.
* **Tests.** For Pass@1 and Pass@k, every pair of samplers: the paired difference over the
  problems both ran (problems are the unit: CIs are clustered by problem), bootstrapped over
  problems with one set of resamples for the whole family (pairs sharing fewer than
  ``MIN_PROBLEMS`` problems are not tested): the 95% percentile interval.  p from the paired
  sign-flip randomisation test over the same problems (exact when a and b are exchangeable, with
  no normal/t approximation in the tails Holm's thresholds reach); Holm's step-down over the
  family.  The corrected interval is Bonferroni's (diff ± t·SE at level 1 − α/m, simultaneous): a difference
  beyond it is significant under Holm too.
* **Tiers that cannot favour a sampler.** Labels (or an external reference sweep) when given;
  otherwise each problem's solve rate pooled over the comparison set's *selection* halves with
  equal weight per configuration, scoring only evaluation halves — exchangeable samplers then
  have zero expected difference on every tier.  Rating with one sampler (``rater``) is possible
  on request; that sampler is then disadvantaged on hard tiers (regression to the mean; see
  :func:`analysis.null_sim.rater_bias`).
* **Reproducible.** The bootstrap seed is a hash of the counts (:func:`data_seed`), recorded.
"""
from __future__ import annotations

import functools
import hashlib
import math
from dataclasses import dataclass, field
from typing import Any, Sequence

import numpy as np
from scipy.stats import t as student_t

from .passk import estimate_pass_at_k
from .stats import resample_weights

__all__ = ["ALPHA", "MIN_PROBLEMS", "SELECT_HALF", "EVAL_HALF", "SweepCounts", "Comparison", "default_k", "data_seed",
           "holm", "compare", "tier_of_rates", "pass_matrix"]

ALPHA = 0.05            # family-wise error rate of every family of tests
PERMUTATIONS = 4000     # sign-flip draws per test: p resolves to 1/4001, below Holm's α/m for m ≤ 100
MIN_PROBLEMS = 20       # a difference over fewer shared problems is not tested (an SE from 3 problems is noise)
SELECT_HALF, EVAL_HALF = 0, 1   # seed % 2: even seeds choose configurations and rate tiers
_CUTS = (2 / 3, 1 / 3)  # analysis.strata.SOLVE_RATE_CUTS (easy, medium lower edges)
TIERS = ("easy", "medium", "hard", "unsolved")


@dataclass
class SweepCounts:
    """Counts of one model × task: ``n``/``c`` are [configs, problems, 2 halves] (0 = not run)."""
    labels: list[str]
    samplers: list[str]
    n: np.ndarray
    c: np.ndarray
    candidate: np.ndarray | None = None     # [configs] bool: allowed by the declared protocol
    tiers: np.ndarray | None = None         # [problems] tier labels from outside (labels / reference)
    tier_source: str = ""


@dataclass
class Comparison:
    """What :func:`compare` decided and measured (all plain data, JSON-able via ``as_dict``)."""
    k: int
    seed: int
    chosen: dict[str, int]                  # sampler → configuration index
    selected: dict[str, bool]               # sampler → chosen on the selection half and scored on the other
    scores: list[dict[str, Any]]            # per sampler: label, pass@1, pass@k, problems
    tests: list[dict[str, Any]]             # the headline family
    family: int
    threshold: float                        # Holm's smallest threshold α/m
    tier_source: str = ""
    problem_tiers: np.ndarray | None = None
    strata: list[dict[str, Any]] = field(default_factory=list)
    strata_tests: list[dict[str, Any]] = field(default_factory=list)
    strata_family: int = 0

    def significant(self) -> list[dict[str, Any]]:
        return [t for t in self.tests if t["significant"]]


def default_k(n: int) -> int:
    """k = n/2 (000 App. E: Pass@16 from n = 32; Pass@n itself is the noisiest point)."""
    return max(1, int(n) // 2)


def data_seed(*arrays: np.ndarray) -> int:
    """A bootstrap seed that is a function of the data: identical shards, identical numbers."""
    h = hashlib.sha256()
    for a in arrays:
        a = np.ascontiguousarray(a)
        h.update(str(a.shape).encode())
        h.update(a.tobytes())
    return int.from_bytes(h.digest()[:8], "little") >> 1


def holm(p: Sequence[float]) -> np.ndarray:
    """Holm's step-down adjusted p-values (family-wise error control under any dependence)."""
    p = np.asarray(p, dtype=np.float64)
    m = p.size
    if m == 0:
        return p
    order = np.argsort(p, kind="stable")
    adj = np.maximum.accumulate((m - np.arange(m)) * p[order]).clip(max=1.0)
    out = np.empty(m)
    out[order] = adj
    return out


@functools.lru_cache(maxsize=4)
def sign_flips(p: int, n: int, seed: int) -> np.ndarray:
    """[n, p] random ±1: the sign-flip randomisation draws of a paired test over p problems."""
    rng = np.random.default_rng([seed % (2 ** 63), 1])
    out = rng.integers(0, 2, size=(n, p)).astype(np.float64) * 2.0 - 1.0
    out.flags.writeable = False
    return out


def pass_matrix(n: np.ndarray, c: np.ndarray, k: int) -> np.ndarray:
    """Per-entry unbiased pass@k, NaN where fewer than k samples."""
    n, c = np.asarray(n), np.asarray(c)
    out = np.full(n.shape, np.nan)
    ok = n >= k
    if ok.any():
        out[ok] = estimate_pass_at_k(n[ok], c[ok], k)
    return out


def tier_of_rates(rate: np.ndarray) -> np.ndarray:
    """Solve rate → tier (analysis.strata's cut points); NaN → ``unrated``."""
    out = np.full(rate.shape, "unrated", dtype=object)
    ok = ~np.isnan(rate)
    out[ok & (rate >= _CUTS[0])] = "easy"
    out[ok & (rate < _CUTS[0]) & (rate >= _CUTS[1])] = "medium"
    out[ok & (rate < _CUTS[1]) & (rate > 0)] = "hard"
    out[ok & (rate == 0)] = "unsolved"
    return out


def _nanmean(m: np.ndarray, axis: int) -> np.ndarray:
    with np.errstate(invalid="ignore"):
        cnt = (~np.isnan(m)).sum(axis=axis)
        tot = np.where(np.isnan(m), 0.0, m).sum(axis=axis)
        return np.where(cnt > 0, tot / np.maximum(cnt, 1), np.nan)


def _choose(sc: SweepCounts, k: int) -> tuple[dict[str, int], dict[str, bool]]:
    cand = np.ones(len(sc.labels), bool) if sc.candidate is None else np.asarray(sc.candidate, bool)
    chosen, selected = {}, {}
    for s in sorted(set(sc.samplers)):
        idx = [i for i, x in enumerate(sc.samplers) if x == s and cand[i]]
        if not idx:
            continue
        if len(idx) == 1:
            chosen[s], selected[s] = idx[0], False
            continue
        n0, c0 = sc.n[idx, :, SELECT_HALF], sc.c[idx, :, SELECT_HALF]
        kk = k if (n0[n0 > 0] >= k).all() and (n0 > 0).any() else 1
        score_k = _nanmean(np.where(n0 > 0, pass_matrix(n0, c0, kk), np.nan), 1)
        score_1 = _nanmean(np.where(n0 > 0, c0 / np.maximum(n0, 1), np.nan), 1)
        # best Pass@1, then Pass@k, then label: Pass@1 uses every sample of the half (Pass@k at
        # k = n/2 of a half is its noisiest point, a selection by noise), as 000 Table 2 fixes quality
        key = sorted(range(len(idx)), key=lambda j: (-np.nan_to_num(score_1[j], nan=-1),
                                                     -np.nan_to_num(score_k[j], nan=-1), sc.labels[idx[j]]))
        chosen[s], selected[s] = idx[key[0]], True
    return chosen, selected


def _pair_tests(values: dict[int, np.ndarray], names: list[str], weights: np.ndarray,
                alpha: float, seed: int, extra: dict[str, Any] | None = None,
                groups: list[tuple[Any, np.ndarray]] | None = None) -> list[dict[str, Any]]:
    """All pairs of rows of each ``values[k]`` ([samplers, problems], NaN = absent), per group of
    problems (``groups``: (name, mask)); paired bootstrap with the given resample ``weights``."""
    rows, diffs = [], []
    for kv, v in values.items():
        for gname, mask in (groups or [(None, np.ones(v.shape[1], bool))]):
            for i in range(len(names)):
                for j in range(i + 1, len(names)):
                    d = np.where(mask, v[i] - v[j], np.nan)
                    shared = int((~np.isnan(d)).sum())
                    if shared < MIN_PROBLEMS:
                        continue
                    row = {"k": kv, "a": names[i], "b": names[j], "problems": shared,
                           "pass_a": float(np.nanmean(np.where(mask, v[i], np.nan)[~np.isnan(d)])),
                           "pass_b": float(np.nanmean(np.where(mask, v[j], np.nan)[~np.isnan(d)])),
                           "diff": float(np.nanmean(d))}
                    if gname is not None:
                        row["tier"] = gname
                    rows.append(row)
                    diffs.append(d)
    if not rows:
        return []
    d = np.stack(diffs, axis=1)                             # [problems, tests]
    have = ~np.isnan(d)
    with np.errstate(invalid="ignore", divide="ignore"):
        reps = (weights @ np.where(have, d, 0.0)) / (weights @ have.astype(np.float64))
    # Paired sign-flip randomisation test over problems: under "a and b are exchangeable" each
    # problem's difference is as likely to have either sign, so flipping signs draws from the
    # null exactly (no normal or t approximation, whose tails Holm's small thresholds reach).
    flips = sign_flips(d.shape[0], PERMUTATIONS, seed)
    dz = np.where(have, d, 0.0)
    obs = np.abs(dz.sum(axis=0))
    null = np.abs(flips @ dz)                               # [flips, tests], sums (counts cancel)
    p_perm = (1.0 + (null >= obs[None, :] - 1e-12).sum(axis=0)) / (PERMUTATIONS + 1.0)
    m = len(rows)
    for t, row in enumerate(rows):
        r = reps[:, t]
        r = r[~np.isnan(r)]
        P = row["problems"]
        # SE of the paired mean over problems (the unit), for the corrected interval
        dd = diffs[t][~np.isnan(diffs[t])]
        se = float(dd.std(ddof=1) / math.sqrt(P))
        lo, hi = (np.quantile(r, [0.025, 0.975]) if r.size else (np.nan, np.nan))
        diff = row["diff"]
        p = 1.0 if diff == 0 else float(p_perm[t])
        z_corr = float(student_t.ppf(1 - alpha / (2 * m), P - 1))
        row.update(se=se, lo=float(lo), hi=float(hi), lo_corrected=diff - z_corr * se,
                   hi_corrected=diff + z_corr * se, p_value=p)
        if extra:
            row.update(extra)
    adj = holm([r["p_value"] for r in rows])
    for row, a in zip(rows, adj):
        row["p_holm"] = float(a)
        row["significant"] = bool(a < alpha)
    return rows


def compare(sc: SweepCounts, k: int | None = None, *, n_boot: int = 1000, seed: int | None = None,
            alpha: float = ALPHA, rater: str | None = None, strata: bool = True) -> Comparison:
    """The comparison of the module docstring on one model × task.

    ``k``: default n/2 with n the largest samples per problem of a configuration.  ``seed``:
    default :func:`data_seed` of the counts.  ``rater``: rate tiers on this sampler's selection
    half only (on request; biased against it) instead of the pooled comparison set.
    """
    n_tot = sc.n.sum(axis=2)
    if k is None:
        k = default_k(int(n_tot.max(initial=0)))
    if seed is None:
        seed = data_seed(sc.n, sc.c, np.array([k]))
    chosen, selected = _choose(sc, k)
    names = sorted(chosen)
    P = sc.n.shape[1]
    # evaluation counts per sampler: the other half if its configuration was selected, else all.
    # A selected configuration without odd seeds (one greedy sample per problem) cannot be held
    # out: it is scored on the samples it was chosen on, and ``scores`` says so (peeked).
    held = {s: bool(selected[s] and sc.n[chosen[s], :, EVAL_HALF].sum() > 0) for s in names}
    en = np.stack([sc.n[chosen[s], :, EVAL_HALF] if held[s] else n_tot[chosen[s]] for s in names]) \
        if names else np.zeros((0, P), np.int64)
    ec = np.stack([sc.c[chosen[s], :, EVAL_HALF] if held[s] else sc.c[chosen[s]].sum(axis=1) for s in names]) \
        if names else np.zeros((0, P), np.int64)
    weights = resample_weights(P, n_boot, seed % (2 ** 32)) if P and n_boot > 0 else np.zeros((0, P))
    ks = sorted({1, k})
    vals = {kv: np.where(en > 0, pass_matrix(en, ec, kv), np.nan) for kv in ks}
    scores = []
    for i, s in enumerate(names):
        row = {"sampler": s, "label": sc.labels[chosen[s]], "selected_on_other_half": held[s],
               "peeked": selected[s] and not held[s],
               "problems": int((en[i] > 0).sum()), "samples": int(en[i].max(initial=0))}
        for kv in ks:
            row[f"pass@{kv}"] = float(np.nanmean(vals[kv][i])) if (~np.isnan(vals[kv][i])).any() else None
        scores.append(row)
    tests = _pair_tests(vals, names, weights, alpha, seed) if weights.size else []
    cmp = Comparison(k=k, seed=seed, chosen=chosen, selected=held, scores=scores, tests=tests,
                     family=len(tests), threshold=alpha / max(1, len(tests)))
    if strata and names:
        _strata(sc, cmp, names, weights, alpha, rater)
    return cmp


def _strata(sc: SweepCounts, cmp: Comparison, names: list[str], weights: np.ndarray, alpha: float,
            rater: str | None) -> None:
    P = sc.n.shape[1]
    idx = [cmp.chosen[s] for s in names]
    if sc.tiers is not None:
        tiers, source = np.asarray(sc.tiers, dtype=object), sc.tier_source
        # nothing was rated in-sweep: score what the headline scores
        en = np.stack([sc.n[i, :, EVAL_HALF] if cmp.selected[s] else sc.n[i].sum(axis=1) for s, i in zip(names, idx)])
        ec = np.stack([sc.c[i, :, EVAL_HALF] if cmp.selected[s] else sc.c[i].sum(axis=1) for s, i in zip(names, idx)])
    else:
        n0, c0 = sc.n[idx, :, SELECT_HALF], sc.c[idx, :, SELECT_HALF]
        with np.errstate(invalid="ignore", divide="ignore"):
            rate = np.where(n0 > 0, c0 / np.maximum(n0, 1), np.nan)
        if rater is None:
            pooled = _nanmean(rate, 0)          # equal weight per configuration
            source = (f"solve rate pooled over the compared configurations' even seeds, equal weight per "
                      f"configuration ({len(idx)}); only odd seeds are scored")
        else:
            if rater not in names:
                raise ValueError(f"rater {rater!r} is not a compared sampler ({', '.join(names)})")
            pooled = rate[names.index(rater)]
            source = (f"solve rate of {rater} alone on its even seeds (on request); only odd seeds are scored — "
                      f"{rater} is disadvantaged on the hard tiers (regression to the mean)")
        tiers = tier_of_rates(pooled)
        en, ec = sc.n[idx, :, EVAL_HALF], sc.c[idx, :, EVAL_HALF]
    cmp.tier_source, cmp.problem_tiers = source, tiers
    top = en[en > 0]
    if top.size == 0:
        return
    k = min(cmp.k, int(top.min()))
    v = np.where(en >= k, pass_matrix(en, ec, k), np.nan)
    order = [t for t in (*TIERS, "extra-hard", "unlabelled", "unrated") if t in set(tiers)]
    order += sorted(set(tiers) - set(order), key=str)
    groups = [(t, tiers == t) for t in order]
    for t, mask in groups:
        for i, s in enumerate(names):
            x = v[i][mask]
            x = x[~np.isnan(x)]
            row = {"tier": t, "sampler": s, "label": sc.labels[idx[i]], "k": k, "problems": int(x.size),
                   f"pass@{k}": float(x.mean()) if x.size else None}
            if x.size and weights.size:
                w = weights[:, mask][:, ~np.isnan(v[i][mask])]
                with np.errstate(invalid="ignore", divide="ignore"):
                    reps = (w @ x) / w.sum(axis=1)
                reps = reps[~np.isnan(reps)]
                row[f"pass@{k}_lo"], row[f"pass@{k}_hi"] = (float(q) for q in np.quantile(reps, [0.025, 0.975]))
            cmp.strata.append(row)
    cmp.strata_tests = _pair_tests({k: v}, names, weights, alpha, cmp.seed, groups=groups) if weights.size else []
    cmp.strata_family = len(cmp.strata_tests)
