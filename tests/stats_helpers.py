"""Exact-but-small statistics for sampler tests (deterministic: fixed seeds, fixed p-values)."""
from __future__ import annotations

import numpy as np
from scipy import stats


def chi2_pvalue(observed: np.ndarray, expected_probs: np.ndarray, min_expected: float = 5.0) -> float:
    """χ² goodness-of-fit p-value; cells with expected count < min_expected are pooled into one."""
    observed = np.asarray(observed, dtype=float)
    n = observed.sum()
    expected = np.asarray(expected_probs, dtype=float) * n / np.sum(expected_probs)
    small = expected < min_expected
    if small.any():
        observed = np.append(observed[~small], observed[small].sum())
        expected = np.append(expected[~small], expected[small].sum())
        if expected[-1] == 0:
            assert observed[-1] == 0, "a zero-probability outcome was sampled"
            observed, expected = observed[:-1], expected[:-1]
    return float(stats.chisquare(observed, expected).pvalue)


def counts(indices: np.ndarray, size: int) -> np.ndarray:
    return np.bincount(np.asarray(indices), minlength=size)
