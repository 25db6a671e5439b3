"""Simulated sweeps where the truth is known: the report's false-positive rate and power (issue 25).

Each simulated sweep has S samplers × C configurations × P problems × n seeds.  Per-problem solve
rates are logit-normal; in the **null**, every sampler draws its own rates from the same
distribution independently per problem (exchangeable samplers: same distribution of per-problem
skill, different problems), and configuration j of every sampler shifts the logit by the same
``config_shifts[j]`` (a knob that matters, identically for all).  ``shift`` > 0 makes the first
sampler better: its logits are raised so that its mean Pass@1 gains ``shift``.  With
``shared=True`` all samplers share the per-problem rates (one model, samplers that move it
slightly), the easier case for a paired test.

The counts go straight into :func:`analysis.compare.compare`, the function the report calls, so
200 sweeps take seconds.  ``python -m analysis.null_sim`` prints the family-wise rate of
"significant" headlines, mean tier differences, and (``--shift``) the detection rate; with
``--min-detectable`` the smallest gain the design detects with 80% power.  The main job's
size: ``--samplers 5 --configs 1 --problems 80 --samples 32`` (pareto.py's default: five
samplers, a family of 20 tests).
"""
from __future__ import annotations

import argparse
from dataclasses import dataclass
from typing import Sequence

import numpy as np

from .compare import TIERS, SweepCounts, compare

__all__ = ["Design", "simulate_counts", "run", "rater_bias", "min_detectable", "main"]


@dataclass(frozen=True)
class Design:
    """Size and rate distribution of one simulated sweep (default: the main job, 80 × 32)."""
    samplers: int = 4
    configs: int = 3
    problems: int = 80
    samples: int = 32
    logit_mean: float = -1.0
    logit_sd: float = 2.0
    config_shifts: tuple[float, ...] = (0.0, -0.3, -0.6)


def _shift_for(design: Design, base: np.ndarray, gain: float) -> float:
    """Logit shift that raises the mean rate of ``base`` logits by ``gain`` (bisection)."""
    lo, hi = 0.0, 5.0
    target = (1 / (1 + np.exp(-base))).mean() + gain
    for _ in range(40):
        mid = (lo + hi) / 2
        if (1 / (1 + np.exp(-(base + mid)))).mean() < target:
            lo = mid
        else:
            hi = mid
    return (lo + hi) / 2


