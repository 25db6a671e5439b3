"""ETE (002 §4) and the bits-to-rounds bound (002 Thm 3.2, docs/design.md §5)."""
from __future__ import annotations

import math

import pytest
import torch

from workers.bounds import bound_holds, factor_budget_nats, round_budget_nats
from workers.exact_models import ExactJointModel
from workers.samplers import make_sampler
from workers.scoring import left_to_right_bits
from test_samplers_exact import exact_marginals


@pytest.fixture(scope="module")
def model() -> ExactJointModel:
    """Strongly structured joint over 3^6 sequences (low concentration = confident cascades)."""
    return ExactJointModel.random(V=3, n=6, seed=21, num_tables=2, concentration=0.15)


CONFIGS = [
    {},
    {"budget": 1, "extra_rounds": 0},
    {"budget": 2, "extra_rounds": 1, "threshold": 0.99},
    {"explore_threshold": 1.0, "min_masked": 2, "beam": 2},
    {"explore_threshold": 1.0, "min_masked": 1, "beam": 3, "budget": None, "temperature": 1.0},
]


@pytest.mark.parametrize("params", CONFIGS)
def test_ete_terminates_and_accounts_every_round_bit_and_position(model, params):
    out = make_sampler("ete", **params).generate(model, [[0], [1, 1]] * 10, gen_length=6,
                                                 block_length=2, seeds=range(20))
    for row, t in zip(out.tokens, out.traces):
        left = t.extra["masked_left"]
        # every position is either committed (once, a real token) or still the mask token
        assert int((row == model.mask_id).sum()) == left
        assert sorted(t.order) == sorted(j for j in range(6) if int(row[j]) != model.mask_id)
        assert t.exploit_rounds + t.explore_rounds == t.nfe
        assert t.exploit_bits + t.explore_bits == pytest.approx(t.bits, abs=1e-9)
    if params.get("budget", 8) is None:
        assert all(t.extra["masked_left"] == 0 for t in out.traces)   # no limit: always complete


def test_out_of_budget_samples_keep_their_masks_unless_a_final_round_is_asked(model):
    """002 §4.2: after n_blocks·S + E forwards decoding stops; nothing commits the rest.
    ``final_round=True`` (not 002's) commits all that is left in the limit's last forward."""
    kw = dict(threshold=0.999, budget=1, extra_rounds=0, explore=False)
    prompts, seeds = [[0], [1, 1]] * 20, range(40)
    plain = make_sampler("ete", **kw).generate(model, prompts, gen_length=6, block_length=2, seeds=seeds)
    final = make_sampler("ete", final_round=True, **kw).generate(model, prompts, gen_length=6,
                                                                 block_length=2, seeds=seeds)
    assert make_sampler("ete").params["final_round"] is False
    assert any(t.extra["masked_left"] for t in plain.traces), "no sample ran out of budget"
    assert all(t.nfe <= 3 for t in plain.traces + final.traces)
    assert not (final.tokens == model.mask_id).any()
    assert all(t.extra["masked_left"] == 0 and sorted(t.order) == list(range(6)) for t in final.traces)


@pytest.mark.parametrize("temperature", [0.0, 1.0])
@pytest.mark.parametrize("block_length", [2, 3, 6])
def test_without_exploration_and_budget_ete_is_threshold_decoding(model, temperature, block_length):
    kw = dict(gen_length=6, block_length=block_length, seeds=range(30))
    prompts = [[0], [1, 1], [2]] * 10
    ete = make_sampler("ete", threshold=0.7, explore=False, budget=None, temperature=temperature)
    thr = make_sampler("threshold", threshold=0.7, temperature=temperature)
    a, b = ete.generate(model, prompts, **kw), thr.generate(model, prompts, **kw)
    assert torch.equal(a.tokens, b.tokens)
    for ta, tb in zip(a.traces, b.traces):
        assert (ta.order, ta.nfe, ta.exploit_rounds, ta.explore_rounds) == \
               (tb.order, tb.nfe, tb.exploit_rounds, tb.explore_rounds)
        assert ta.bits == pytest.approx(tb.bits)


def test_budget_opens_later_blocks_while_earlier_ones_stay_eligible(model):
    out = make_sampler("ete", threshold=0.999, budget=1, extra_rounds=0, explore=False).generate(
        model, [[0]] * 20, gen_length=6, block_length=2, seeds=range(20))
    # With budget 1, every block opens after one round: 3 blocks need at most 3 rounds, and a
    # block-2 position can be committed before block 1 is finished.
    assert all(t.nfe <= 3 for t in out.traces)
    # (plain block decoding would always finish block 0 strictly before block 1 starts)
    assert all(min(t.commit_step[2:4]) <= max(t.commit_step[0:2]) for t in out.traces)


def test_targeted_exploration_costs_one_forward_and_beam_rows(model):
    K = 3
    s = make_sampler("ete", explore_threshold=1.0, min_masked=K, beam=K, budget=None, threshold=0.99)
    out = s.generate(model, [[0]] * 8, gen_length=6, block_length=6, seeds=range(8))
    for t in out.traces:
        targeted = t.extra["targeted_rounds"]
        assert targeted >= 1
        # each round is one row; a targeted one adds a second sequential forward of K rows
        rounds = len(set(t.commit_step))
        assert t.nfe == rounds + targeted
        assert t.forward_rows == rounds + K * targeted


