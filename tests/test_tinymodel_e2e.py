"""End to end with the committed checkpoint: greedy confidence decoding solves easy countdown.

The quality bar (issue 3) is greedy-confidence Pass@1 >= 0.6 on the easiest countdown tier,
measured on all 200 easy test problems by ``sweeps/tiny_quality.py``.  Here only the first 20
are decoded (about a second), so the test allows a tolerance of 0.15 (1.4 binomial standard
errors at p = 0.6 with n = 20): it catches a broken checkpoint, loader or decode path, not a
few points of drift.
"""
from __future__ import annotations

import torch

from workers.models import load_model
from workers.samplers import make_sampler
from workers.tasks import load_task

BAR, TOLERANCE, N = 0.6, 0.15, 20


def test_greedy_confidence_reaches_the_easy_tier_bar():
    torch.set_num_threads(2)
    model = load_model("tiny")
    task = load_task("countdown")
    easiest = task.tiers[0]
    problems = task.by_difficulty(easiest)[:N]
    out = make_sampler("confidence", temperature=0.0).generate(
        model, [model.encode_prompt(p.prompt) for p in problems], gen_length=task.gen_length,
        block_length=task.block_length, seeds=list(range(N)))
    completions = [model.decode(t) for t in out.tokens]
    solved = sum(task.grade(p, c).correct for p, c in zip(problems, completions))
    assert all(tr.nfe == task.gen_length for tr in out.traces)  # one token per step
    assert solved / N >= BAR - TOLERANCE, f"{solved}/{N} solved; completions: {completions}"
