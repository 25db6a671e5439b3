"""analysis/stats.py: the project's one bootstrap over problems (docs/design.md §6)."""
from __future__ import annotations

import numpy as np
import pytest

from analysis.stats import mean_ci


def test_mean_ci_is_the_percentile_bootstrap_of_the_mean():
    """Against the textbook loop: draw units with replacement, take means, read the quantiles."""
    v = np.random.default_rng(3).integers(-1, 2, size=23).astype(float)
    rng = np.random.default_rng(0)   # mean_ci's seed: the same draws, in the same order
    boots = v[rng.integers(0, v.size, size=(500, v.size))].mean(1)
    mean, lo, hi = mean_ci(v, n_boot=500, seed=0)
    assert mean == pytest.approx(v.mean())
    assert (lo, hi) == pytest.approx((np.quantile(boots, 0.025), np.quantile(boots, 0.975)), abs=1e-12)
    assert lo <= mean <= hi


def test_mean_ci_of_a_constant_is_a_point():
    assert mean_ci(np.full(7, 0.5), n_boot=50) == pytest.approx((0.5, 0.5, 0.5))
