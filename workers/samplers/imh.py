"""``imh``: global tempering by independent Metropolis–Hastings with batched lookahead (000 §4.3, Alg. 1).

One token per step.  A base rule picks the position i (``position``: confidence = highest max
probability, entropy, margin, or random).  Each rule is a registered one-token baseline
(``BASE_SAMPLERS``: confidence → ``max_prob``, the others by their own name), and IMH at α = 1
samples exactly that baseline's law at τ = 1, so an α-curve starts from a baseline point and the
difference measured is global tempering alone (``base_sampler`` is written to each row).
The proposal is r_i = softmax(α ℓ_i) (Eq. 9).  The target is π_i(v) ∝ exp(α ℓ_{i,v} + Δ̂_{i,v})
(Eq. 8) with the mean-field suffix correction

    Δ̂_{i,v} = Σ_{j ∈ W(s′)} log Σ_u p_j(u | s′)^α,   s′ = s ⊕ (i, v),

where W(s′) is the set of still-masked positions in the lookahead window (``window``: "all" =
every masked position R(s′), 000 Eq. 8 and the default; "block" = the current block; an integer
N = the N generated positions after i, as 000 runs WeDLM with N = 16).  x, y_1..y_T ~ r_i are drawn from the sample's own stream; their T+1 states are
forwarded in ONE batched call (their logits of W(s′) only, plus the next step's window of the
reused one); the chain accepts y_t with probability min(1, exp(Δ̂_y − Δ̂_x))
(Eq. 10, App. D: the α ℓ terms cancel).  The committed candidate's forward is reused as the next
step's forward, so ``nfe`` equals the one-token baseline's; ``forward_rows`` = nfe + T·(steps
whose window W(s′) was non-empty) — when W(s′) is empty, Δ̂ ≡ 0, every move is accepted and no
lookahead is needed.  ``acceptance_rate`` counts only those steps with a non-empty window (null
when a sample had none).  α = 1 gives Δ̂ ≡ 0: plain sampling at temperature 1.

Parameter ``max_rows`` (execution only, not a sampling parameter) bounds the rows of one
candidate forward; larger batches are chunked.
"""
from __future__ import annotations

from typing import Union

import torch

from workers.samplers.base import (Commit, RowLogits, Sampler, Step, Trace, check_float, check_int,
                                   positions_of)
from workers.samplers.functional import NEG_INF, entropy, margin, masked_argmax, one_hot_rows, probs, sample_tokens

POSITION_RULES = ("confidence", "entropy", "margin", "random")
# Position rule → the registered baseline sampler with the same rule (rank on the untempered
# marginals, then draw the token): IMH at α = 1 is that sampler at τ = 1.
BASE_SAMPLERS: dict[str, str] = {"confidence": "max_prob", "entropy": "entropy", "margin": "margin",
                                 "random": "random"}


