"""The samplers sample what the rules in docs/design.md §5 say, checked on exact denoisers."""
from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from stats_helpers import chi2_pvalue, counts
from workers.exact_models import ExactJointModel, ProductModel
from workers.samplers import SAMPLERS, make_sampler
from workers.samplers.base import Commit, Step

N_DRAWS = 20_000


@pytest.fixture(scope="module")
def joint() -> ExactJointModel:
    """A correlated joint over 3^4 sequences, with two prompt-selected tables."""
    return ExactJointModel.random(V=3, n=4, seed=7, num_tables=2, concentration=1.0)


def sample_many(model, name: str, prompt: list[int], n: int, **kw) -> torch.Tensor:
    s = make_sampler(name, temperature=1.0)
    return s.generate(model, [prompt] * n, seeds=range(n), **kw).tokens


# ----------------------------------------------------------------------------- joint sampling
@pytest.mark.parametrize("block_length", [4, 2, 1])
def test_random_order_one_token_sampling_reproduces_the_joint(joint, block_length):
    tokens = sample_many(joint, "random", [1], N_DRAWS, gen_length=4, block_length=block_length)
    observed = counts(joint.index_of(tokens).numpy(), 3**4)
    p = chi2_pvalue(observed, joint.distribution([1]).numpy())
    assert p > 0.01, f"χ² p = {p:.4g}: random-order sampling does not match the joint"


def test_the_chi2_check_can_fail_a_wrong_sampler(joint):
    """Guard: the same check rejects samples from the other prompt's table."""
    tokens = sample_many(joint, "random", [0], N_DRAWS, gen_length=4)
    observed = counts(joint.index_of(tokens).numpy(), 3**4)
    assert chi2_pvalue(observed, joint.distribution([1]).numpy()) < 1e-6


def test_bits_is_the_exact_sequence_nll_for_one_token_random_order(joint):
    out = make_sampler("random").generate(joint, [[1]] * 50, gen_length=4, seeds=range(50))
    for row, trace in zip(out.tokens, out.traces):
        exact = -math.log2(joint.probability(row.tolist(), prompt=[1]))
        assert trace.bits == pytest.approx(exact, abs=1e-9)


# ----------------------------------------------------------------------------- greedy position rules
# Independent positions with hand-picked marginals (tokens 0..2):
#   pos 0: [.50 .50 .00]  conf .50  margin .00  H .693
#   pos 1: [.60 .20 .20]  conf .60  margin .40  H .950
#   pos 2: [.55 .45 .00]  conf .55  margin .10  H .688
HAND = ProductModel(torch.tensor([[0.50, 0.50, 0.0], [0.60, 0.20, 0.20], [0.55, 0.45, 0.0]]))
HAND_ORDERS = {
    "confidence": [1, 2, 0],
    "entropy": [2, 0, 1],
    "margin": [1, 2, 0],
    "max_prob": [1, 2, 0],
    "left_to_right": [0, 1, 2],
}


@pytest.mark.parametrize("name", sorted(HAND_ORDERS))
def test_greedy_one_token_samplers_follow_the_hand_computed_order(name):
    out = make_sampler(name, temperature=0.0).generate(HAND, [[0]], gen_length=3, seeds=[123])
    assert out.traces[0].order == HAND_ORDERS[name]
    assert out.tokens[0].tolist() == [0, 0, 0]     # argmax tokens; ties go to the lower id
    assert out.traces[0].nfe == 3


class Recorder:
    """Wraps a sampler and records every (step, commit) it makes."""

    def __init__(self, sampler):
        self.sampler, self.log = sampler, []
        inner = sampler.select

        def select(step: Step) -> Commit:
            commit = inner(step)
            self.log.append((step, commit))
            return commit

        sampler.select = select


def exact_marginals(model: ExactJointModel, x: torch.Tensor) -> np.ndarray:
    """p_j(v | unmasked) by brute-force enumeration of the table, one row: [n, V]."""
    n, V = model.n, model.V
    gen = x[-n:].tolist()
    table = model.distribution(x[:-n].tolist()).numpy()
    marg = np.zeros((n, V))
    for k, seq in enumerate(model.seqs.tolist()):
        if all(g == model.mask_id or g == s for g, s in zip(gen, seq)):
            for j, s in enumerate(seq):
                marg[j, s] += table[k]
    return marg / marg.sum(1, keepdims=True)


