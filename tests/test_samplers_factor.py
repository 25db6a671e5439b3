"""``factor`` in both readings: the design/002 rule and Fast-dLLM's published rule.

The Fast-dLLM reference below restates ``get_transfer_index_dynamic``'s loop (NVlabs/Fast-dLLM,
llada/generate.py) in plain Python: thresholds 1 − f/(n+1) with rank 1 forced through, break at
the first rank below its threshold, and take one more when the break is at rank 1's index or at
the last rank.
"""
from __future__ import annotations

import pytest
import torch

from workers.samplers import make_sampler
from workers.samplers.base import Step


def fastdllm_count(conf: list[float], f: float) -> int:
    """How many positions Fast-dLLM's dynamic rule commits, given the window's confidences."""
    c = sorted(conf, reverse=True)
    th = [1 - f / (n + 1) for n in range(1, len(c) + 1)]
    th[0] = -1.0
    top = 0
    for top in range(len(th)):
        if c[top] < th[top]:
            break
    if top == 0 or top == len(th) - 1:
        top += 1
    return top


def design_count(conf: list[float], f: float) -> int:
    c = sorted(conf, reverse=True)
    k = 0
    while k < len(c) and (k + 2) * (1 - c[k]) < f:
        k += 1
    return max(k, 1)


def make_step(logits: torch.Tensor, eligible: torch.Tensor) -> Step:
    A, W, _ = logits.shape
    return Step(logits, eligible, torch.zeros(A, dtype=torch.long), torch.full((A,), W), W, 0.0,
                torch.zeros(A, W, dtype=torch.long), 0, 0, [], lambda n: torch.rand(A, n), None)


@pytest.mark.parametrize("f", [0.5, 1.0, 1.9])
def test_fastdllm_mode_commits_exactly_the_published_count_and_design_its_own(f):
    g = torch.Generator().manual_seed(int(f * 10))
    A, W, V = 400, 8, 6
    # peaked logits so that many windows have long passing prefixes
    logits = torch.randn(A, W, V, generator=g) * torch.rand(A, W, 1, generator=g) * 12
    eligible = torch.rand(A, W, generator=g) < 0.8
    eligible[:, 0] = True
    step = make_step(logits.double(), eligible)
    p = torch.softmax(logits.double(), -1).max(-1).values
    quirk = 0
    for mode, ref in (("fastdllm", fastdllm_count), ("design", design_count)):
        c = make_sampler("factor", factor=f, temperature=0.0, mode=mode).select(step)
        for a in range(A):
            conf = p[a][eligible[a]].tolist()
            want = ref(conf, f)
            assert int(c.mask[a].sum()) == want, (mode, a, conf)
            assert not bool((c.mask[a] & ~eligible[a]).any())
            quirk += mode == "fastdllm" and want != design_count(conf, f)
    assert quirk > 0  # the readings differ on this data (the last-rank rule)


def test_only_the_last_rank_failing_commits_all_in_fastdllm_mode():
    # three eligible positions with confidences 0.99, 0.98, 0.5 at f = 1: rank 3 needs ≥ 0.75
    probs = torch.tensor([[0.99, 0.98, 0.5]])
    logits = torch.stack([probs.log(), (1 - probs).log()], -1)   # token 0 has prob = conf
    step = make_step(logits.double(), torch.ones(1, 3, dtype=torch.bool))
    design = make_sampler("factor", factor=1.0, temperature=0.0).select(step)
    fast = make_sampler("factor", factor=1.0, temperature=0.0, mode="fastdllm").select(step)
    assert design.mask.tolist() == [[True, True, False]]
    assert fast.mask.tolist() == [[True, True, True]]


def test_the_bound_is_checked_only_for_the_design_reading():
    from workers.exact_models import ProductModel

    model = ProductModel(torch.rand(6, 5))
    for mode, want in (("design", {True}), ("fastdllm", {None})):
        out = make_sampler("factor", factor=1.0, mode=mode).generate(model, [[0]] * 4, gen_length=6, seeds=range(4))
        assert {t.extra["bound_ok"] for t in out.traces} == want


def test_bad_mode_is_a_one_line_error():
    with pytest.raises(ValueError, match="factor mode must be one of design, fastdllm"):
        make_sampler("factor", mode="fast")
