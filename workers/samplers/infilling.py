"""Reasoning as infilling (004 §4.1, §5.1): answer-block template, H_UB early exit, posterior
sampling and trace scoring — for any sampler.

Template (generated region): [reasoning masks × R] + delimiter + [answer masks × A] + closing.
The sampler decodes the reasoning positions (its own rule, blocks of ``block_length``); the
answer positions form a later stage, decoded after the reasoning or at early exit.

Early exit: at every step, with the marginals of that step's forward,
H_UB = Σ_{answer positions} H_j upper-bounds the joint entropy of the answer block (subadditivity);
once H_UB < γ the answer block is decoded (``exit_decode="greedy"``: argmax of every answer
position from those same marginals, no extra forward; ``"sampler"``: the sampler goes on with
the answer positions only) and the remaining reasoning masks are abandoned (they stay mask
tokens; ``decode`` drops them).  γ = 0 or None never exits.

Posterior sampling: pass ``answers`` to pre-fill the answer block; the sampler then samples the
reasoning given the answer, and the answer is never changed.
Trace score: φ(r | c, a*) = Σ_answer log p(a*_j | c, r_revealed), evaluated on every prefix of
a trace's commit order in one batched forward (``trace_scores``).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Optional, Sequence, Union

import torch

from workers.denoiser import logits_at
from workers.samplers.base import (LN2, DecodeState, RowLogits, Sampler, SamplerOutput, Trace, build_canvas,
                                   check_float, check_int, positions_of, upcast)
from workers.samplers.functional import NEG_INF, entropy

Text = Union[str, Sequence[int]]
EXIT_DECODES = ("greedy", "sampler")
ANSWER_LENGTH = 10   # 004 §5.1: "allocate 10 answer tokens" after "The answer is \boxed{"


def encode_fixed(model: Any, text: Text, what: str) -> list[int]:
    """Token ids of a fixed template piece; strings need ``model.tokenizer`` to round-trip."""
    if not isinstance(text, str):
        return [int(t) for t in text]
    if text == "":
        return []
    tok = getattr(model, "tokenizer", None)
    if tok is None:
        raise ValueError(f"{what} {text!r} is text but the model has no tokenizer; pass token ids")
    ids = list(tok.encode(text, add_special_tokens=False))
    unk = getattr(tok, "unk_token_id", None)
    if not ids or (unk is not None and unk in ids) or tok.decode(ids) != text:
        raise ValueError(f"{what} {text!r} cannot be encoded by the model's tokenizer")
    if int(model.mask_id) in ids:
        raise ValueError(f"{what} {text!r} encodes to the mask token")
    return ids


@dataclass(frozen=True)
class Template:
    """Where reasoning and answer go in the generated region (004 §4.1)."""

    reasoning_length: int
    answer_length: int = ANSWER_LENGTH
    delimiter: Text = " The answer is \\boxed{"
    closing: Text = "}"

    def __post_init__(self) -> None:
        check_int("reasoning_length", self.reasoning_length)
        check_int("answer_length", self.answer_length)

    def layout(self, model: Any) -> tuple[list[int], list[int]]:
        return (encode_fixed(model, self.delimiter, "delimiter"),
                encode_fixed(model, self.closing, "closing"))

    def gen_length(self, model: Any) -> int:
        d, c = self.layout(model)
        return self.reasoning_length + len(d) + self.answer_length + len(c)

    def answer_slice(self, model: Any) -> slice:
        d, _ = self.layout(model)
        start = self.reasoning_length + len(d)
        return slice(start, start + self.answer_length)


class EarlyExit:
    """The H_UB < γ rule, a ``StepHook``: ``Sampler.decode`` applies it at every step before the
    sampler acts."""

    def __init__(self, gamma: Optional[float], exit_decode: str = "greedy") -> None:
        self.gamma = 0.0 if gamma is None else check_float("gamma", gamma)
        if exit_decode not in EXIT_DECODES:
            raise ValueError(f"exit_decode must be one of {', '.join(EXIT_DECODES)}, got {exit_decode!r}")
        self.exit_decode = exit_decode

    def positions(self, state: DecodeState, active: torch.Tensor) -> torch.Tensor:
        """bool [A, G]: the generated positions this hook reads (the ``StepHook`` declaration): the
        answer block's masked positions; with ``exit_decode="sampler"`` also every window an exit
        moves a row to, i.e. everything from the block holding the answer's first position on
        (the step forwards only these and the windows, issue 27)."""
        answer = state.stage[active] == 1
        need = answer & state.masked[active]
        if self.exit_decode == "sampler":   # windows start at a block boundary at or before the answer
            first = torch.where(answer.any(1), answer.int().argmax(1), state.G)
            cols = torch.arange(state.G, device=answer.device)[None, :]
            need |= cols >= (first // state.block_length * state.block_length)[:, None]
        return need

    def after_forward(self, state: DecodeState, active: torch.Tensor, logits: RowLogits,
                      traces: list[Trace]) -> torch.Tensor:
        """Record H_UB for the active rows; exit those below γ.  Returns rows that go on to ``select``
        (the ``StepHook`` protocol of ``Sampler.decode``)."""
        model, x, P, masked, stage, step_idx = (state.model, state.x, state.P, state.masked,
                                                state.stage, state.step_idx)
        keep = torch.ones(active.numel(), dtype=torch.bool, device=active.device)
        answer = (stage[active] == 1) & masked[active]
        reasoning_left = (stage[active] == 0) & masked[active]
        pos, valid = positions_of(answer)                  # each row's masked answer positions, ascending
        lg = upcast(logits.at(pos, valid), copy=True)  # the model's dtype until here
        lg[..., model.mask_id] = NEG_INF
        ent = torch.where(valid, entropy(torch.softmax(lg, -1)), torch.zeros_like(lg[..., 0]))
        h = ent.new_zeros(answer.shape).scatter(1, pos, ent).sum(1)   # Σ over the region, as H_UB reads
        for a, b in enumerate(active.tolist()):
            tr = traces[a]
            tr.extra.setdefault("h_ub", []).append(float(h[a]))
            if not bool(reasoning_left[a].any()) or not float(h[a]) < self.gamma:
                continue
            tr.exit_step = step_idx
            tr.extra.update(h_ub_at_exit=float(h[a]), masked_at_exit=int(reasoning_left[a].sum()))
            masked[b] &= stage[b] != 0                       # abandon the rest of the reasoning
            if self.exit_decode == "greedy":
                n = int(valid[a].sum())
                g_pos, g_lg = pos[a, :n], lg[a, :n]           # the valid columns come first, in order
                tok = g_lg.argmax(-1)
                x[b, P + g_pos] = tok
                masked[b, g_pos] = False
                nats = -float(torch.log_softmax(g_lg, -1).gather(-1, tok[:, None]).sum())
                tr.nfe += 1
                tr.bits += nats / LN2
                for g in g_pos.tolist():
                    tr.order.append(g)
                    tr.commit_step[g] = step_idx
                keep[a] = False
        return keep


def _canvas(model: Any, prompts: Sequence[Sequence[int]], template: Template,
            answers: Optional[Sequence[Text]]) -> tuple[torch.Tensor, torch.Tensor, bool, int, torch.Tensor]:
    d, c = template.layout(model)
    R, A = template.reasoning_length, template.answer_length
    G = R + len(d) + A + len(c)
    x, attn, ragged, P = build_canvas(model, prompts, G)
    x[:, P + R:P + R + len(d)] = torch.tensor(d, dtype=torch.long)
    x[:, P + R + len(d) + A:] = torch.tensor(c, dtype=torch.long)
    stage = torch.zeros(x.shape[0], G, dtype=torch.long)
    stage[:, R + len(d):R + len(d) + A] = 1
    if answers is not None:
        if len(answers) != x.shape[0]:
            raise ValueError(f"got {len(answers)} answers for {x.shape[0]} prompts")
        for b, ans in enumerate(answers):
            x[b, P + R + len(d):P + R + len(d) + A] = torch.tensor(pad_answer(model, ans, A))
    return x, attn, ragged, P, stage


def pad_answer(model: Any, answer: Text, answer_length: int) -> list[int]:
    """Answer ids right-padded with EOS (else pad) to the answer block's length."""
    ids = encode_fixed(model, answer, "answer")
    if len(ids) > answer_length:
        raise ValueError(f"answer {answer!r} is {len(ids)} tokens, longer than answer_length {answer_length}")
    fill = getattr(model, "eos_id", None)
    fill = getattr(model, "pad_id", None) if fill is None else fill
    if fill is None and len(ids) < answer_length:
        raise ValueError("answer shorter than answer_length and the model has no EOS/pad token to fill")
    return ids + [int(fill)] * (answer_length - len(ids))