def replay(model, name, params, block_length=4, n_samples=12, gen_length=4):
    """Decode and yield, per step and sample: window positions, eligible set, marginals, commit."""
    rec = Recorder(make_sampler(name, **params))
    rec.sampler.generate(model, [[1]] * n_samples, gen_length=gen_length,
                         block_length=block_length, seeds=range(n_samples))
    for step, commit in rec.log:
        for a in range(step.x.shape[0]):
            start = int(step.window_start[a])
            marg = exact_marginals(model, step.x[a])[start:start + block_length]
            yield (step.eligible[a].numpy(), marg, commit.mask[a].numpy(),
                   commit.tokens[a].numpy(), None if commit.forced is None else bool(commit.forced[a]))


@pytest.mark.parametrize("temperature", [0.0, 1.0])
def test_greedy_and_sampled_position_rules_match_enumeration_step_by_step(joint, temperature):
    rules = {
        "confidence": lambda m, tok: m[np.arange(len(tok)), tok],
        "entropy": lambda m, tok: (m * np.log(np.where(m > 0, m, 1))).sum(1),
        "margin": lambda m, tok: np.diff(np.sort(m, 1)[:, -2:], axis=1)[:, 0],
        "left_to_right": lambda m, tok: -np.arange(len(m), dtype=float),
        "max_prob": lambda m, tok: m.max(1),      # ranks on the marginal, whatever token is drawn
    }
    for name, score_fn in rules.items():
        for elig, marg, mask, tok, _ in replay(joint, name, {"temperature": temperature}):
            score = np.where(elig, score_fn(marg, tok), -np.inf)
            assert mask.sum() == 1 and mask[np.argmax(score)], name


def entropies(marg):
    return -(marg * np.log(np.where(marg > 0, marg, 1))).sum(1)


def test_threshold_commits_exactly_its_rule(joint):
    for thr in (0.3, 0.6, 0.95):
        for elig, marg, mask, tok, forced in replay(joint, "threshold", {"threshold": thr, "temperature": 1.0}):
            conf = np.where(elig, marg[np.arange(len(tok)), tok], -np.inf)
            want = elig & (conf >= thr)
            assert forced == (not want.any())
            if not want.any():
                want = np.zeros_like(elig)
                want[np.argmax(conf)] = True
            assert (mask == want).all()


def test_factor_commits_exactly_its_rule(joint):
    for f in (0.25, 1.0, 1.9):
        for elig, marg, mask, tok, forced in replay(joint, "factor", {"factor": f, "temperature": 1.0}):
            conf = marg[np.arange(len(tok)), tok]
            order = sorted(np.flatnonzero(elig), key=lambda j: (-conf[j], j))
            k = 0
            while k < len(order) and (k + 2) * (1 - conf[order[k]]) < f:
                k += 1
            assert forced == (k == 0)
            want = np.zeros_like(elig)
            want[order[:max(k, 1)]] = True
            assert (mask == want).all()


def test_eb_commits_exactly_its_rule(joint):
    for gamma in (0.0, 0.5, 2.0):
        for elig, marg, mask, tok, forced in replay(joint, "eb", {"gamma": gamma}):
            H = entropies(marg)
            order = sorted(np.flatnonzero(elig), key=lambda j: (H[j], j))
            k = max(kk for kk in range(1, len(order) + 1)
                    if sum(H[order[:kk]]) - H[order[kk - 1]] <= gamma + 1e-12)
            want = np.zeros_like(elig)
            want[order[:k]] = True
            assert (mask == want).all()


def test_med_commits_exactly_its_rule_and_respects_its_kl_bound(joint):
    multi = 0
    for lam, k_max in ((0.5, 2), (1.0, 3), (1.2, 2), (0.05, 4)):
        for elig, marg, mask, tok, forced in replay(joint, "med", {"lam": lam, "k_max": k_max, "temperature": 1.0}):
            H = entropies(marg)
            below = sorted((j for j in np.flatnonzero(elig) if H[j] < lam), key=lambda j: (H[j], j))
            want = np.zeros_like(elig)
            if below:
                want[below[:k_max]] = True
            else:
                want[min(np.flatnonzero(elig), key=lambda j: (H[j], j))] = True
            assert (mask == want).all() and forced == (not below)
            if mask.sum() > 1:
                multi += 1
                assert H[mask].sum() <= lam * k_max
    assert multi > 0, "the bound was never exercised"


