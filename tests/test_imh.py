"""IMH global tempering (000 §4.3, Alg. 1) samples its target π_i(v) ∝ exp(α ℓ_v + Δ̂_v)."""
from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from stats_helpers import chi2_pvalue, counts
from test_samplers_exact import exact_marginals
from workers.exact_models import ExactJointModel, ProductModel
from workers.samplers import make_sampler

N_DRAWS = 20_000


def first_commit(out) -> tuple[np.ndarray, np.ndarray]:
    """(position, token) of each sample's first committed token."""
    pos = np.array([t.order[0] for t in out.traces])
    return pos, out.tokens.numpy()[np.arange(len(pos)), pos]


def imh_target(model: ExactJointModel, alpha: float, i: int, prompt=(1,), window=None) -> np.ndarray:
    """π_i(v) ∝ exp(α ℓ_v + Δ̂_v) at the all-masked state, by enumeration (Eq. 8; Δ̂ sums over
    ``window``, default R(s′) = every other position)."""
    n, mask = model.n, model.mask_id
    state = torch.tensor(list(prompt) + [mask] * n)
    ell = np.log(exact_marginals(model, state)[i])
    logits = []
    for v in range(model.V):
        s2 = state.clone()
        s2[len(prompt) + i] = v
        marg = exact_marginals(model, s2)
        delta = sum(math.log((marg[j] ** alpha).sum()) for j in (range(n) if window is None else window) if j != i)
        logits.append(alpha * ell[v] + delta)
    w = np.exp(np.array(logits) - max(logits))
    return w / w.sum()


def imh_chain_law(r: np.ndarray, pi: np.ndarray, T: int) -> np.ndarray:
    """Exact law of the IMH state after T moves from x ~ r, with kernel K(x→y) = r(y)·min(1, w_y/w_x)."""
    w = pi / r
    V = len(r)
    K = np.zeros((V, V))
    for x in range(V):
        for y in range(V):
            if y != x:
                K[x, y] = r[y] * min(1.0, w[y] / w[x])
        K[x, x] = 1 - K[x].sum()
    return r @ np.linalg.matrix_power(K, T)


@pytest.fixture(scope="module")
def joint() -> ExactJointModel:
    return ExactJointModel.random(V=3, n=3, seed=11, num_tables=2, concentration=0.7)


@pytest.mark.parametrize("position", ["random", "entropy"])
def test_alpha_one_is_plain_sampling_with_full_acceptance(joint, position):
    s = make_sampler("imh", alpha=1.0, chain_length=3, position=position, window="all")
    out = s.generate(joint, [[1]] * N_DRAWS, gen_length=3, seeds=range(N_DRAWS))
    assert all(t.acceptance_rate == 1.0 for t in out.traces)
    assert max(t.extra["delta_spread_mean"] for t in out.traces) < 1e-9       # Δ̂ ≡ 0
    # one token per step from the exact conditional, in any adaptive order = the joint itself
    observed = counts(joint.index_of(out.tokens).numpy(), 27)
    assert chi2_pvalue(observed, joint.distribution([1]).numpy()) > 0.01


@pytest.mark.parametrize("alpha", [0.5, 3.0])
def test_product_model_commits_the_tempered_marginal(alpha):
    probs = torch.tensor([[0.5, 0.3, 0.15, 0.05], [0.4, 0.4, 0.1, 0.1]], dtype=torch.float64)
    model = ProductModel(probs)
    s = make_sampler("imh", alpha=alpha, chain_length=31, position="margin", window="all")
    out = s.generate(model, [[0]] * N_DRAWS, gen_length=2, seeds=range(N_DRAWS))
    pos, tok = first_commit(out)
    assert (pos == pos[0]).all()
    target = probs[pos[0]].numpy() ** alpha
    assert chi2_pvalue(counts(tok, 4), target / target.sum()) > 0.01
    assert all(t.acceptance_rate == 1.0 for t in out.traces)   # Δ̂ does not depend on the candidate


def test_correlated_model_converges_to_the_corrected_conditional(joint):
    alpha = 2.0
    s = make_sampler("imh", alpha=alpha, chain_length=31, position="entropy", window="all")
    out = s.generate(joint, [[1]] * N_DRAWS, gen_length=3, seeds=range(N_DRAWS))
    pos, tok = first_commit(out)
    i = int(pos[0])
    assert (pos == i).all()
    pi = imh_target(joint, alpha, i)
    r = exact_marginals(joint, torch.tensor([1] + [joint.mask_id] * 3))[i] ** alpha
    r /= r.sum()
    assert np.abs(pi - r).sum() > 0.05, "fixture too weakly correlated to tell π from the proposal"
    assert chi2_pvalue(counts(tok, 3), pi) > 0.01
    assert chi2_pvalue(counts(tok, 3), r) < 1e-6         # and it is not just the proposal
    acc = np.mean([t.acceptance_rate for t in out.traces])
    assert 0.0 < acc < 1.0


