"""WeDLM (Liu et al. 2025) on a tiny random checkpoint in the published layout: native module,
reordered forward, prefix KV cache, streaming window, 000's baselines and refusals, batch invariance.

Exactness against the published ``WeDLMForCausalLM`` and equality with its decoders are checked
outside CI (``benchmarks/check_native_exact.py --family wedlm``, ``benchmarks/check_wedlm_decoders.py``):
that code is not ours to commit.
"""
from __future__ import annotations

import pytest
import torch

from workers.models import PRESETS, load_model
from workers.models.native_wedlm import NativeWeDLM, reorder, reordered_logits
from workers.models.random_checkpoint import tiny_tokenizer, write_random_checkpoint
from workers.models.wedlm import WeDLMDenoiser
from workers.samplers import make_sampler

SHAPE = dict(hidden_size=32, intermediate_size=48, num_hidden_layers=2, num_attention_heads=4, num_key_value_heads=2,
             head_dim=8, vocab_size=128, mask_token_id=120, eos_token_id=2, pad_token_id=0, bos_token_id=0)
PROMPTS = ["Compute 3+4\n", "Numbers: 1 2 3 Target: 6\n", "x\n", "Compute 3+5\n", "Numbers: 9 9\n"]


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    return str(write_random_checkpoint(tmp_path_factory.mktemp("wedlm"), "wedlm", seed=1,
                                       tokenizer=tiny_tokenizer("<|im_end|>"), **SHAPE))


@pytest.fixture(scope="module")
def m(folder):
    return load_model(folder)


def test_a_wedlm_folder_loads_natively_with_its_own_ids(m):
    assert type(m) is WeDLMDenoiser and type(m.model) is NativeWeDLM and m.honours_attention_mask
    assert (m.mask_id, m.eos_id, m.pad_id, m.vocab_size) == (120, 2, 0, 128)   # config, not 151665
    assert m.stop_ids == {2, 100} and m.stream_window == 16
    assert not m.supports_prefix_cache   # the bidirectional caches of workers/prefix_cache.py do not apply


def test_presets_name_the_published_hub_ids():
    assert PRESETS["wedlm-8b-instruct"].source == "tencent/WeDLM-8B-Instruct"
    assert PRESETS["wedlm-8b"].source == "tencent/WeDLM-8B-Base"
    assert PRESETS["tencent/wedlm-8b-instruct"].adapter is WeDLMDenoiser


def test_remote_code_needs_permission(folder, monkeypatch):
    monkeypatch.delenv("DLLM_TRUST_REMOTE_CODE", raising=False)
    with pytest.raises(ValueError, match="trust_remote_code") as e:
        load_model(folder, impl="remote")
    assert "\n" not in str(e.value)


def test_reordering_puts_filled_tokens_first_at_their_logical_positions():
    M = 9
    x = torch.tensor([[0, 0, 5, M, 6, M, 7]])
    am = torch.tensor([[0, 0, 1, 1, 1, 1, 1]])
    ids, pos, am2, perm = reorder(x, M, am)
    assert ids.tolist() == [[0, 0, 5, 6, 7, M, M]]
    assert pos.tolist() == [[0, 0, 0, 2, 4, 1, 3]]       # logical: real tokens before each
    assert am2.tolist() == [[0, 0, 1, 1, 1, 1, 1]] and perm.tolist() == [[0, 1, 2, 4, 6, 3, 5]]


def canvas(m, text, window):
    return m.encode_prompt(text) + window


def test_mask_rows_do_not_depend_on_padding_or_on_trailing_masks(m):
    """Causal attention after reordering: a mask sees every filled token and the masks before it.
    Left padding (masked keys, real-token positions) and masks after the last one change nothing."""
    M = m.mask_id
    win = [M, 5, M, M, 7, M]
    a, b = canvas(m, "Compute 1+2\n", win), canvas(m, "Compute 10+20*3\n", win)
    x = torch.full((2, len(b)), m.pad_id)
    attn = torch.zeros_like(x)
    x[0, len(b) - len(a):], attn[0, len(b) - len(a):] = torch.tensor(a), 1
    x[1], attn[1] = torch.tensor(b), 1
    batched = m.logits(x, attention_mask=attn)
    alone = m.logits(torch.tensor([a]))[0]
    torch.testing.assert_close(batched[0, len(b) - len(a):], alone, atol=1e-5, rtol=1e-5)
    longer = m.logits(torch.tensor([a + [M] * 7]))[0]
    torch.testing.assert_close(longer[:len(a)], alone, atol=1e-5, rtol=1e-5)
    assert (longer[len(a):] - longer[len(a) - 1]).abs().max() > 1e-3   # later masks are predicted, differently