def set_kl(model: ExactJointModel, x: torch.Tensor, positions: list[int]) -> tuple[float, float]:
    """(KL(joint of ``positions`` ‖ product of their marginals), Σ their marginal entropies) in
    nats, given the unmasked tokens of the row ``x``, by enumeration of the table."""
    n = model.n
    gen = x[-n:].tolist()
    table = model.distribution(x[:-n].tolist()).numpy()
    joint: dict[tuple, float] = {}
    for k, seq in enumerate(model.seqs.tolist()):
        if all(g == model.mask_id or g == s for g, s in zip(gen, seq)):
            key = tuple(seq[j] for j in positions)
            joint[key] = joint.get(key, 0.0) + table[k]
    z = sum(joint.values())
    marg = exact_marginals(model, x)[positions]
    kl = sum(p / z * math.log((p / z) / np.prod([marg[i, v] for i, v in enumerate(key)]))
             for key, p in joint.items() if p > 0)
    return kl, float(entropies(marg).sum())


def test_med_committed_sets_obey_004_kl_bound_on_the_exact_joint():
    """004 Eq. 5: KL(p(x^A | ·) ‖ Π p(x^i | ·)) ≤ Σ_{i∈A} H_i < λ·|A| ≤ λ·k_max for each committed
    set A of a non-forced round, with the KL computed exactly from the joint."""
    model = ExactJointModel.random(V=3, n=4, seed=4, num_tables=2, concentration=0.1)
    worst, multi = 0.0, 0
    for lam, k_max in ((0.3, 2), (0.6, 4), (0.15, 3), (1.0, 4)):
        rec = Recorder(make_sampler("med", lam=lam, k_max=k_max, temperature=1.0))
        rec.sampler.generate(model, [[1]] * 30, gen_length=4, block_length=4, seeds=range(30))
        for step, commit in rec.log:
            for a in range(step.x.shape[0]):
                A = [int(j) for j in commit.mask[a].nonzero().squeeze(1)]
                if len(A) < 2:
                    continue
                kl, h = set_kl(model, step.x[a], [int(step.window_start[a]) + j for j in A])
                assert not bool(commit.forced[a])
                assert -1e-12 <= kl <= h + 1e-12 and h < lam * len(A) <= lam * k_max
                worst, multi = max(worst, kl), multi + 1
    assert multi > 0 and worst > 1e-4, "no correlated multi-token commit: the bound was never exercised"


@pytest.mark.parametrize("name", ["threshold", "factor", "eb", "med"])
def test_multi_token_samplers_always_progress_and_account_rounds(joint, name):
    out = make_sampler(name).generate(joint, [[1]] * 40, gen_length=4, block_length=2, seeds=range(40))
    assert (out.tokens < joint.V).all()
    for t in out.traces:
        assert 1 <= t.nfe <= 4 and sorted(t.order) == [0, 1, 2, 3]
        assert t.exploit_rounds + t.explore_rounds == t.nfe
        assert t.exploit_bits + t.explore_bits == pytest.approx(t.bits)


# ----------------------------------------------------------------------------- batch invariance
@pytest.mark.parametrize("name", sorted(SAMPLERS))
def test_output_does_not_depend_on_batch_neighbours(name):
    model = ExactJointModel.random(V=3, n=4, seed=3, num_tables=3)
    sampler = make_sampler(name, **({} if name == "imh" else {"temperature": 1.0}))
    alone = sampler.generate(model, [[1, 2]], gen_length=4, block_length=2, seeds=[11])
    others = [[0], [2, 2, 1], [1], [0, 1, 1, 2], [2], [1, 1], [0, 0, 0]]
    batch = sampler.generate(model, others[:3] + [[1, 2]] + others[3:], gen_length=4,
                             block_length=2, seeds=[1, 2, 3, 11, 4, 5, 6, 7])
    assert batch.tokens[3].tolist() == alone.tokens[0].tolist()
    a, b = alone.traces[0], batch.traces[3]
    assert (a.order, a.nfe, a.forward_rows) == (b.order, b.nfe, b.forward_rows)
    assert a.bits == pytest.approx(b.bits, abs=1e-12)


