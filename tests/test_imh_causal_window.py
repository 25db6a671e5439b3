"""IMH on a causal-window model, as 000 §5 runs it on WeDLM: positions decided in the streaming
window, lookahead Δ̂ cut to a window of N positions after i (N = 16 for WeDLM; 2 here).

The model is a tabulated joint exposed as a causal-window denoiser
(``workers.exact_models.CausalWindowJointModel``), so the targets are exact enumerations.
"""
from __future__ import annotations

import numpy as np
import pytest
import torch

from stats_helpers import chi2_pvalue, counts
from test_imh import first_commit, imh_chain_law, imh_target, law_pvalue
from test_samplers_exact import exact_marginals
from workers.exact_models import CausalWindowJointModel
from workers.samplers import make_sampler

W = 2   # the stream window and IMH's lookahead window of this miniature


@pytest.fixture(scope="module")
def model() -> CausalWindowJointModel:
    return CausalWindowJointModel.random(V=3, n=4, seed=5, num_tables=2, concentration=0.5, stream_window=W)


@pytest.mark.slow
def test_imh_with_a_window_targets_eq8_with_r_cut_to_the_window(model):
    """π_i(v) ∝ exp(α ℓ_{i,v} + Σ_{j ∈ R(s′), i < j ≤ i+N} log Σ_u p_j(u|s′)^α) (000 Eq. 8, §5);
    not the target over every remaining position.  T = 8 as 000 App. B runs WeDLM: the token's
    exact law is the IMH chain's after 8 moves from x ~ r = softmax(α ℓ_i) towards that π."""
    alpha, n, T = 2.0, 5_000, 8
    out = make_sampler("imh", alpha=alpha, chain_length=T, window=W, position="entropy").generate(
        model, [[1]] * n, gen_length=4, seeds=range(10_000, 10_000 + n))
    pos, tok = first_commit(out)
    i = int(pos[0])
    assert (pos == i).all() and i < W          # decided inside the streaming window
    r = exact_marginals(model, torch.tensor([1] + [model.mask_id] * 4))[i] ** alpha
    r /= r.sum()
    cut = imh_chain_law(r, imh_target(model, alpha, i, window=range(i + 1, min(i + 1 + W, 4))), T)
    every = imh_chain_law(r, imh_target(model, alpha, i), T)
    assert np.abs(cut - every).sum() > 0.05, "fixture cannot tell the windows apart"
    assert chi2_pvalue(counts(tok, 3), cut) > 0.01
    assert chi2_pvalue(counts(tok, 3), every) < 1e-6


def stream_entropy_law(m: CausalWindowJointModel, stream: int | None, prompt=(1,)) -> dict:
    """Exact law of (commit order, tokens) of ``entropy`` at τ = 1 when each step decides among
    the ``stream`` positions from the first masked one (None: all masked positions)."""
    n, mask = m.n, m.mask_id
    law: dict = {}

    def walk(state: list, order: tuple, prob: float) -> None:
        masked = [j for j in range(n) if state[j] == mask]
        if not masked:
            law[(order, tuple(state))] = law.get((order, tuple(state)), 0.0) + prob
            return
        if stream:
            masked = [j for j in masked if j < masked[0] + stream]
        marg = exact_marginals(m, torch.tensor(list(prompt) + state))
        neg_h = (marg * np.log(np.where(marg > 0, marg, 1))).sum(1)
        j = max(masked, key=lambda k: (neg_h[k], -k))
        for v in range(m.V):
            if marg[j][v] > 0:
                walk(state[:j] + [v] + state[j + 1:], order + (j,), prob * marg[j][v])

    walk([mask] * n, (), 1.0)
    return law


def test_imh_at_alpha_one_samples_the_streaming_base_rules_law(model):
    """IMH(α = 1, window = N) is its base rule (entropy) at τ = 1 on the causal-window model — as
    a law over (commit order, tokens) — and that law is the streaming one, not the unrestricted."""
    n = 4_000
    law = stream_entropy_law(model, W)
    free = stream_entropy_law(model, None)
    keys = set(law) | set(free)
    assert 0.5 * sum(abs(law.get(k, 0) - free.get(k, 0)) for k in keys) > 0.05, "window changes nothing here"
    a = make_sampler("imh", alpha=1.0, chain_length=2, window=W, position="entropy").generate(
        model, [[1]] * n, gen_length=4, seeds=range(n))
    b = make_sampler("entropy", temperature=1.0).generate(model, [[1]] * n, gen_length=4, seeds=range(n, 2 * n))
    assert law_pvalue(a, law) > 0.01 and law_pvalue(b, law) > 0.01
    with pytest.raises(AssertionError):   # samples fall outside, or fit badly, the unrestricted law
        assert law_pvalue(b, free) > 0.01