def test_a_window_forward_on_the_confirmed_prefix_cache_equals_the_full_forward(m):
    """The KV cache of the confirmed prefix (prompt + tokens that left the window) is an ordinary
    causal cache: a window forward on it gives the full reordered forward's mask rows, also when
    several candidate windows share one batch-1 prefix (IMH's candidates)."""
    M, net = m.mask_id, m.model
    prefix = torch.tensor([m.encode_prompt("Numbers: 1 2 3\n") + [40, 41]])
    wins = torch.tensor([[M, 5, M, 7], [6, M, M, 7], [M, M, M, M]])
    past = net(prefix, use_cache=True).past_key_values
    P = prefix.shape[1]
    ids, pos, _, perm = reorder(wins, M)
    cached = net(ids, position_ids=pos + P, past_key_values=past).logits
    cached = cached.gather(1, perm.argsort(1)[..., None].expand(-1, -1, cached.shape[-1]))
    full = reordered_logits(net, torch.cat([prefix.expand(3, -1), wins], 1), M)[:, P:]
    is_m = wins == M
    torch.testing.assert_close(cached[is_m], full[is_m], atol=1e-5, rtol=1e-5)


def test_decoding_streams_in_a_window_from_the_first_masked_position(folder):
    """WeDLM's engine: the window holds W positions from the first masked one (W = 16 by default,
    6 here to keep the test short); confirmed tokens leave it and it slides on.  Every commit lies
    in that window at its step; ``stream_window=0`` is block mode."""
    m = load_model(folder, stream_window=6)
    assert m.stream_window == 6 and load_model(folder, stream_window=0).stream_window is None
    G = 16
    prompt = m.encode_prompt(PROMPTS[1])
    for name, kw in (("entropy", {"temperature": 1.0}), ("wedlm", {"temperature": 1.0, "threshold": 1.5})):
        tr = make_sampler(name, **kw).generate(m, [prompt], gen_length=G, seeds=[3]).traces[0]
        assert sorted(tr.order) == list(range(G))
        beyond = 0
        for s in range(max(tr.commit_step) + 1):
            first = min(g for g in range(G) if tr.commit_step[g] >= s)
            done = [g for g in range(G) if tr.commit_step[g] == s]
            assert all(first <= g < first + 6 for g in done), (name, s, done)
            beyond = max(beyond, max(done) - first)
        assert beyond > 0   # not merely left to right
    # A rule that commits everything it may: exactly one window a step, and the window slides on.
    tr = make_sampler("wedlm", temperature=1.0, threshold=1e9).generate(m, [prompt], gen_length=G, seeds=[3]).traces[0]
    assert tr.commit_step == [0] * 6 + [1] * 6 + [2] * 4


def test_wedlm_rule_commits_every_position_below_the_penalised_entropy_threshold():
    """H_j + pos_penalty · (j − first masked) < threshold, else the single lowest (the engine's
    ``select_positions_to_fill``).  Entropies here: 0.112, 1.099, 0.154, 0.063 nats."""
    from workers.exact_models import ProductModel
    from workers.samplers.base import Step

    model = ProductModel(torch.tensor([[0.98, 0.01, 0.01], [1 / 3, 1 / 3, 1 / 3], [0.97, 0.02, 0.01],
                                       [0.99, 0.005, 0.005]]))
    x = torch.tensor([[model.mask_id] * 4])
    step = Step(model.logits(x).float(), torch.ones(1, 4, dtype=torch.bool), torch.zeros(1, dtype=torch.long),
                torch.full((1,), 4), 4, 0.0, x, 0, model.mask_id, [], lambda n: torch.rand(1, n), lambda *a: None)
    # penalised: 0.112, 1.219, 0.394, 0.423 against 0.4
    c = make_sampler("wedlm", threshold=0.4, pos_penalty=0.12, temperature=0.0).select(step)
    assert c.mask[0].tolist() == [True, False, True, False] and not bool(c.forced[0])
    # without the penalty the last position passes too
    c = make_sampler("wedlm", threshold=0.4, pos_penalty=0.0, temperature=0.0).select(step)
    assert c.mask[0].tolist() == [True, False, True, True]
    none = make_sampler("wedlm", threshold=0.0, pos_penalty=0.0, temperature=0.0).select(step)
    assert none.mask[0].tolist() == [False, False, False, True] and bool(none.forced[0])   # the lowest alone


