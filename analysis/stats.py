"""Bootstrap over problems (docs/design.md §6: CIs over problems, not over samples).

Problems are the unit of replication: the samples of one problem are correlated, and the
question a sweep answers is how a sampler does on another draw of problems.  All configurations
of a comparison share one set of resamples, which makes differences paired.
"""
from __future__ import annotations

import functools
import warnings

import numpy as np

__all__ = ["resample_weights", "bootstrap_means", "percentile_ci", "mean_ci"]


@functools.lru_cache(maxsize=4)
def resample_weights(p: int, n_boot: int, seed: int = 0) -> np.ndarray:
    """[n_boot, p] counts: how often each of p problems is drawn in each replicate (read-only).

    Cached: a report compares many configurations on the same problems with the same seed.
    """
    rng = np.random.default_rng(seed)
    draws = rng.integers(0, p, size=(n_boot, p)) + p * np.arange(n_boot)[:, None]
    # One bincount over all replicates (a multinomial per replicate is ~100× slower).
    weights = np.bincount(draws.ravel(), minlength=n_boot * p).reshape(n_boot, p).astype(np.float64)
    weights.flags.writeable = False
    return weights


def bootstrap_means(values: np.ndarray, n_boot: int = 1000, seed: int = 0) -> np.ndarray:
    """Resampled means of each column of ``values`` ([problems, series]; NaN = not run).

    Returns [n_boot, series].  Each replicate draws problems with replacement (as counts, so
    one matrix product does all series); a series averages only over the problems
    it has.  A replicate that draws none of a series' problems gives NaN for it.
    """
    values = np.asarray(values, dtype=np.float64)
    if values.ndim == 1:
        values = values[:, None]
    p = values.shape[0]
    if p == 0 or n_boot <= 0:
        return np.full((max(n_boot, 0), values.shape[1]), np.nan)
    weights = resample_weights(p, n_boot, seed)
    have = ~np.isnan(values)
    total = weights @ np.where(have, values, 0.0)
    count = weights @ have.astype(np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        return total / count


def percentile_ci(replicates: np.ndarray, level: float = 0.95) -> tuple[np.ndarray, np.ndarray]:
    """Percentile interval of bootstrap replicates along axis 0 (NaN replicates ignored)."""
    tail = (1.0 - level) / 2.0
    if replicates.size == 0:
        nan = np.full(replicates.shape[1:], np.nan)
        return nan, nan.copy()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # an all-NaN column gives NaN bounds
        lo = np.nanquantile(replicates, tail, axis=0)
        hi = np.nanquantile(replicates, 1.0 - tail, axis=0)
    return lo, hi


def mean_ci(values: np.ndarray, n_boot: int = 2000, seed: int = 0, level: float = 0.95) -> tuple[float, float, float]:
    """Mean of per-unit ``values`` (e.g. paired differences b − a) with its percentile bootstrap
    CI over the units: (mean, low, high)."""
    v = np.asarray(values, dtype=np.float64).ravel()
    lo, hi = percentile_ci(bootstrap_means(v, n_boot=n_boot, seed=seed), level)
    return float(v.mean()), float(lo[0]), float(hi[0])
