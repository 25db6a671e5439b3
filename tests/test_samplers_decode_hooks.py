"""``Sampler.decode``'s step hooks: rules acting on every sampler (infilling's early exit, 004 §4.1)
plug in through ``StepHook`` without ``workers/samplers/base.py`` knowing about them."""
from __future__ import annotations

import ast
from pathlib import Path

import torch

from workers.exact_models import ExactJointModel
from workers.samplers import make_sampler
from workers.samplers.base import DecodeState, Trace, build_canvas

BASE = Path(__file__).resolve().parent.parent / "workers" / "samplers" / "base.py"


class Recorder:
    """A hook that only watches: every row goes on to ``select``."""

    def __init__(self) -> None:
        self.calls: list[tuple[int, list[int]]] = []

    def after_forward(self, state: DecodeState, active: torch.Tensor, logits: torch.Tensor,
                      traces: list[Trace]) -> torch.Tensor:
        assert logits.shape[:2] == (active.numel(), state.G) and len(traces) == active.numel()
        self.calls.append((state.step_idx, active.tolist()))
        return torch.ones(active.numel(), dtype=torch.bool)


class FinishFirstRow:
    """Commits every masked position of sample 0 to token 0 at step 0, itself."""

    def after_forward(self, state: DecodeState, active: torch.Tensor, logits: torch.Tensor,
                      traces: list[Trace]) -> torch.Tensor:
        keep = active != 0
        if state.step_idx == 0:
            pos = state.masked[0].nonzero().squeeze(1)
            state.x[0, state.P + pos] = 0
            state.masked[0, pos] = False
            traces[0].nfe += 1
        return keep


def _decode(hooks=()):
    model = ExactJointModel.random(V=3, n=4, seed=3)
    x, attn, ragged, P = build_canvas(model, [[1]] * 3, 4)
    return make_sampler("random").decode(model, x, attn, ragged, P, 2, [0, 1, 2], hooks=hooks)


def test_a_watching_hook_sees_every_step_and_changes_nothing():
    rec = Recorder()
    plain, hooked = _decode(), _decode((rec,))
    assert torch.equal(plain.tokens, hooked.tokens)
    assert [t.order for t in plain.traces] == [t.order for t in hooked.traces]
    assert [s for s, _ in rec.calls] == list(range(len(rec.calls)))
    for b, tr in enumerate(hooked.traces):   # one call per forward of the sample
        assert sum(b in act for _, act in rec.calls) == tr.nfe == tr.forward_rows


def test_a_hook_may_finish_a_row_before_select():
    out = _decode((FinishFirstRow(),))
    assert out.tokens[0].tolist() == [0, 0, 0, 0] and out.traces[0].nfe == 1
    assert out.traces[0].order == []          # the hook books its own commits
    assert all(tr.nfe >= 2 for tr in out.traces[1:])   # the others decode as usual (block 2)


def test_base_imports_no_sampler_rule():
    """No import cycle: base.py imports only the shared functional helpers of its package."""
    tree = ast.parse(BASE.read_text())
    mods = {n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) and n.module}
    mods |= {a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
    assert {m for m in mods if m.startswith("workers.samplers")} == {"workers.samplers.functional"}
