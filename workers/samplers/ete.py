"""``ete``: Explore-Then-Exploit (002 §4, Alg. 2–3; equations lost in extraction, rules as
reconstructed in docs/design.md §5 — every choice below is a parameter).

Fast block diffusion (002 §4.2): blocks of ``block_length``; block b+1 opens after block b has
used ``budget`` sequential forward passes (``budget=None`` = ∞: only when block b is complete),
and every earlier block stays eligible (cross-block, Eq. 4).  "After exhausting the budget for
the last block, we apply a few additional decoding rounds (E)" (§4.2): ``extra_rounds`` more
forwards, then decoding stops, so nfe ≤ n_blocks·budget + extra_rounds for every sample.  002
says nothing more: positions still masked when the limit is reached stay the mask token (the
completion text drops them, as the models' ``decode`` drops mask tokens; the trace's
``extra["masked_left"]`` counts them, and ``bits_l2r`` is null for such a sample: it has no
joint).  ``final_round=True`` is this project's earlier variant, not 002's: the limit's last
forward commits everything still masked at once (every sample complete, the same nfe bound).
002 §4 counts its budget in forward passes: a targeted-exploration round costs two (the main
forward and the hypotheses'), is charged two, and runs only when it fits in the limit (with
``final_round``: when the final round still fits after it).

Each round, on the marginals of one forward:
- exploitation (Eq. 5): commit every eligible position whose drawn token has confidence ≥
  ``threshold`` (greedy at ``temperature`` 0, as 002 uses);
- implicit exploration: every open block with eligible positions but none above ``threshold``
  commits its most confident position;
- targeted exploration (Eq. 6–7), when ``explore`` is on, the current block's mean masked
  confidence is < ``explore_threshold`` and it has ≥ ``min_masked`` masked positions: take the
  ``beam`` K positions whose confidence is nearest ``target_conf`` (distance minus
  ``position_bias`` × relative position, favouring later tokens), commit each one's top token in
  its own hypothesis, forward the K hypotheses in ONE batch (one extra sequential forward: nfe
  +1, K rows), score each by log p(token) + ``lam`` · #(other eligible positions with
  confidence ≥ ``threshold`` under that hypothesis), commit the best hypothesis' token and then
  exploit with that hypothesis' marginals — in the same round.

Accounting (per forward, so exploit_rounds + explore_rounds = nfe): a forward is an exploitation
round when at least one token committed from its marginals passed the threshold test, otherwise
an exploration round.  Bits are split per token: exploitation tokens → exploit_bits, implicit /
targeted / final-round tokens → explore_bits; each token's bits use the marginals it was decided on.
With ``explore=False`` and ``budget=None`` this is exactly ``threshold`` decoding (same seeds).
"""
from __future__ import annotations

import math
from typing import Any, Optional

import torch

from workers.samplers.base import Commit, LN2, Sampler, Step, Trace, check_float, check_int
from workers.samplers.functional import NEG_INF, probs, sample_tokens