def simulate_counts(design: Design, rng: np.random.Generator, shift: float = 0.0,
                    shared: bool = False) -> SweepCounts:
    """One simulated sweep's counts, split into even/odd seed halves."""
    S, C, P, n = design.samplers, design.configs, design.problems, design.samples
    shifts = np.resize(np.asarray(design.config_shifts, dtype=float), C)
    base = rng.normal(design.logit_mean, design.logit_sd, (1 if shared else S, P))
    base = np.broadcast_to(base, (S, P)).copy()
    if shift:
        # the mean gain is set on the expected rates (large-sample), per simulated sweep
        base[0] += _shift_for(design, rng.normal(design.logit_mean, design.logit_sd, 20_000) + shifts[0], shift)
    logits = base[:, None, :] + shifts[None, :, None]                 # [S, C, P]
    rate = 1 / (1 + np.exp(-logits))
    halves = np.array([(n + 1) // 2, n // 2])                          # even, odd seeds
    c = rng.binomial(halves[None, None, None, :], rate[..., None])      # [S, C, P, 2]
    nn = np.broadcast_to(halves, c.shape).copy()
    labels = [f"s{s} c{j}" for s in range(S) for j in range(C)]
    samplers = [f"s{s}" for s in range(S) for _ in range(C)]
    return SweepCounts(labels, samplers, nn.reshape(S * C, P, 2), c.reshape(S * C, P, 2))


def run(design: Design = Design(), sweeps: int = 200, *, shift: float = 0.0, shared: bool = False,
        n_boot: int = 500, seed: int = 0, rater: str | None = None, k: int | None = None) -> dict:
    """Simulate ``sweeps`` sweeps; return the rates a reviewer would check.

    ``any_significant``: share of sweeps whose headline family declares some difference;
    ``strata_significant``: same for the strata family; ``tier_diff``: per tier, (first sampler −
    mean of the others) Pass@k on that tier, averaged over sweeps weighting each sweep by the
    tier's problems (``tier_problems``: how many problems that is in all); ``detected``: share of
    sweeps in which the first sampler is significantly better than the second at Pass@1 (within the
    whole family of tests).
    """
    rng = np.random.default_rng(seed)
    sig = strata_sig = detected = 0
    tier = {t: [] for t in TIERS}
    for _ in range(sweeps):
        cmp = compare(simulate_counts(design, rng, shift, shared), k, n_boot=n_boot, rater=rater)
        sig += bool(cmp.significant())
        strata_sig += any(t["significant"] for t in cmp.strata_tests)
        wins = {(t["a"], t["b"]) for t in cmp.tests if t["k"] == 1 and t["significant"] and t["diff"] > 0}
        detected += ("s0", "s1") in wins
        for t in TIERS:
            rows = {r["sampler"]: r for r in cmp.strata if r["tier"] == t and r["problems"]}
            if "s0" in rows and len(rows) > 1:
                val = {s: r[f"pass@{r['k']}"] for s, r in rows.items()}
                others = float(np.mean([v for s, v in val.items() if s != "s0"]))
                tier[t].append((val["s0"] - others, rows["s0"]["problems"]))
    return {"sweeps": sweeps, "any_significant": sig / sweeps, "strata_significant": strata_sig / sweeps,
            "detected": detected / sweeps,
            "tier_diff": {t: _weighted(v)[0] for t, v in tier.items()},
            "tier_diff_se": {t: _weighted(v)[1] for t, v in tier.items()},
            "tier_problems": {t: int(sum(w for _, w in v)) for t, v in tier.items()}}


def _weighted(pairs: list[tuple[float, int]]) -> tuple[float | None, float | None]:
    """Problem-weighted mean over sweeps (every problem of the tier counts once) and its SE."""
    if not pairs:
        return None, None
    d, w = np.array([p[0] for p in pairs]), np.array([p[1] for p in pairs], dtype=float)
    mean = float((d * w).sum() / w.sum())
    if len(d) < 2:
        return mean, None
    se = float(np.sqrt(((w * (d - mean)) ** 2).sum()) / w.sum())   # ratio-estimator SE over sweeps
    return mean, se


def rater_bias(design: Design = Design(), sweeps: int = 100, seed: int = 0) -> dict[str, float | None]:
    """Mean Pass@k of the rating sampler minus the others', per tier, when one sampler rates the
    tiers on its own held-out seeds (exchangeable samplers: the truth is 0 on every tier)."""
    out = run(design, sweeps, n_boot=50, seed=seed, rater="s0")
    return out["tier_diff"]


def min_detectable(design: Design, *, shared: bool, target: float = 0.8, sweeps: int = 100,
                   n_boot: int = 300, seed: int = 0, step: float = 0.01, top: float = 0.5) -> tuple[float, float]:
    """Smallest Pass@1 gain (on a grid of ``step``) detected in ≥ ``target`` of simulated sweeps,
    and its detection rate; (nan, best rate) if even ``top`` is not."""
    best = 0.0
    for i in range(1, int(round(top / step)) + 1):
        gain = round(i * step, 6)
        rate = run(design, sweeps, shift=gain, shared=shared, n_boot=n_boot, seed=seed)["detected"]
        best = max(best, rate)
        if rate >= target:
            return gain, rate
    return float("nan"), best


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m analysis.null_sim [--sweeps 200] [--shift 0.05] [--shared] [--rater] [--min-detectable]``."""
    p = argparse.ArgumentParser(prog="python -m analysis.null_sim", description=__doc__.splitlines()[0])
    p.add_argument("--sweeps", type=int, default=200)
    p.add_argument("--samplers", type=int, default=4)
    p.add_argument("--configs", type=int, default=3)
    p.add_argument("--problems", type=int, default=80)
    p.add_argument("--samples", type=int, default=32)
    p.add_argument("--shift", type=float, default=0.0, help="mean Pass@1 gain of the first sampler")
    p.add_argument("--shared", action="store_true", help="samplers share per-problem rates")
    p.add_argument("--rater", action="store_true", help="the first sampler alone rates the tiers")
    p.add_argument("--n-boot", type=int, default=500)
    p.add_argument("--min-detectable", action="store_true",
                   help="scan gains (0.01 steps) for the smallest one detected in 80%% of sweeps")
    p.add_argument("--seed", type=int, default=0)
    a = p.parse_args(argv)
    d = Design(a.samplers, a.configs, a.problems, a.samples)
    res = run(d, a.sweeps, shift=a.shift, shared=a.shared, n_boot=a.n_boot, seed=a.seed,
              rater="s0" if a.rater else None)
    print(f"{a.sweeps} sweeps of {d.samplers} samplers × {d.configs} configs × {d.problems} problems × "
          f"{d.samples} samples; shift {a.shift:+.3f}{' (shared rates)' if a.shared else ''}")
    print(f"headline family significant in {res['any_significant']:.3f} of sweeps; "
          f"strata family in {res['strata_significant']:.3f}")
    if a.shift:
        print(f"first sampler significantly better than the second at Pass@1 in {res['detected']:.3f}")
    if a.min_detectable:
        gain, rate = min_detectable(d, shared=a.shared, sweeps=a.sweeps, n_boot=a.n_boot, seed=a.seed)
        print(f"smallest Pass@1 gain detected in ≥ 80% of sweeps: {gain:+.2f} (detection rate {rate:.3f})")
    for t in TIERS:
        v, se = res["tier_diff"][t], res["tier_diff_se"][t]
        print(f"  tier {t:9s}: first − others = {'–' if v is None else f'{v:+.4f} ± {se or 0:.4f}'}"
              f"  ({res['tier_problems'][t]} problems)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