def test_left_padding_conditions_on_the_real_prompt_only():
    model = ExactJointModel.random(V=3, n=3, seed=5, num_tables=3)
    out = make_sampler("random").generate(model, [[2], [1, 1]] * 4000, gen_length=3, seeds=range(8000))
    for row0, prompt in ((0, [2]), (1, [1, 1])):
        observed = counts(model.index_of(out.tokens[row0::2]).numpy(), 27)
        assert chi2_pvalue(observed, model.distribution(prompt).numpy()) > 0.01


# ----------------------------------------------------------------------------- bad input
@pytest.mark.parametrize("call, message", [
    (lambda m: make_sampler("nope"), "unknown sampler"),
    (lambda m: make_sampler("confidence", temperature=-1), "temperature"),
    (lambda m: make_sampler("med", k_max=0), "k_max"),
    (lambda m: make_sampler("med", lam=float("nan")), "lam"),
    (lambda m: make_sampler("threshold", threshold=1.5), "threshold"),
    (lambda m: make_sampler("factor", factor=0), "factor"),
    (lambda m: make_sampler("eb", gamma=-0.1), "gamma"),
    (lambda m: make_sampler("confidence", alpha=2), "no parameter"),
    (lambda m: make_sampler("random").generate(m, [[1]], gen_length=4, block_length=3), "divide"),
    (lambda m: make_sampler("random").generate(m, [[]], gen_length=4), "empty"),
    (lambda m: make_sampler("random").generate(m, [], gen_length=4), "non-empty"),
    (lambda m: make_sampler("random").generate(m, [[1], [2]], gen_length=4, seeds=[0]), "seeds"),
    (lambda m: make_sampler("random").generate(m, [[9]], gen_length=4), "outside"),
    (lambda m: make_sampler("random").generate(m, [[m.mask_id]], gen_length=4), "mask token"),
    (lambda m: make_sampler("random").generate(object(), [[1]], gen_length=4), "not a denoiser"),
])
def test_bad_input_raises_a_one_line_value_error(call, message):
    model = ExactJointModel.random(V=3, n=4, seed=0)
    with pytest.raises(ValueError) as err:
        call(model)
    assert message in str(err.value) and "\n" not in str(err.value)


def test_ragged_prompts_need_a_model_that_takes_an_attention_mask():
    class NoMask:
        def __init__(self):
            self.inner = ProductModel.random(V=3, n=2)
            self.mask_id, self.vocab_size = self.inner.mask_id, self.inner.vocab_size

        def logits(self, x):
            return self.inner.logits(x)

    model = NoMask()
    make_sampler("random").generate(model, [[1], [2]], gen_length=2)   # equal lengths are fine
    with pytest.raises(ValueError, match="attention_mask"):
        make_sampler("random").generate(model, [[1], [2, 2]], gen_length=2)


def test_params_list_every_parameter_with_defaults():
    assert make_sampler("med", lam=0.3).params == {"k_max": 32, "lam": 0.3, "temperature": 0.0}
    # 002 and 004 decode the multi-token rules greedily: their defaults are τ = 0
    assert all(make_sampler(n).params["temperature"] == 0.0 for n in ("threshold", "factor", "med"))
    assert make_sampler("confidence").params == {"temperature": 1.0}


@pytest.mark.parametrize("name", sorted(SAMPLERS))
def test_deterministic_means_every_seed_gives_the_same_sample(name):
    """``Sampler.deterministic`` (what the sweep expansion collapses to one seed) is true exactly
    when the samples of different seeds coincide: greedy rules at τ = 0, never random or IMH."""
    model = ExactJointModel.random(V=3, n=6, seed=21, num_tables=2, concentration=0.6)
    for kw in ([{}] if name == "imh" else [{"temperature": 0.0}, {"temperature": 1.0}]):
        s = make_sampler(name, **kw)
        out = s.generate(model, [[0]] * 6, gen_length=6, block_length=3, seeds=range(6))
        same = all(torch.equal(out.tokens[0], r) and t.order == out.traces[0].order
                   for r, t in zip(out.tokens, out.traces))
        assert s.deterministic == same, (name, kw)