class ETESampler(Sampler):
    name = "ete"
    tracks_rounds = True
    own_round_accounting = True

    def __init__(self, threshold: float = 0.9, budget: Optional[int] = 8, extra_rounds: int = 2,
                 explore: bool = True, explore_threshold: float = 0.6, min_masked: int = 4,
                 beam: int = 2, target_conf: float = 0.5, position_bias: float = 0.01,
                 lam: float = 1.0, temperature: float = 0.0, final_round: bool = False) -> None:
        if budget in (None, "inf", "none", math.inf):
            budget = None
        else:
            budget = check_int("budget", budget)
        for flag, v in (("explore", explore), ("final_round", final_round)):
            if not isinstance(v, bool):
                raise ValueError(f"{flag} must be true or false, got {v!r}")
        super().__init__(
            temperature=temperature, threshold=check_float("threshold", threshold, high=1.0),
            budget=budget, extra_rounds=check_int("extra_rounds", extra_rounds, low=0),
            explore=explore, explore_threshold=check_float("explore_threshold", explore_threshold, high=1.0),
            min_masked=check_int("min_masked", min_masked), beam=check_int("beam", beam),
            target_conf=check_float("target_conf", target_conf, high=1.0),
            position_bias=check_float("position_bias", position_bias), lam=check_float("lam", lam),
            final_round=final_round)
        for k, v in self._params.items():
            setattr(self, k, v)

    # ------------------------------------------------------------------ block schedule
    def _state(self, tr: Trace) -> dict[str, Any]:
        return tr.extra.setdefault("_ete", {"open": 0, "rounds": 0, "total": 0})

    def window_bounds(self, masked, traces, block_length):
        first = masked.int().argmax(1) // block_length
        n_blocks = masked.shape[1] // block_length
        limit = self._limit(n_blocks) if self.final_round else None
        # the final forced round (the limit's last forward) sees every block
        opened = torch.tensor([n_blocks - 1 if limit is not None and self._state(t)["total"] + 1 >= limit
                               else self._state(t)["open"] for t in traces], device=masked.device)
        last_open = torch.maximum(first, opened)
        return first * block_length, (last_open + 1) * block_length

    def _advance(self, tr: Trace, masked_row: torch.Tensor, bl: int, forwards: int) -> None:
        st = self._state(tr)
        st["rounds"] += forwards        # the budget counts sequential forwards (002 §4)
        st["total"] += forwards
        st["left"] = int(masked_row.sum())
        n_blocks = masked_row.numel() // bl
        # a two-forward round may pay for more than one block's budget: carry the rest over
        while self.budget is not None and st["rounds"] >= self.budget and st["open"] < n_blocks - 1:
            st["open"], st["rounds"] = st["open"] + 1, st["rounds"] - self.budget
        if bool(masked_row.any()):
            first = int(masked_row.int().argmax()) // bl
            if first > st["open"]:
                st["open"], st["rounds"] = first, 0

    def _limit(self, n_blocks: int) -> Optional[int]:
        return None if self.budget is None else n_blocks * self.budget + self.extra_rounds

    def stopped(self, trace: Trace) -> bool:
        """The sample has used its n_blocks·S + E forwards (002 §4.2): decoding ends there."""
        st = trace.extra.get("_ete")
        return bool(st) and st.get("limit") is not None and st["total"] >= st["limit"]

    # ------------------------------------------------------------------ one round
    def select(self, step: Step) -> Commit:
        A, W = step.eligible.shape
        dev = step.eligible.device
        G = step.x.shape[1] - step.gen_start
        bl = step.block_length
        # One uniform per position of the row's own span (= threshold's draws when one block is open).
        u = step.rand((step.window_end - step.window_start).tolist())
        tokens = sample_tokens(step.logits, self.temperature, u)
        p = probs(step.logits)
        logp_all = torch.log_softmax(step.logits, -1).gather(-1, tokens[..., None]).squeeze(-1)
        conf = logp_all.exp()
        elig = step.eligible
        pos = step.window_start[:, None] + torch.arange(W, device=dev)          # generated position
        block = pos // bl
        exploit = elig & (conf >= self.threshold)
        commit = exploit.clone()
        explore_tok = torch.zeros_like(elig)
        logp = logp_all.clone()
        hyp_exploit_rows = torch.zeros(A, dtype=torch.bool, device=dev)
        
        for a in range(A):
            st = self._state(step.traces[a])
            masked_row = (step.x[a, step.gen_start:] == step.mask_id)
            limit = st["limit"] = self._limit(G // bl)
            if self.final_round and limit is not None and st["total"] + 1 >= limit:  # forced round
                forced = elig[a] & ~commit[a]
                commit[a] |= forced
                explore_tok[a] |= forced
                continue
            cur = max(st["open"], int(masked_row.int().argmax()) // bl)
            in_cur = elig[a] & (block[a] == cur)
            # a targeted round uses forwards total+1 and total+2: both within the limit (and,
            # with final_round, the forced round after them)
            affordable = limit is None or st["total"] + 2 + int(self.final_round) <= limit
            targeted = (self.explore and affordable and int(in_cur.sum()) >= self.min_masked
                        and float(p[a].max(-1).values[in_cur].mean()) < self.explore_threshold)
            # implicit exploration: each open block with eligible positions but no exploitation
            # (the current block explores by beam search instead when targeted exploration runs)
            for b in torch.unique(block[a][elig[a]]).tolist():
                in_b = elig[a] & (block[a] == b)
                if not bool(exploit[a][in_b].any()) and not (targeted and b == cur):
                    j = int(conf[a].masked_fill(~in_b, NEG_INF).argmax())
                    commit[a, j] = explore_tok[a, j] = True
            if targeted:
                self._targeted(step, a, in_cur, p, pos, commit, explore_tok, logp, tokens,
                               hyp_exploit_rows)

        # round accounting (see module docstring)
        for a, tr in enumerate(step.traces):
            bits_explore = float(-(logp[a][commit[a] & explore_tok[a]]).sum()) / LN2
            bits_exploit = float(-(logp[a][commit[a] & ~explore_tok[a]]).sum()) / LN2
            tr.explore_bits += bits_explore
            tr.exploit_bits += bits_exploit
            targeted = tr.extra.pop("_targeted_now", False)
            forwards = 2 if targeted else 1
            if targeted:
                tr.explore_rounds += 1                       # the main forward chose the exploration
                if bool(hyp_exploit_rows[a]):
                    tr.exploit_rounds += 1
                else:
                    tr.explore_rounds += 1
            elif bool((commit[a] & ~explore_tok[a]).any()):
                tr.exploit_rounds += 1
            else:
                tr.explore_rounds += 1
            masked_after = (step.x[a, step.gen_start:] == step.mask_id).clone()
            masked_after[pos[a][commit[a]]] = False
            self._advance(tr, masked_after, bl, forwards)
        return Commit(commit, tokens, logp=logp)

    def _targeted(self, step, a, in_cur, p, pos, commit, explore_tok, logp, tokens, hyp_rows) -> None:
        W = in_cur.numel()
        conf_max = p[a].max(-1).values
        rel = torch.arange(W, device=in_cur.device, dtype=conf_max.dtype) / max(W - 1, 1)
        dist = (conf_max - self.target_conf).abs() - self.position_bias * rel
        cand = dist.masked_fill(~in_cur, math.inf).argsort()[: min(self.beam, int(in_cur.sum()))]
        top = p[a, cand].argmax(-1)
        xs = step.x[a].repeat(len(cand), 1)
        xs[torch.arange(len(cand)), step.gen_start + pos[a, cand]] = top
        owners = torch.full((len(cand),), a, dtype=torch.long, device=xs.device)
        wpos = pos[a].clamp_max(step.x.shape[1] - step.gen_start - 1).expand(len(cand), -1)
        hyp_w = step.lookahead(xs, owners, wpos).at(wpos)               # [K, W, V]: K rows, the window
        step.traces[a].nfe += 1                                          # one extra sequential forward
        hyp_w[..., step.mask_id] = NEG_INF
        hyp_logp = torch.log_softmax(hyp_w, -1)
        others = step.eligible[a] & ~commit[a]
        scores = []
        for k, j in enumerate(cand.tolist()):
            ok = others.clone()
            ok[j] = False
            n_conf = int((hyp_logp[k].max(-1).values.exp()[ok] >= self.threshold).sum())
            scores.append(float(torch.log(p[a, j, top[k]])) + self.lam * n_conf)
        best = max(range(len(cand)), key=lambda k: (scores[k], -k))
        j = int(cand[best])
        commit[a, j] = explore_tok[a, j] = True
        tokens[a, j] = top[best]
        logp[a, j] = torch.log(p[a, j, top[best]])
        # exploit greedily on the best hypothesis' marginals (its argmax tokens with confidence ≥ threshold)
        ok = others.clone()
        ok[j] = False
        hyp_tok = hyp_logp[best].argmax(-1)
        hyp_conf = hyp_logp[best].gather(-1, hyp_tok[:, None]).squeeze(-1).exp()
        take = ok & (hyp_conf >= self.threshold) & ~commit[a]
        if bool(take.any()):
            commit[a] |= take
            tokens[a][take] = hyp_tok[take]
            logp[a][take] = hyp_logp[best].gather(-1, hyp_tok[:, None]).squeeze(-1)[take]
            hyp_rows[a] = True
        step.traces[a].extra["_targeted_now"] = True
        step.traces[a].extra["targeted_rounds"] = step.traces[a].extra.get("targeted_rounds", 0) + 1

    def finish_trace(self, trace: Trace) -> None:
        st = trace.extra.pop("_ete", None) or {}
        trace.extra["masked_left"] = st.get("left", 0)
        trace.extra.setdefault("targeted_rounds", 0)