def infill(sampler: Sampler, model: Any, prompts: Sequence[Sequence[int]], template: Template,
           block_length: Optional[int] = None, seeds: Optional[Sequence[int]] = None,
           gamma: Optional[float] = None, exit_decode: str = "greedy",
           answers: Optional[Sequence[Text]] = None) -> SamplerOutput:
    """Decode with the answer-block template; ``gamma`` enables early exit, ``answers`` pre-fills
    the answer block (posterior sampling; early exit is then meaningless and disabled)."""
    seeds = list(range(len(prompts))) if seeds is None else list(seeds)
    if len(seeds) != len(prompts):
        raise ValueError(f"got {len(seeds)} seeds for {len(prompts)} prompts")
    exit_rule = EarlyExit(gamma, exit_decode)
    x, attn, ragged, P, stage = _canvas(model, prompts, template, answers)
    bl = template.reasoning_length if block_length is None else check_int("block_length", block_length)
    use_exit = exit_rule.gamma > 0 and answers is None
    return sampler.decode(model, x, attn, ragged, P, bl, seeds, stage=stage,
                          hooks=(exit_rule,) if use_exit else ())


@torch.no_grad()
def trace_scores(model: Any, prompt: Sequence[int], tokens: torch.Tensor, order: Sequence[int],
                 template: Template, answer: Text, max_rows: int = 256) -> list[float]:
    """φ_t = Σ_answer log p(a*_j | prompt, first t reasoning commits), t = 0..#reasoning commits.

    ``tokens``/``order`` come from a decoded sample (``out.tokens[b]``, ``out.traces[b].order``).
    """
    x, attn, ragged, P, stage = _canvas(model, [prompt], template, None)
    ans = torch.tensor(pad_answer(model, answer, template.answer_length))
    sl = template.answer_slice(model)
    reasoning = [g for g in order if g < template.reasoning_length]
    rows = x.repeat(len(reasoning) + 1, 1)
    for t in range(1, len(reasoning) + 1):
        rows[t:, P + reasoning[t - 1]] = tokens[reasoning[t - 1]]
    phis: list[float] = []
    for k in range(0, rows.shape[0], max_rows):
        lg = logits_at(model, rows[k:k + max_rows], torch.arange(P + sl.start, P + sl.stop)).double()
        lg[..., model.mask_id] = NEG_INF
        lp = torch.log_softmax(lg, -1).gather(-1, ans[None, :, None].expand(lg.shape[0], -1, 1))
        phis.extend(lp.squeeze(-1).sum(-1).tolist())
    return phis