class IMHSampler(Sampler):
    name = "imh"

    def __init__(self, alpha: float = 2.0, chain_length: int = 4,
                 window: Union[str, int] = "all", position: str = "confidence",
                 max_rows: int = 4096) -> None:
        alpha = check_float("alpha", alpha, strict=True)
        if isinstance(window, str) and window.isdigit():
            window = int(window)
        if not (window in ("block", "all") or (isinstance(window, int) and not isinstance(window, bool)
                                               and window >= 1)):
            raise ValueError(f"window must be 'block', 'all' or an integer >= 1, got {window!r}")
        if position not in POSITION_RULES:
            raise ValueError(f"position must be one of {', '.join(POSITION_RULES)}, got {position!r}")
        # The proposal is softmax(α ℓ): α plays the temperature's role, so τ is fixed at 1/α.
        super().__init__(temperature=1.0 / alpha, alpha=alpha,
                         chain_length=check_int("chain_length", chain_length),
                         window=window, position=position)
        # τ = 1/α is implied by α: keep it out of ``params`` so α alone names the knob and
        # make_sampler("imh", **s.params) round-trips.
        del self._params["temperature"]
        self.alpha, self.chain_length = alpha, self._params["chain_length"]
        self.window, self.position = window, position
        self.max_rows = check_int("max_rows", max_rows)

    @property
    def deterministic(self) -> bool:
        return False   # an MH chain with a drawn proposal at every α (τ = 1/α > 0)

    @property
    def base_sampler(self) -> str:
        """The baseline whose law IMH samples at α = 1 (τ = 1): see ``BASE_SAMPLERS``."""
        return BASE_SAMPLERS[self.position]

    # ----------------------------------------------------------------------------- helpers
    def _position(self, step: Step, p: torch.Tensor, u: torch.Tensor) -> torch.Tensor:
        if self.position == "confidence":
            score = p.max(-1).values
        elif self.position == "entropy":
            score = -entropy(p)
        elif self.position == "margin":
            score = margin(p)
        else:  # random: the k-th eligible position, k uniform
            count = step.eligible.sum(1)
            k = (u * count).long().clamp_max(count - 1)
            rank = step.eligible.long().cumsum(1) - 1
            return ((rank == k[:, None]) & step.eligible).int().argmax(1)
        return masked_argmax(score, step.eligible)

    def select(self, step: Step) -> Commit:
        A, W = step.eligible.shape
        T = self.chain_length
        u = step.rand(2 * T + 2)                       # T+1 proposals, T acceptances, 1 position
        p = probs(step.logits)
        i = self._position(step, p, u[:, -1])
        rows = torch.arange(A, device=i.device)
        ell_i = step.logits[rows, i]                                          # [A, V]
        cands = sample_tokens(ell_i[:, None, :].expand(-1, T + 1, -1), 1.0 / self.alpha, u[:, :T + 1])

        # Lookahead window W(s′) over generated positions, for each row.
        gen = step.x[:, step.gen_start:]
        G = gen.shape[1]
        gpos = step.window_start + i                                          # committed position
        still = gen == step.mask_id
        still[rows, gpos] = False
        cols = torch.arange(G, device=i.device)[None, :]
        if self.window == "block":
            bl = W
            inwin = (cols >= step.window_start[:, None]) & (cols < step.window_start[:, None] + bl)
        elif self.window == "all":
            inwin = torch.ones_like(still)
        else:
            inwin = (cols > gpos[:, None]) & (cols <= gpos[:, None] + int(self.window))
        win = still & inwin                                                   # [A, G]
        need = win.any(1)

        delta = torch.zeros(A, T + 1, dtype=step.logits.dtype, device=i.device)
        next_logits = None
        if bool(need.any()):
            owners = need.nonzero().squeeze(1).repeat_interleave(T + 1)      # rows a,a,..,b,b,..
            which = torch.arange(T + 1, device=i.device).repeat(int(need.sum()))
            xs = step.x[owners].clone()
            xs[torch.arange(len(owners)), step.gen_start + gpos[owners]] = cands[owners, which]
            # each candidate is scored on its owner's W(s′) only: those rows of the forward (issue 27)
            wpos, wvalid = positions_of(win[owners])                          # [R, K]
            cand = RowLogits.cat([step.lookahead(xs[k:k + self.max_rows], owners[k:k + self.max_rows],
                                                 wpos[k:k + self.max_rows], reuse=True)
                                  for k in range(0, len(owners), self.max_rows)])
            cand_logits = cand.at(wpos)                                       # [R, K, V]
            cand_logits[..., step.mask_id] = NEG_INF
            logq = torch.log_softmax(cand_logits, -1)
            per_win = torch.logsumexp(self.alpha * logq, -1)                  # log Σ_u q_j(u)^α
            per_win = torch.where(wvalid, per_win, torch.zeros_like(per_win))
            per_pos = per_win.new_zeros(len(owners), G).scatter(1, wpos, per_win)   # [R, G], 0 off W(s′)
            delta[owners, which] = per_pos.sum(-1).to(delta.dtype)

        # The IMH chain (Alg. 1 lines 6–13): state index k into the candidates, starting at x.
        state = torch.zeros(A, dtype=torch.long, device=i.device)
        accepted = torch.zeros(A, dtype=delta.dtype, device=i.device)
        for t in range(1, T + 1):
            log_a = (delta[:, t] - delta[rows, state]).clamp_max(0.0)
            move = u[:, T + t].log() < log_a
            state = torch.where(move, torch.full_like(state, t), state)
            accepted += move.to(delta.dtype)
        token = cands[rows, state]
        tokens = torch.zeros_like(step.eligible, dtype=torch.long)
        tokens[rows, i] = token

        if bool(need.any()):
            # Reuse the committed state's forward as the next step's forward.
            r_of = torch.full((A, T + 1), -1, dtype=torch.long, device=i.device)
            r_of[owners, which] = torch.arange(len(owners), device=i.device)
            pick = r_of[rows, state].clamp_min(0)
            next_logits = cand[pick]
        for a, tr in enumerate(step.traces):
            tr.extra.setdefault("accepted", 0.0)
            tr.extra.setdefault("proposals", 0)
            if bool(need[a]):
                # only a step whose window had masked positions decides anything: with W(s′) empty,
                # Δ̂ ≡ 0 and all T moves are accepted by construction (counting them would inflate
                # the rate, more so with a short window such as WeDLM's 16)
                tr.extra["accepted"] += float(accepted[a])
                tr.extra["proposals"] += T
                d = delta[a]
                tr.extra.setdefault("delta_spread", []).append(float(d.max() - d.min()))
        return Commit(one_hot_rows(i, W), tokens, next_logits=next_logits, next_valid=need)

    def finish_trace(self, trace: Trace) -> None:
        props = trace.extra.get("proposals", 0)
        # over the steps that had a proposal to decide (000 Table 3); none had one → no rate (null)
        trace.acceptance_rate = trace.extra.get("accepted", 0.0) / props if props else None
        spreads = trace.extra.pop("delta_spread", [])
        trace.extra["delta_spread_mean"] = sum(spreads) / len(spreads) if spreads else 0.0
