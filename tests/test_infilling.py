"""Reasoning as infilling (004 §4.1): template, H_UB early exit, posterior sampling, trace scores."""
from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
import torch

from stats_helpers import chi2_pvalue, counts
from test_samplers_exact import exact_marginals
from workers.exact_models import ExactJointModel
from workers.samplers import make_sampler
from workers.samplers.infilling import EarlyExit, Template, infill, trace_scores

# Generated region of 5: reasoning (0, 1), delimiter token 2 at position 2, answer (3, 4).
TPL = Template(reasoning_length=2, answer_length=2, delimiter=[2], closing=[])
PROMPT = [1]


@pytest.fixture(scope="module")
def model() -> ExactJointModel:
    return ExactJointModel.random(V=3, n=5, seed=13, concentration=0.4)


def answer_joint_entropy(model: ExactJointModel, state: list[int]) -> float:
    """Exact entropy (nats) of the answer block (3, 4) given a generated-region state."""
    w = model.joint_weights(torch.tensor([PROMPT + state]))[0].numpy()
    joint = np.zeros((3, 3))
    for k, seq in enumerate(model.seqs.tolist()):
        joint[seq[3], seq[4]] += w[k]
    joint = joint[joint > 0] / joint.sum()
    return float(-(joint * np.log(joint)).sum())


def test_h_ub_is_the_sum_of_exact_answer_marginal_entropies_and_bounds_the_joint(model):
    """004 §4.1: H_UB = Σ_answer H(a_j | r, c) in nats — equal, not merely ≥ the joint entropy
    (bits, or 2·H, would pass an inequality)."""
    checked = 0
    for name in ("random", "confidence", "entropy"):
        out = infill(make_sampler(name), model, [PROMPT] * 30, TPL, seeds=range(30), gamma=1e-9)
        for row, tr in zip(out.tokens.tolist(), out.traces):
            for t, h_ub in enumerate(tr.extra["h_ub"]):
                state = [row[g] if tr.commit_step[g] != -1 and tr.commit_step[g] < t else model.mask_id
                         for g in range(5)]
                state[2] = 2
                marg = exact_marginals(model, torch.tensor(PROMPT + state))[3:5]
                exact = float(-(marg * np.log(np.where(marg > 0, marg, 1))).sum())
                assert h_ub == pytest.approx(exact, abs=1e-9)
                assert h_ub >= answer_joint_entropy(model, state) - 1e-9
                checked += 1
    assert checked > 0


def test_reasoning_is_decoded_before_the_answer_without_exit(model):
    out = infill(make_sampler("random"), model, [PROMPT] * 20, TPL, seeds=range(20))
    for row, tr in zip(out.tokens.tolist(), out.traces):
        assert row[2] == 2 and sorted(tr.order[:2]) == [0, 1] and sorted(tr.order[2:]) == [3, 4]
        assert tr.exit_step is None and tr.nfe == 4


def test_gamma_zero_is_identical_to_no_exit(model):
    s = make_sampler("random")
    a = infill(s, model, [PROMPT] * 50, TPL, seeds=range(50), gamma=0.0)
    b = infill(s, model, [PROMPT] * 50, TPL, seeds=range(50), gamma=None)
    assert torch.equal(a.tokens, b.tokens)
    assert [t.nfe for t in a.traces] == [t.nfe for t in b.traces]


@pytest.mark.parametrize("exit_decode", ["greedy", "sampler"])
def test_a_large_gamma_exits_early_and_saves_forwards(model, exit_decode):
    s = make_sampler("random")
    full = infill(s, model, [PROMPT] * 50, TPL, seeds=range(50))
    early = infill(s, model, [PROMPT] * 50, TPL, seeds=range(50), gamma=10.0, exit_decode=exit_decode)
    assert all(t.exit_step == 0 for t in early.traces)              # H_UB ≤ 2 ln 3 < 10
    assert all(t.extra["masked_at_exit"] == 2 for t in early.traces)
    assert np.mean([t.nfe for t in early.traces]) < np.mean([t.nfe for t in full.traces])
    assert (early.tokens[:, :2] == model.mask_id).all()             # abandoned reasoning stays masked
    assert (early.tokens[:, 3:] < model.V).all()


def test_posterior_sampling_keeps_the_answer_and_samples_the_exact_posterior(model):
    answers = [[0, 2]] * 20_000
    out = infill(make_sampler("random"), model, [PROMPT] * 20_000, TPL, seeds=range(20_000), answers=answers)
    assert (out.tokens[:, 3:] == torch.tensor([0, 2])).all()
    assert all(sorted(t.order) == [0, 1] for t in out.traces)
    # p(r0, r1 | answer) by enumeration
    table = model.distribution(PROMPT).numpy()
    post = np.array([table[np.ravel_multi_index((r0, r1, 2, 0, 2), (3,) * 5)]
                     for r0, r1 in itertools.product(range(3), repeat=2)])
    observed = counts((out.tokens[:, 0] * 3 + out.tokens[:, 1]).numpy(), 9)
    assert chi2_pvalue(observed, post / post.sum()) > 0.01


def test_trace_scores_are_the_exact_answer_log_likelihood_along_the_trace(model):
    out = infill(make_sampler("left_to_right"), model, [PROMPT], TPL, seeds=[0])
    tokens, order = out.tokens[0], out.traces[0].order
    phis = trace_scores(model, PROMPT, tokens, order, TPL, answer=[1, 0])
    assert len(phis) == 3
    for t, phi in enumerate(phis):
        state = [model.mask_id] * 5
        state[2] = 2
        for g in order[:t]:
            state[g] = int(tokens[g])
        w = model.joint_weights(torch.tensor([PROMPT + state]))[0].numpy()
        marg = {j: np.zeros(3) for j in (3, 4)}
        for k, seq in enumerate(model.seqs.tolist()):
            for j in (3, 4):
                marg[j][seq[j]] += w[k]
        exact = math.log(marg[3][1] / marg[3].sum()) + math.log(marg[4][0] / marg[4].sum())
        assert phi == pytest.approx(exact, abs=1e-9)


class CharTok:
    """A tokenizer that only knows the letters a, b, c (ids 0, 1, 2); anything else is unknown."""
    unk_token_id = 0

    def encode(self, text, add_special_tokens=False):
        return ["abc".index(ch) if ch in "abc" else self.unk_token_id for ch in text]

    def decode(self, ids):
        return "".join("abc"[i] for i in ids)


@pytest.mark.parametrize("build, message", [
    (lambda m: Template(reasoning_length=2, answer_length=0), "answer_length"),
    (lambda m: EarlyExit(gamma=-0.5), "gamma"),
    (lambda m: EarlyExit(gamma=0.5, exit_decode="beam"), "exit_decode"),
    (lambda m: Template(2, 2, delimiter="c?", closing="").layout(m), "cannot be encoded"),
    (lambda m: Template(2, 2, delimiter="c", closing="").layout(ExactJointModel.random(3, 5)), "no tokenizer"),
])
def test_bad_parameters_raise_one_line_errors(model, build, message):
    m = ExactJointModel.random(V=3, n=5, seed=1)
    m.tokenizer = CharTok()
    with pytest.raises(ValueError, match=message) as err:
        build(m)
    assert "\n" not in str(err.value)