BUDGETED = [
    {"budget": 1, "extra_rounds": 0},
    {"budget": 1, "extra_rounds": 0, "explore_threshold": 1.0, "min_masked": 1, "beam": 2},
    {"budget": 2, "extra_rounds": 1, "explore_threshold": 1.0, "min_masked": 1, "beam": 3, "threshold": 0.99},
    {"budget": 3, "extra_rounds": 0, "explore_threshold": 1.0, "min_masked": 2, "temperature": 1.0},
    {"budget": 2, "extra_rounds": 1, "explore_threshold": 1.0, "min_masked": 1, "beam": 2, "final_round": True},
]


@pytest.mark.parametrize("params", BUDGETED)
def test_the_budget_counts_every_sequential_forward(model, params):
    """002 §4: the per-block budget S and the limit n_blocks·S + E are budgets of forward passes;
    a targeted-exploration round (two sequential forwards) is charged two."""
    n_blocks, bl = 3, 2
    out = make_sampler("ete", **params).generate(model, [[0], [1, 1]] * 20, gen_length=6,
                                                 block_length=bl, seeds=range(40))
    limit = n_blocks * params["budget"] + params["extra_rounds"]
    assert max(t.nfe for t in out.traces) <= limit
    if params.get("explore_threshold") == 1.0:
        assert any(t.extra["targeted_rounds"] for t in out.traces), "targeted exploration never ran"


def test_bits_are_attributed_per_committed_token(model):
    """Exploitation bits are the tokens that passed the threshold, exploration bits the rest,
    token by token (a cross-block round can commit both kinds), from exact marginals."""
    thr = 0.8
    out = make_sampler("ete", threshold=thr, budget=1, extra_rounds=1, explore=False, temperature=1.0).generate(
        model, [[0], [1, 1]] * 20, gen_length=6, block_length=2, seeds=range(40))
    mixed = 0
    for prompt, row, t in zip([[0], [1, 1]] * 20, out.tokens, out.traces):
        want = {"exploit": 0.0, "explore": 0.0}
        for s in sorted(set(t.commit_step)):
            state = [int(v) if t.commit_step[j] < s else model.mask_id for j, v in enumerate(row)]
            marg = exact_marginals(model, torch.tensor(prompt + state))
            kinds = set()
            for j in (j for j in range(6) if t.commit_step[j] == s):
                p = marg[j, int(row[j])]
                kind = "exploit" if p >= thr else "explore"
                kinds.add(kind)
                want[kind] -= math.log2(p)
            mixed += len(kinds) == 2
        assert t.exploit_bits == pytest.approx(want["exploit"], abs=1e-9)
        assert t.explore_bits == pytest.approx(want["explore"], abs=1e-9)
    assert mixed > 0, "no round committed both kinds: the test could not tell per-token from per-round"


def test_factor_samples_obey_the_bits_to_rounds_bound(model):
    for f in (0.25, 0.5, 1.0, 1.5, 1.9):
        for temperature in (0.0, 1.0):
            out = make_sampler("factor", factor=f, temperature=temperature).generate(
                model, [[0], [1, 1]] * 50, gen_length=6, block_length=3, seeds=range(100))
            assert all(t.extra["bound_ok"] for t in out.traces), f"f={f}"
            for t in out.traces:
                assert t.exploit_rounds >= t.exploit_bits * math.log(2) / factor_budget_nats(f) - 1e-9


def test_the_bound_check_rejects_a_violation():
    assert bound_holds([(1, 0.6, False)], 1.0)
    assert not bound_holds([(1, 0.7, False)], 1.0)           # −ln(1 − 1/2) = 0.693 nats
    assert bound_holds([(1, 5.0, True)], 1.0)                # exploration rounds are unbounded
    assert factor_budget_nats(0.5) == pytest.approx(0.5)
    assert factor_budget_nats(1.0) == pytest.approx(1.0)
    assert factor_budget_nats(1.9) == pytest.approx(-math.log(1 - 1.9 / 2))
    assert math.isinf(factor_budget_nats(2.0)) and math.isinf(round_budget_nats(2.0, 1))


def test_left_to_right_bits_is_the_exact_sequence_nll(model):
    tokens = make_sampler("confidence").generate(model, [[0], [1, 1]], gen_length=6, seeds=[0, 1]).tokens
    got = left_to_right_bits(model, [[0], [1, 1]], tokens, max_rows=4)
    want = [-math.log2(model.probability(tokens[0].tolist(), [0])),
            -math.log2(model.probability(tokens[1].tolist(), [1, 1]))]
    assert got == pytest.approx(want, abs=1e-9)


@pytest.mark.parametrize("params, message", [
    ({"threshold": 1.2}, "threshold"), ({"budget": 0}, "budget"), ({"extra_rounds": -1}, "extra_rounds"),
    ({"beam": 0}, "beam"), ({"explore": "yes"}, "explore"), ({"min_masked": 0}, "min_masked"),
    ({"lam": -1}, "lam"), ({"target_conf": 2}, "target_conf"), ({"final_round": 1}, "final_round"),
])
def test_bad_parameters_raise_one_line_errors(params, message):
    with pytest.raises(ValueError, match=message) as err:
        make_sampler("ete", **params)
    assert "\n" not in str(err.value)
