"""The masked-diffusion ELBO estimator behind lm-eval's ``loglikelihood`` (workers/lmeval/elbo.py).

Checked on exact denoisers of tabulated joints (workers/exact_models.py), where the bound can be
computed by enumerating every masked set, and where — the conditionals being exact — it equals
log p itself (every order of the any-order factorisation gives log p)."""
from __future__ import annotations

import collections
import math

import pytest
import torch

from workers.exact_models import ExactJointModel
from workers.lmeval.elbo import DEFAULT_DRAWS, elbo, elbo_draws, exact_elbo, mask_counts


def test_mask_counts_are_stratified_and_cover_one_to_L():
    g = torch.Generator().manual_seed(3)
    c = mask_counts(5, 10, g)
    assert c.min() >= 1 and c.max() <= 5
    assert sorted(c.tolist()) == [1, 1, 2, 2, 3, 3, 4, 4, 5, 5]   # every ratio twice with 10 draws of L=5
    # marginally uniform: over many seeds each draw's count is uniform on 1..L
    first = collections.Counter([int(mask_counts(4, 3, torch.Generator().manual_seed(s))[0]) for s in range(4000)])
    assert all(abs(first[k] / 4000 - 0.25) < 0.03 for k in (1, 2, 3, 4)), first


def test_exact_bound_equals_log_likelihood_for_exact_conditionals():
    m = ExactJointModel.random(V=3, n=4, seed=1, num_tables=2)
    for prompt, cont in [([1], [0, 2, 1, 1]), ([2], [2, 2, 0, 1])]:
        assert exact_elbo(m, prompt, cont) == pytest.approx(math.log(m.probability(cont, prompt)), abs=1e-9)


@pytest.mark.parametrize("seed", [0, 1])
def test_monte_carlo_mean_within_its_confidence_interval_of_the_exact_bound(seed):
    m = ExactJointModel.random(V=3, n=5, seed=7, concentration=0.3)
    prompt, cont = [0], [1, 0, 2, 2, 1]
    draws = elbo_draws(m, prompt, cont, n_draws=DEFAULT_DRAWS, seed=seed)
    exact = exact_elbo(m, prompt, cont)
    half = 4.0 * float(draws.std()) / math.sqrt(len(draws))   # 4σ: the stratified draws are less variable still
    assert abs(float(draws.mean()) - exact) <= half, (float(draws.mean()), exact, half)
    # the same seed gives the same estimate (batching does not change it)
    assert elbo(m, prompt, cont, seed=seed, batch_size=7) == pytest.approx(float(draws.mean()), abs=1e-12)


def test_multiple_choice_ranking_is_stable_across_seeds():
    """Four choices of one question whose true log-likelihoods differ by > 0.5 nats: at the default
    number of draws the ELBO picks the same (true) best choice and the same order for every seed."""
    m = ExactJointModel.random(V=3, n=3, seed=11, concentration=0.4)
    table = m.distribution([0])
    order = table.argsort(descending=True).tolist()
    picks = [order[0], order[3], order[8], order[20]]
    choices = [m.seqs[i].tolist() for i in picks]
    lps = [math.log(float(table[i])) for i in picks]
    assert all(a - b > 0.5 for a, b in zip(lps, lps[1:]))
    rankings = set()
    for seed in range(5):
        est = [elbo(m, [0], c, seed=seed) for c in choices]
        rankings.add(tuple(sorted(range(4), key=lambda i: -est[i])))
    assert rankings == {(0, 1, 2, 3)}


def test_empty_continuation_is_an_error():
    m = ExactJointModel.random(V=2, n=2)
    with pytest.raises(ValueError, match="empty"):
        elbo(m, [0], [])