def test_short_chains_move_monotonically_toward_the_target(joint):
    alpha, n = 2.0, 10_000
    i = 0
    pi = imh_target(joint, alpha, i)
    r = exact_marginals(joint, torch.tensor([1] + [joint.mask_id] * 3))[i] ** alpha
    r /= r.sum()
    tvs = []
    for T in range(1, 5):
        law = imh_chain_law(r, pi, T)
        tvs.append(0.5 * np.abs(law - pi).sum())
        # position rule "confidence" picks position 0 here; check that, then the law of the token
        s = make_sampler("imh", alpha=alpha, chain_length=T, position="confidence", window="all")
        out = s.generate(joint, [[1]] * n, gen_length=3, seeds=range(T * n, (T + 1) * n))
        pos, tok = first_commit(out)
        assert (pos == i).all()
        assert chi2_pvalue(counts(tok, 3), law) > 0.01, f"T={T}"
    assert all(a >= b - 1e-15 for a, b in zip(tvs, tvs[1:])) and tvs[-1] < tvs[0]


def test_nfe_matches_the_one_token_baseline_and_rows_are_accounted():
    model = ExactJointModel.random(V=3, n=4, seed=2)
    T = 5
    for window, lookahead_steps in (("block", 2), ("all", 3)):
        imh = make_sampler("imh", alpha=2.0, chain_length=T, position="entropy", window=window)
        base = make_sampler("entropy", temperature=0.5)
        a = imh.generate(model, [[0]] * 4, gen_length=4, block_length=2 if window == "block" else 4, seeds=range(4))
        b = base.generate(model, [[0]] * 4, gen_length=4, block_length=2 if window == "block" else 4, seeds=range(4))
        for ta, tb in zip(a.traces, b.traces):
            assert ta.nfe == tb.nfe == 4
            # (T+1) rows on every step with a non-empty lookahead window, 1 row otherwise
            assert ta.forward_rows == ta.nfe + T * lookahead_steps


def test_candidate_forward_chunking_does_not_change_the_output():
    model = ExactJointModel.random(V=3, n=4, seed=4)
    kw = dict(gen_length=4, block_length=4, seeds=range(6))
    big = make_sampler("imh", alpha=3.0, chain_length=4).generate(model, [[1]] * 6, **kw)
    small = make_sampler("imh", alpha=3.0, chain_length=4, max_rows=3).generate(model, [[1]] * 6, **kw)
    assert torch.equal(big.tokens, small.tokens)
    assert [t.forward_rows for t in big.traces] == [t.forward_rows for t in small.traces]


@pytest.mark.parametrize("alpha", [0.1, 10.0])
def test_extreme_alphas_stay_finite(alpha):
    model = ExactJointModel.random(V=3, n=4, seed=9, concentration=0.2)
    out = make_sampler("imh", alpha=alpha, chain_length=4).generate(model, [[1]] * 8, gen_length=4, seeds=range(8))
    assert all(math.isfinite(t.extra["delta_spread_mean"]) and 0 <= t.acceptance_rate <= 1 for t in out.traces)


@pytest.mark.parametrize("params, message", [
    ({"alpha": 0}, "alpha"), ({"alpha": -1}, "alpha"), ({"chain_length": 0}, "chain_length"),
    ({"window": "nearby"}, "window"), ({"window": 0}, "window"), ({"position": "best"}, "position"),
])
def test_bad_parameters_raise_one_line_errors(params, message):
    with pytest.raises(ValueError, match=message) as err:
        make_sampler("imh", **params)
    assert "\n" not in str(err.value)


# --------------------------------------------------------------- IMH's target and base sampler
@pytest.mark.slow
def test_default_imh_targets_eq8_with_all_remaining_positions():
    """000 Eq. 8 sums Δ̂ over R(s′), every remaining masked position — also those in later blocks.

    With two blocks of two, the default IMH (large T) must match π_i with R(s′) = all, and must
    not match the block-window target (which leaves out block 1)."""
    model = ExactJointModel.random(V=3, n=4, seed=5, num_tables=2, concentration=0.5)
    alpha, n = 2.0, 8_000
    out = make_sampler("imh", alpha=alpha, chain_length=31).generate(
        model, [[1]] * n, gen_length=4, block_length=2, seeds=range(n))
    pos, tok = first_commit(out)
    i = int(pos[0])
    assert (pos == i).all() and i < 2
    pi_all = imh_target(model, alpha, i)
    pi_block = imh_target(model, alpha, i, window=range(2))
    assert np.abs(pi_all - pi_block).sum() > 0.05, "fixture cannot tell the windows apart"
    assert chi2_pvalue(counts(tok, 3), pi_all) > 0.01
    assert chi2_pvalue(counts(tok, 3), pi_block) < 1e-6