def test_random_order_is_refused_on_wedlm_with_000s_reason(m):
    for name, kw in (("random", {}), ("imh", {"position": "random"})):
        with pytest.raises(ValueError, match="left-to-right") as e:
            make_sampler(name, **kw).generate(m, [m.encode_prompt("x")], gen_length=4)
        assert "\n" not in str(e.value)


@pytest.mark.parametrize("name,kw", [("wedlm", {"temperature": 0.0}), ("wedlm", {"temperature": 1.0}),
                                     ("entropy", {"temperature": 1.0}),
                                     ("imh", {"alpha": 2.0, "chain_length": 8, "window": 6, "position": "entropy"})])
def test_a_ragged_batch_decodes_each_prompt_as_it_decodes_alone(folder, name, kw):
    m = load_model(folder, stream_window=6)
    prompts = [m.encode_prompt(p) for p in PROMPTS]
    seeds = [5, 6, 7, 8, 9]
    s = make_sampler(name, **kw)
    batch = s.generate(m, prompts, gen_length=10, seeds=seeds)
    for b, p in enumerate(prompts):
        alone = s.generate(m, [p], gen_length=10, seeds=[seeds[b]])
        assert batch.tokens[b].tolist() == alone.tokens[0].tolist(), (name, b)
        ta, tb = alone.traces[0], batch.traces[b]
        assert (ta.order, ta.nfe, ta.forward_rows) == (tb.order, tb.nfe, tb.forward_rows)


def test_rows_sharing_a_confirmed_prefix_read_one_cache_and_get_the_same_logits(m):
    """000 App. B: IMH's T + 1 candidates share the prompt + confirmed-prefix KV cache; only their
    tails are forwarded per row.  The logits equal the unshared forward (ragged, left-padded)."""
    from workers.models.native_wedlm import shared_prefix_logits

    M = m.mask_id
    prompts = [m.encode_prompt("Compute 1+2\n") + [40, 41], m.encode_prompt("Compute 10+20*3\n") + [42]]
    P = max(map(len, prompts))
    x, am = [], []
    for p in prompts:
        for t in range(3):                       # three candidates: one committed token each
            tail = [M] * 10
            tail[1 + 2 * t] = 50 + t
            x.append([m.pad_id] * (P - len(p)) + p + tail)
            am.append([0] * (P - len(p)) + [1] * (len(p) + 10))
    x, am = torch.tensor(x), torch.tensor(am)
    shared = shared_prefix_logits(m.model, x, M, am)
    plain = reordered_logits(m.model, x, M, am)
    real = am.bool()
    torch.testing.assert_close(shared[real], plain[real], atol=1e-5, rtol=1e-5)
    assert shared_prefix_logits(m.model, x[::3], M, am[::3]) is None     # nothing shared: plain forward


def test_imh_with_and_without_the_shared_prefix_gives_the_same_tokens(folder):
    m = load_model(folder, stream_window=6)
    prompts = [m.encode_prompt(p) for p in PROMPTS[:3]]
    s = make_sampler("imh", alpha=2.0, chain_length=8, window=6, position="entropy")
    a = s.generate(m, prompts, gen_length=8, seeds=[1, 2, 3])
    m.share_prefix = False
    b = s.generate(m, prompts, gen_length=8, seeds=[1, 2, 3])
    assert a.tokens.tolist() == b.tokens.tolist()
    assert [t.acceptance_rate for t in a.traces] == [t.acceptance_rate for t in b.traces]


def test_the_paper_specs_run_wedlm_as_000_did():
    """000 §5 / App. B on WeDLM: IMH with T = 8 and Δ̂ over 16 positions, entropy its default rule,
    no random order, one token per step in the streaming window (block = gen length)."""
    from sweeps.reproduce import table_specs
    from sweeps.engine.spec import load_spec
    from workers.models.wedlm import WEDLM_IMH

    specs = [load_spec(p) for t in ("000-table2", "000-table3", "000-fig3-middle") for p in table_specs(t)]
    wedlm = [s for s in specs if s.models == ["wedlm-8b-instruct"]]
    assert len(wedlm) == 3
    for s in wedlm:
        assert "random" not in {x.name for x in s.samplers}
        assert all(t.block_length == t.gen_length for t in s.tasks)
        for x in s.samplers:
            if x.name == "imh":
                assert x.params["window"] == WEDLM_IMH["window"] and x.params["position"] == "entropy"
                assert x.params.get("chain_length", WEDLM_IMH["chain_length"]) == WEDLM_IMH["chain_length"] \
                    or "chain_length" in (x.grid or {})