def base_law(model: ExactJointModel, rule: str, temperature: float = 1.0, prompt=(1,)) -> dict:
    """Exact law of (commit order, tokens) of a one-token rank-then-sample rule, by enumeration:
    the position is the argmax of the rule's score on the untempered marginals (uniform for
    "random"), the token is drawn from p^{1/τ}."""
    n, mask = model.n, model.mask_id
    law: dict = {}

    def score(m: np.ndarray) -> np.ndarray:
        if rule == "max_prob":
            return m.max(1)
        if rule == "entropy":
            return (m * np.log(np.where(m > 0, m, 1))).sum(1)
        srt = np.sort(m, 1)
        return srt[:, -1] - srt[:, -2]

    def walk(state: list, order: tuple, prob: float) -> None:
        masked = [j for j in range(n) if state[j] == mask]
        if not masked:
            law[(order, tuple(state))] = law.get((order, tuple(state)), 0.0) + prob
            return
        marg = exact_marginals(model, torch.tensor(list(prompt) + state))
        if rule == "random":
            choices = [(j, 1.0 / len(masked)) for j in masked]
        else:
            s = score(marg)
            choices = [(max(masked, key=lambda j: (s[j], -j)), 1.0)]
        for j, pj in choices:
            w = marg[j] ** (1.0 / temperature)
            w = w / w.sum()
            for v in range(model.V):
                if w[v] > 0:
                    walk(state[:j] + [v] + state[j + 1:], order + (j,), prob * pj * w[v])

    walk([mask] * n, (), 1.0)
    return law


def law_pvalue(out, law: dict) -> float:
    cells = {key: k for k, key in enumerate(law)}
    idx = np.array([cells.get((tuple(t.order), tuple(row)), -1)
                    for t, row in zip(out.traces, out.tokens.tolist())])
    assert (idx >= 0).all(), "a sample fell outside the base sampler's support"
    return chi2_pvalue(counts(idx, len(cells)), np.array(list(law.values())))


@pytest.mark.parametrize("position", ["confidence", "entropy", "margin", "random"])
def test_imh_at_alpha_one_samples_its_base_samplers_law(joint, position):
    """Issue 16 point 3: IMH(α = 1, any T) = its registered base sampler at τ = 1, as a law over
    (commit order, tokens), χ² against exact enumeration; the base sampler itself too."""
    from workers.samplers.imh import BASE_SAMPLERS

    imh = make_sampler("imh", alpha=1.0, chain_length=2, position=position)
    base_name = imh.base_sampler
    assert base_name == BASE_SAMPLERS[position]
    law = base_law(joint, base_name)
    n = 8_000
    a = imh.generate(joint, [[1]] * n, gen_length=3, seeds=range(n))
    b = make_sampler(base_name, temperature=1.0).generate(joint, [[1]] * n, gen_length=3, seeds=range(n, 2 * n))
    assert law_pvalue(a, law) > 0.01
    assert law_pvalue(b, law) > 0.01


def test_the_law_check_tells_position_rules_apart(joint):
    """Guard: the χ² over (order, tokens) rejects IMH(α = 1) against another rule's law, and
    max_prob at τ = 0.5 against its τ = 1 law (so the test above can fail)."""
    n = 8_000
    imh = make_sampler("imh", alpha=1.0, chain_length=2, position="confidence")
    a = imh.generate(joint, [[1]] * n, gen_length=3, seeds=range(n))
    tv = 0.5 * sum(abs(p - base_law(joint, "entropy").get(k, 0.0)) for k, p in base_law(joint, "max_prob").items())
    assert tv > 0.05, "fixture cannot tell max_prob from entropy"
    with pytest.raises(AssertionError):
        assert law_pvalue(a, base_law(joint, "entropy")) > 0.01
    cold = make_sampler("max_prob", temperature=0.5).generate(joint, [[1]] * n, gen_length=3, seeds=range(n))
    assert law_pvalue(cold, base_law(joint, "max_prob", temperature=0.5)) > 0.01
    assert law_pvalue(cold, base_law(joint, "max_prob")) < 1e-6


def test_acceptance_rate_counts_only_steps_that_had_a_proposal(joint):
    """000 Table 3's rate is over decisions: the last step of a sample has nothing left masked in
    its window (Δ̂ ≡ 0, all T moves accepted by construction) and must not count."""
    s = make_sampler("imh", alpha=2.0, chain_length=4, position="entropy", window="all")
    out = s.generate(joint, [[1]] * 8, gen_length=3, seeds=range(8))
    assert all(t.extra["proposals"] == 4 * 2 for t in out.traces)   # steps 1 and 2 of 3
    assert all(t.acceptance_rate == t.extra["accepted"] / 8 for t in out.traces)
    probs = torch.tensor([[0.5, 0.3, 0.15, 0.05]], dtype=torch.float64)
    lone = make_sampler("imh", alpha=2.0, chain_length=4).generate(ProductModel(probs), [[0]] * 2, gen_length=1,
                                                                   seeds=range(2))
    assert all(t.acceptance_rate is None for t in lone.traces)       # no proposal at all: no rate
