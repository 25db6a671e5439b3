"""The step structure every sampler shares.

A sampler is one rule, ``select(step) -> Commit``: given the model's logits over the current
window of masked positions, say which positions to commit and with which tokens.  Everything
else — prompt padding, block semi-autoregressive windows, per-sample random streams, the model
forward, bookkeeping of nfe / forward_rows / bits / commit order — lives here, once.

Per-sample random streams (docs/design.md §3): sample b draws its uniforms only from its own
``torch.Generator`` seeded with ``seeds[b]``, and only through ``Step.rand(n)`` with an ``n`` that
does not depend on the rest of the batch (``Step.window_rand``: one per position of the row's own
window span), so its output is the same alone, in any batch, or refilled into a running one
(``workers/batching.py``).
Samples that finish early leave the batch (their rows are no longer forwarded).

Memory (issue 27): a step forwards only the positions it reads — each row's window, plus what the
step hooks declare — through the denoiser's ``positions`` keyword (``workers.denoiser.logits_at``),
so no tensor of the step is vocabulary-sized over every position (``RowLogits``).
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Callable, ClassVar, Optional, Protocol, Sequence, Union

import torch

from workers.denoiser import (accepts_attention_mask, check_denoiser, logits_at, model_device, pad_id_of,
                              take_positions)
from workers.samplers.functional import NEG_INF

LN2 = math.log(2.0)


@dataclass
class Trace:
    """What happened while decoding one sample (attribute names are a contract, docs/design.md §3)."""

    nfe: int = 0                       # sequential forward passes (rounds)
    forward_rows: int = 0              # sequences forwarded in total (> nfe with lookahead)
    bits: float = 0.0                  # Σ −log2 p(token | state when committed), untempered model
    tokens: int = 0                    # generated tokens before the first EOS
    order: list[int] = field(default_factory=list)        # generated positions in commit order
    commit_step: list[int] = field(default_factory=list)  # per position: 0-based step it was committed in
    exploit_rounds: Optional[int] = None
    explore_rounds: Optional[int] = None
    exploit_bits: Optional[float] = None
    explore_bits: Optional[float] = None
    acceptance_rate: Optional[float] = None
    exit_step: Optional[int] = None
    extra: dict[str, Any] = field(default_factory=dict)   # sampler-specific diagnostics


@dataclass
class SamplerOutput:
    tokens: torch.Tensor        # LongTensor[B, gen_length]
    traces: list[Trace]


@dataclass
class RowLogits:
    """Logits of some generated positions of each row: a step forwards only what it reads (issue 27).

    ``values`` [N, S, V]; ``positions`` [N, S]: column j of row n holds generated position
    ``positions[n, j]`` (repeats allowed: windows clamped at the region's end, padding)."""

    values: torch.Tensor
    positions: torch.Tensor

    def __getitem__(self, rows: Any) -> "RowLogits":
        return RowLogits(self.values[rows], self.positions[rows])

    def covers(self, idx: torch.Tensor) -> torch.Tensor:
        """bool [N]: whether every generated position of ``idx`` [N, K] is present in its row."""
        return (self.positions[:, None, :] == idx[:, :, None]).any(-1).all(-1)

    def at(self, idx: torch.Tensor, valid: Optional[torch.Tensor] = None) -> torch.Tensor:
        """Logits [N, K, V] of generated positions ``idx`` [N, K] (entries where ``valid`` [N, K] is
        False are padding: any row).  May be a view of ``values`` (when ``idx`` is its first K
        columns): copy before writing.  A position not present is a bug of the caller's declaration
        (a step hook's ``positions``), never silently filled."""
        K = idx.shape[1]
        if K <= self.positions.shape[1] and torch.equal(self.positions[:, :K], idx):
            return self.values[:, :K]
        eq = self.positions[:, None, :] == idx[:, :, None]                 # [N, K, S]
        found = eq.any(-1)
        if not bool(found.all() if valid is None else (found | ~valid).all()):
            raise RuntimeError("a step reads generated positions its forward did not compute: a step hook "
                               "that moves a row's window must declare those positions (StepHook.positions)")
        return take_positions(self.values, eq.int().argmax(-1))

    @staticmethod
    def cat(parts: Sequence["RowLogits"]) -> "RowLogits":
        """Rows of several ``RowLogits`` in one (narrower parts repeat their last column)."""
        S = max(p.positions.shape[1] for p in parts)

        def pad(t: torch.Tensor) -> torch.Tensor:
            n = S - t.shape[1]
            return t if n == 0 else torch.cat([t, t[:, -1:].expand(-1, n, *t.shape[2:])], 1)

        return RowLogits(torch.cat([pad(p.values) for p in parts]), torch.cat([pad(p.positions) for p in parts]))


def positions_of(mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """The True columns of each row of ``mask`` [N, G] in ascending order, as indices [N, K] (K =
    the largest count, at least 1), and ``valid`` [N, K]: shorter rows are padded with distinct
    False columns, so scattering values back to [N, G] restores every row exactly."""
    K = max(int(mask.sum(1).max()), 1) if mask.shape[0] else 1
    order = (~mask).to(torch.int8).argsort(dim=1, stable=True)[:, :K]
    return order, mask.gather(1, order)


@dataclass
class Commit:
    """A sampler's decision at one step, over the window [A, W]."""

    mask: torch.Tensor                       # bool: positions to commit (≥ 1 eligible per row)
    tokens: torch.Tensor                     # long: token for each committed position
    forced: Optional[torch.Tensor] = None    # bool [A]: only the rule's fallback token was committed
    # Lookahead samplers (IMH) already forwarded the committed state: its logits (a ``lookahead``
    # with ``reuse=True``, one row per active sample) serve as the next step's forward for rows
    # where ``next_valid`` is True.
    next_logits: Optional[RowLogits] = None
    next_valid: Optional[torch.Tensor] = None
    # log p of each committed token under the state it was decided from, when that is not this
    # step's forward (ETE commits exploitation tokens on a hypothesis' marginals).
    logp: Optional[torch.Tensor] = None


@dataclass
class Step:
    """What a sampler sees at one step. A = samples still decoding, W = window width."""

    logits: torch.Tensor          # [A, W, V] window logits (float32/64); the mask token is -inf
    eligible: torch.Tensor        # [A, W] bool: still-masked positions inside the window
    window_start: torch.Tensor    # [A] offset of the window in the generated region
    window_end: torch.Tensor      # [A] end (exclusive) of each row's eligible span
    block_length: int
    temperature: float
    x: torch.Tensor               # [A, L] current sequences (prompt + generated region)
    gen_start: int                # generated region is x[:, gen_start:]
    mask_id: int
    traces: list[Trace]           # the A active samples' traces (for sampler diagnostics)
    _rand: Callable[[int], torch.Tensor]
    _lookahead: Callable[..., RowLogits]

    def rand(self, n: Union[int, Sequence[int]]) -> torch.Tensor:
        """[A, n] uniforms, row a drawn from sample a's own generator.

        ``n`` may be a per-row list (a row's count must depend only on that sample's own state);
        rows are then right-padded with ones to the longest.
        """
        return self._rand(n)

    def window_rand(self) -> torch.Tensor:
        """[A, W] uniforms, one per position of each row's own window span (right-padded with
        ones): a row's draws never depend on a neighbour's wider window (stages or a last block
        shorter than the others, e.g. reasoning-as-infilling's answer block)."""
        spans = (self.window_end - self.window_start).tolist()
        W = self.eligible.shape[1]
        if all(n == W for n in spans):
            return self._rand(W)
        u = self._rand(spans)
        if u.shape[1] < W:  # every row's span cut short (a streaming window at the region's end)
            u = torch.cat([u, torch.ones(u.shape[0], W - u.shape[1], device=u.device)], 1)
        return u

    def lookahead(self, xs: torch.Tensor, owners: torch.Tensor, positions: Optional[torch.Tensor] = None,
                  reuse: bool = False) -> RowLogits:
        """Forward extra candidate rows ``xs`` [R, L] (row r belongs to active sample owners[r]) and
        charge R rows to forward_rows.  Returns their logits, upcast, at generated ``positions``
        [R, K] (None: every generated position; read them with ``.at(positions)``).  ``reuse``: the
        sampler may hand rows back as ``Commit.next_logits``, so each row also covers the window
        its sample would have next step with that row's state committed (and what the hooks read)."""
        return self._lookahead(xs, owners, positions, reuse)


# ------------------------------------------------------------------------------- validation
def check_float(name: str, value: Any, *, low: float = 0.0, strict: bool = False,
                high: Optional[float] = None) -> float:
    try:
        v = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a number, got {value!r}") from None
    if not math.isfinite(v) or (v <= low if strict else v < low) or (high is not None and v > high):
        bound = f"> {low}" if strict else f">= {low}"
        if high is not None:
            bound += f" and <= {high}"
        raise ValueError(f"{name} must be {bound}, got {value!r}")
    return v


def check_int(name: str, value: Any, *, low: int = 1) -> int:
    if isinstance(value, bool) or not isinstance(value, (int,)) and not (
        isinstance(value, float) and value.is_integer()
    ):
        raise ValueError(f"{name} must be an integer, got {value!r}")
    if int(value) < low:
        raise ValueError(f"{name} must be >= {low}, got {value!r}")
    return int(value)


def _needs_grouping(model: Any, prompts: Any) -> bool:
    """Ragged prompts on a model that takes the attention mask but whose logits still depend on
    left padding (``honours_attention_mask = False``, set at load).  A model that does not take
    the mask at all keeps build_canvas's one-line refusal."""
    if not isinstance(prompts, (list, tuple)) or len({len(p) for p in prompts}) < 2:
        return False
    return not getattr(model, "honours_attention_mask", True)


def build_canvas(model: Any, prompts: Sequence[Sequence[int]], gen_length: int
                 ) -> tuple[torch.Tensor, torch.Tensor, bool, int]:
    """Left-pad prompts and append ``gen_length`` mask tokens.

    Returns (x [B, P+G], attention_mask [B, P+G], ragged, P): prompts are right-aligned so the
    generated region is x[:, P:] for every row; ``ragged`` says whether padding was needed (then
    the model must accept ``attention_mask``).  Bad prompts raise a one-line ValueError.
    """
    if not isinstance(prompts, (list, tuple)) or len(prompts) == 0:
        raise ValueError("prompts must be a non-empty list of 1-D token sequences")
    rows = [torch.as_tensor(p, dtype=torch.long).flatten().cpu() for p in prompts]
    for i, p in enumerate(rows):
        if p.numel() == 0:
            raise ValueError(f"prompt {i} is empty")
        if int(p.min()) < 0 or int(p.max()) >= model.vocab_size:
            raise ValueError(f"prompt {i} has token ids outside [0, {model.vocab_size})")
        if bool((p == model.mask_id).any()):
            raise ValueError(f"prompt {i} contains the mask token {model.mask_id}")
    ragged = len({p.numel() for p in rows}) > 1
    if ragged and not accepts_attention_mask(model):
        raise ValueError("prompts of different lengths need model.logits(x, attention_mask=...)")
    B, P = len(rows), max(p.numel() for p in rows)
    x = torch.full((B, P + gen_length), pad_id_of(model), dtype=torch.long)
    attn = torch.zeros(B, P + gen_length, dtype=torch.long)
    for b, p in enumerate(rows):
        x[b, P - p.numel():P] = p
        attn[b, P - p.numel():] = 1
    x[:, P:] = model.mask_id
    device = model_device(model)
    return x.to(device), attn.to(device), ragged, P


def stream_window(model: Any) -> Optional[int]:
    """The sliding window a causal-window model decodes in (WeDLM's W = 16), or None."""
    w = getattr(model, "stream_window", None)
    return int(w) if w else None


def stream_bounds(masked: torch.Tensor, start: torch.Tensor, end: torch.Tensor,
                  width: int) -> tuple[torch.Tensor, torch.Tensor]:
    """WeDLM's streaming window (WeDLM §4; the published engine's window refill / prune): the
    ``width`` positions from the first still-masked one, inside the block window [start, end).
    Filled positions before it have left the window (confirmed prefix); the window then slides
    by as many positions as were confirmed, so it always holds ``width`` positions."""
    first = masked.int().argmax(1)
    return torch.maximum(start, first), torch.minimum(end, first + width)


def refuse_on(sampler: "Sampler", model: Any) -> None:
    """One-line refusal of a rule the model declares unsuitable (``refused_samplers``: name ->
    reason; IMH is refused with its base rule)."""
    refused = getattr(model, "refused_samplers", None) or {}
    for name in (sampler.name, getattr(sampler, "base_sampler", None)):
        if name in refused:
            what = sampler.name if name == sampler.name else f"{sampler.name} with position rule {name!r}"
            raise ValueError(f"sampler {what} is not run on {getattr(model, 'name', type(model).__name__)}: "
                             f"{refused[name]}")


@dataclass
class DecodeState:
    """The mutable state of one ``Sampler.decode`` call, shared with its hooks.

    ``x`` [B, P+G] is the canvas, ``masked`` [B, G] the positions still to decode, ``stage``
    [B, G] their stage; ``cache`` holds logits a lookahead sampler already computed for a
    sample's current state.  A hook that commits a position must write ``x``, clear ``masked``
    and book the sample's trace itself.
    """

    model: Any
    x: torch.Tensor
    attn: torch.Tensor
    ragged: bool
    P: int
    block_length: int
    masked: torch.Tensor
    stage: torch.Tensor
    gens: list[torch.Generator]
    traces: list[Trace]
    cache: dict[int, RowLogits] = field(default_factory=dict)
    step_idx: int = 0

    @property
    def G(self) -> int:
        """Length of the generated region."""
        return self.x.shape[1] - self.P


def upcast(t: torch.Tensor, copy: bool = False) -> torch.Tensor:
    """``t`` in float32 when it is in a 16-bit dtype (fp32/fp64 stay as they are): the softmax and
    the bits are computed in full precision from logits the model gave in its own dtype."""
    if t.dtype in (torch.float16, torch.bfloat16):
        return t.float()
    return t.clone() if copy else t


class StepHook(Protocol):
    """Something ``Sampler.decode`` calls at every step, after the forward, before ``select``.

    Keeps rules that act on all samplers (infilling's early exit) out of the sampler loop, so
    this module needs no knowledge of them.  A hook may also define
    ``positions(state, active) -> bool [A, G]``: the generated positions ``after_forward`` reads,
    and those of any window it moves a row to (the step forwards only those and the windows,
    issue 27); it then receives the step's ``RowLogits`` (``logits.at(idx)``).  A hook without
    ``positions`` receives the logits of every generated position, [A, G, V], as before.
    """

    def after_forward(self, state: DecodeState, active: torch.Tensor, logits: Any,
                      traces: list[Trace]) -> torch.Tensor:
        """``active`` [A] sample ids, ``logits`` their forward (above), ``traces`` theirs.
        Returns bool [A]: rows that go on to ``select`` this step (False: the hook handled it)."""
        ...  # pragma: no cover - protocol


@dataclass
class Window:
    """Each active row's window: ``m`` [A, G] the positions of its current stage still masked,
    [start, end) its eligible span, ``idx`` [A, W] the generated positions a step reads (W is the
    batch's width; clamped at the region's end), ``reach`` [A] how far past ``start`` the row's
    window can read at any batch width (what a reused lookahead forward must cover)."""

    m: torch.Tensor
    start: torch.Tensor
    end: torch.Tensor
    idx: torch.Tensor
    reach: torch.Tensor


class Sampler:
    """Base class: subclasses set ``name``, validate their parameters, implement ``select``."""

    name: ClassVar[str] = ""
    tracks_rounds: ClassVar[bool] = False   # record exploit/explore rounds and bits
    own_round_accounting: ClassVar[bool] = False  # the sampler fills exploit/explore itself (ETE)
    #: forward every generated position at every step, as before issue 27 (memory B·G·V): the
    #: reference the exactness tests compare the window-only forwards with
    full_logits: bool = False

    def __init__(self, temperature: float = 1.0, **params: Any) -> None:
        self._params: dict[str, Any] = {"temperature": check_float("temperature", temperature), **params}
        self.temperature: float = self._params["temperature"]

    @property
    def params(self) -> dict[str, Any]:
        """All parameters, defaults included, sorted by name (the sweep's ``params`` column)."""
        return dict(sorted(self._params.items()))

    @property
    def deterministic(self) -> bool:
        """True when the output does not depend on the seed (greedy, τ = 0: every token is an
        argmax and every position rule ranks deterministically), so one sample per problem is
        the replication unit and more seeds would be identical copies.  Rules that draw
        positions or run a Markov chain (``random``, ``imh``) say False."""
        return self.temperature == 0.0

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.params.items())
        return f"{type(self).__name__}({args})"

    def select(self, step: Step) -> Commit:  # pragma: no cover - abstract
        raise NotImplementedError

    # ---------------------------------------------------------------------------- generate
    def generate(self, model: Any, prompts: Sequence[Sequence[int]], gen_length: int,
                 block_length: Optional[int] = None,
                 seeds: Optional[Sequence[int]] = None, prefix_cache: Union[bool, str] = False) -> SamplerOutput:
        """Decode ``gen_length`` tokens after each prompt; one trace per sample.

        Block semi-AR: the generated region is split into blocks of ``block_length`` (default:
        one block); a sample's window is the first block that still has masked positions.
        ``prefix_cache=True`` (or ``"prefix"``) serves the forwards from a prefix KV cache,
        ``"dual"`` from Fast-dLLM's dual cache (``workers.prefix_cache``: exact for one-layer
        models, an approximation otherwise).  Prompts of different lengths share forwards (left
        padded) only on models that honour the attention mask; otherwise they are decoded in
        groups of equal length, so a sample never depends on its batch.
        """
        check_denoiser(model)
        refuse_on(self, model)
        gen_length = check_int("gen_length", gen_length)
        block_length = gen_length if block_length is None else check_int("block_length", block_length)
        if gen_length % block_length:
            raise ValueError(f"block_length {block_length} does not divide gen_length {gen_length}")
        seeds = list(range(len(prompts))) if seeds is None else list(seeds)
        if isinstance(prompts, (list, tuple)) and len(seeds) != len(prompts):
            raise ValueError(f"got {len(seeds)} seeds for {len(prompts)} prompts")
        if _needs_grouping(model, prompts):
            return self._generate_by_length(model, prompts, gen_length, block_length, seeds, prefix_cache)
        if prefix_cache:
            from workers.prefix_cache import PrefixCache

            model = PrefixCache(model, gen_length, block_length,
                                mode="prefix" if prefix_cache is True else str(prefix_cache))
        x, attn, ragged, P = build_canvas(model, prompts, gen_length)
        return self.decode(model, x, attn, ragged, P, block_length, seeds)

    def _generate_by_length(self, model: Any, prompts: Sequence[Sequence[int]], gen_length: int,
                            block_length: int, seeds: Sequence[int], prefix_cache: Union[bool, str]) -> SamplerOutput:
        """One ``generate`` per prompt length, for models whose logits depend on left padding
        (LLaDA's published code ignores the attention mask): a sample then never shares a forward
        with a prompt of another length, and per-sample random streams make the result equal to
        decoding it alone.  Samples come back in the caller's order."""
        lengths = [len(p) for p in prompts]
        tokens: Optional[torch.Tensor] = None
        traces: list[Optional[Trace]] = [None] * len(prompts)
        for n in dict.fromkeys(lengths):
            idx = [i for i, m in enumerate(lengths) if m == n]
            out = self.generate(model, [prompts[i] for i in idx], gen_length, block_length,
                                [seeds[i] for i in idx], prefix_cache)
            if tokens is None:
                tokens = out.tokens.new_zeros(len(prompts), out.tokens.shape[1])
            tokens[idx] = out.tokens
            for j, i in enumerate(idx):
                traces[i] = out.traces[j]
        assert tokens is not None and all(t is not None for t in traces)
        return SamplerOutput(tokens=tokens, traces=traces)  # type: ignore[arg-type]

    def decode(self, model: Any, x: torch.Tensor, attn: torch.Tensor, ragged: bool, P: int,
               block_length: int, seeds: Sequence[int], stage: Optional[torch.Tensor] = None,
               hooks: Sequence["StepHook"] = ()) -> SamplerOutput:
        """The decoding loop over a prepared canvas (``build_canvas``; templates use it directly).

        ``x[:, P:]`` is the generated region: mask tokens are decoded, anything else is fixed.
        ``stage`` [B, G] orders groups of positions (e.g. reasoning = 0, answer = 1): a stage is
        eligible only once every earlier stage is committed.  ``hooks`` see each step's forward
        before the sampler does and may finish rows themselves (infilling's early exit, 004 §4.1).
        One step: forward the active rows, run the hooks, build the window, ``select``, commit.
        """
        state = self._start(model, x, attn, ragged, P, block_length, seeds, stage)
        while True:
            live = state.masked.any(1)
            for b in live.nonzero().squeeze(1).tolist():
                if self.stopped(state.traces[b]):   # out of budget: it ends with masks left
                    live[b] = False
            active = live.nonzero().squeeze(1)
            if active.numel() == 0:
                break
            self._step(state, active, hooks)
            state.step_idx += 1
        return self._finish(state)

    # ------------------------------------------------------------------ the steps of decode
    def _start(self, model: Any, x: torch.Tensor, attn: torch.Tensor, ragged: bool, P: int,
               block_length: int, seeds: Sequence[int], stage: Optional[torch.Tensor]) -> "DecodeState":
        """Per-sample generators and traces, the mask and stage maps of the generated region."""
        device, B, G = x.device, x.shape[0], x.shape[1] - P
        stage = torch.zeros(B, G, dtype=torch.long, device=device) if stage is None else stage.to(device)
        traces = [Trace(commit_step=[-1] * G) for _ in range(B)]
        if self.tracks_rounds:
            for t in traces:
                t.exploit_rounds, t.explore_rounds, t.exploit_bits, t.explore_bits = 0, 0, 0.0, 0.0
        return DecodeState(model=model, x=x, attn=attn, ragged=ragged, P=P, block_length=block_length,
                           masked=x[:, P:] == model.mask_id, stage=stage,
                           gens=[torch.Generator(device=device).manual_seed(int(s)) for s in seeds],
                           traces=traces)

    def _step(self, state: "DecodeState", active: torch.Tensor, hooks: Sequence["StepHook"] = ()) -> None:
        """One step of the active rows: forward what the step reads, run the hooks, build the
        window, ``select``, commit (``decode`` and ``workers.batching`` both run it)."""
        win = self._window(state, active)   # known before the forward: the mask and stage maps
        logits = self._forward_active(state, active, hooks, win)
        for hook in hooks:
            seen = logits if hasattr(hook, "positions") else logits.values   # undeclared: [A, G, V]
            keep = hook.after_forward(state, active, seen, [state.traces[b] for b in active.tolist()])
            if not bool(keep.all()):
                active, logits = active[keep], logits[keep]
        if active.numel():   # a hook may have finished every row of this step
            # a hook may have moved a row's window (early exit): then build it again
            step, idx = self._make_step(state, active, logits, hooks, None if hooks else win)
            self._commit(state, active, step, idx, self.select(step))

    @staticmethod
    def _forward(state: "DecodeState", xs: torch.Tensor, owners: torch.Tensor, active: torch.Tensor,
                 positions: torch.Tensor) -> torch.Tensor:
        """Logits [R, S, V] of rows ``xs`` (row r belongs to active sample owners[r]) at generated
        ``positions`` [R, S], in the model's dtype: the model computes those rows only when it
        takes ``positions`` (issue 27: memory on a 24 GB GPU); a sampler upcasts what it reads."""
        am = state.attn[active[owners]] if state.ragged else None
        return logits_at(state.model, xs, state.P + positions, am)

    @staticmethod
    def _hook_positions(state: "DecodeState", active: torch.Tensor,
                        hooks: Sequence["StepHook"]) -> Optional[torch.Tensor]:
        """bool [A, G]: the generated positions the hooks read (None without hooks; every position
        when a hook does not declare them)."""
        if not hooks:
            return None
        need = torch.zeros(active.numel(), state.G, dtype=torch.bool, device=active.device)
        for hook in hooks:
            declared = getattr(hook, "positions", None)
            if declared is None:
                return torch.ones_like(need)
            need |= declared(state, active)
        return need

    def _needed(self, state: "DecodeState", active: torch.Tensor, hooks: Sequence["StepHook"],
                masked: Optional[torch.Tensor] = None, reach: bool = False,
                win: Optional[Window] = None) -> torch.Tensor:
        """Generated positions [A, S] a forward of the active rows must cover: each row's window
        (first, in order), then what the hooks read; every position with ``full_logits``.
        ``masked``: the rows' mask maps (default: the state's); ``reach``: cover the window at any
        batch width (a reused lookahead forward, whose next batch is not known yet); ``win``: the
        rows' window when the caller has it already."""
        G, device = state.G, active.device
        if self.full_logits:
            return torch.arange(G, device=device).expand(active.numel(), G)
        win = self._window(state, active, masked) if win is None else win
        extra = self._hook_positions(state, active, hooks)
        if reach:
            cols = torch.arange(G, device=device)[None, :]
            span = (cols >= win.start[:, None]) & (cols < (win.start + win.reach)[:, None])
            extra = span if extra is None else extra | span
        if extra is not None and bool(extra.all()):
            return torch.arange(G, device=device).expand(active.numel(), G)
        return win.idx if extra is None else torch.cat([win.idx, positions_of(extra)[0]], 1)

    def _forward_active(self, state: "DecodeState", active: torch.Tensor,
                        hooks: Sequence["StepHook"] = (), win: Optional[Window] = None) -> RowLogits:
        """This step's logits of the positions it reads (``_needed``): one forward, except rows whose
        current state a lookahead sampler already forwarded last step covering them (those reuse
        it and are not charged again)."""
        act_list, device, cache = active.tolist(), active.device, state.cache
        A = len(act_list)
        need = self._needed(state, active, hooks, win=win)
        hit = {a for a, b in enumerate(act_list)
               if b in cache and bool(cache[b].covers(need[a:a + 1]).all())}
        fresh = [a for a in range(A) if a not in hit]
        if not hit:
            values = self._forward(state, state.x[active], torch.arange(A, device=device), active, need)
        else:
            rows: list[Optional[torch.Tensor]] = [None] * A
            for a in hit:
                rows[a] = cache[act_list[a]].at(need[a:a + 1])[0]
            if fresh:
                idx_f = torch.tensor(fresh, device=device)
                out = self._forward(state, state.x[active[idx_f]], idx_f, active, need[idx_f])
                for j, a in enumerate(fresh):
                    rows[a] = out[j]
            dtype = next(r.dtype for r in rows if r is not None and r.dtype in (torch.float32, torch.float64))
            values = torch.stack([r.to(dtype) for r in rows])   # reused rows are upcast already
        cache.clear()
        for a in fresh:
            state.traces[act_list[a]].forward_rows += 1
        return RowLogits(values, need)

    def _window(self, state: "DecodeState", active: torch.Tensor, masked: Optional[torch.Tensor] = None,
                traces: Optional[list[Trace]] = None) -> Window:
        """The window each active row may commit in: its current stage (``stage``), the sampler's
        ``window_bounds``, a causal-window model's streaming window.  ``masked`` [A, G]: the rows'
        mask maps (default: the state's).  Known before the forward: it depends only on the mask
        and stage maps and the traces."""
        model, G, device = state.model, state.G, active.device
        traces = [state.traces[b] for b in active.tolist()] if traces is None else traces
        m_all = state.masked[active] if masked is None else masked
        st = state.stage[active]
        current = torch.where(m_all, st, torch.full_like(st, 1 << 30)).min(1).values
        m = m_all & (st == current[:, None])
        start, end = self.window_bounds(m, traces, state.block_length)
        stream = stream_window(model)
        if stream:   # a causal-window model (WeDLM): W positions from the first masked one
            # The window's width must not depend on the batch (rows draw ``rand(width)``): keep
            # it at min(W, block span) even where a row's window is cut short by the region's end.
            reach = (end - start).clamp_max(stream)
            width = min(stream, int((end - start).max()))
            start, end = stream_bounds(m, start, end, stream)
            end = end.clamp_max(G)
        else:
            reach = end - start
            end = end.clamp_max(G)
            width = int((end - start).max())
        idx = (start[:, None] + torch.arange(width, device=device)).clamp_max(G - 1)
        return Window(m, start, end, idx, reach)

    def _make_step(self, state: "DecodeState", active: torch.Tensor, logits: RowLogits,
                   hooks: Sequence["StepHook"] = (), win: Optional[Window] = None) -> tuple[Step, torch.Tensor]:
        """The window each active row may commit in (``win``, else ``_window`` after the hooks), and
        the per-row random streams and lookahead the sampler may use.  Also returns the window's
        generated-region positions ``idx`` [A, W]."""
        model, G, device, gens = state.model, state.G, active.device, state.gens
        act_list = active.tolist()
        act_traces = [state.traces[b] for b in act_list]
        win = self._window(state, active, traces=act_traces) if win is None else win
        start, end, idx = win.start, win.end, win.idx
        window = upcast(logits.at(idx), copy=True)   # only the window is ever upcast
        window[..., model.mask_id] = NEG_INF
        width = idx.shape[1]
        eligible = win.m.gather(1, idx) & (start[:, None] + torch.arange(width, device=device) < end[:, None])

        def rand(n: Union[int, Sequence[int]]) -> torch.Tensor:
            if isinstance(n, int):
                return torch.stack([torch.rand(n, generator=gens[b], device=device) for b in act_list])
            out = torch.ones(len(act_list), max(n), device=device)
            for a, (b, k) in enumerate(zip(act_list, n)):
                out[a, :k] = torch.rand(int(k), generator=gens[b], device=device)
            return out

        def lookahead(xs: torch.Tensor, owners: torch.Tensor, positions: Optional[torch.Tensor],
                      reuse: bool) -> RowLogits:
            for o in owners.tolist():
                act_traces[o].forward_rows += 1
            ask = torch.arange(G, device=device).expand(len(owners), G) if positions is None else positions
            if reuse:   # also what the next step reads, were this row's state committed
                own = active[owners]
                masked = state.masked[own] & (xs[:, state.P:] == model.mask_id)
                ask = torch.cat([ask, self._needed(state, own, hooks, masked, reach=True)], 1)
            return RowLogits(upcast(self._forward(state, xs, owners, active, ask)), ask)

        step = Step(window, eligible, start, end, state.block_length, self.temperature, state.x[active],
                    state.P, int(model.mask_id), act_traces, rand, lookahead)
        return step, idx

    def _commit(self, state: "DecodeState", active: torch.Tensor, step: Step, idx: torch.Tensor,
                c: Commit) -> None:
        """Write the committed tokens into the canvas and book nfe, bits and commit order."""
        commit = c.mask & step.eligible
        if not bool(commit.any(1).all()):
            raise RuntimeError(f"sampler {self.name!r} committed nothing for some sample")
        logp = c.logp if c.logp is not None else (
            torch.log_softmax(step.logits, -1).gather(-1, c.tokens.clamp_min(0)[..., None]).squeeze(-1))
        step_bits = (-torch.where(commit, logp, torch.zeros_like(logp)).sum(1) / LN2).tolist()

        r, w = commit.nonzero(as_tuple=True)
        gpos = idx[r, w]
        state.x[active[r], state.P + gpos] = c.tokens[r, w]
        state.masked[active[r], gpos] = False

        act_list, act_traces = active.tolist(), step.traces
        forced = (c.forced.tolist() if (self.tracks_rounds and c.forced is not None
                                        and not self.own_round_accounting) else None)
        committed: list[list[int]] = [[] for _ in act_list]
        for a, g in zip(r.tolist(), gpos.tolist()):
            committed[a].append(g)
        if c.next_logits is not None:
            for a in torch.nonzero(c.next_valid).squeeze(1).tolist():
                state.cache[act_list[a]] = c.next_logits[a:a + 1]
        for a, tr in enumerate(act_traces):
            tr.nfe += 1
            tr.bits += step_bits[a]
            for g in sorted(committed[a]):
                tr.order.append(g)
                tr.commit_step[g] = state.step_idx
            if forced is not None:
                # (tokens, nats, forced) per round: what the bits-to-rounds check reads
                tr.extra.setdefault("rounds", []).append(
                    (len(committed[a]), step_bits[a] * LN2, bool(forced[a])))
                if forced[a]:
                    tr.explore_rounds += 1
                    tr.explore_bits += step_bits[a]
                else:
                    tr.exploit_rounds += 1
                    tr.exploit_bits += step_bits[a]

    def _finish(self, state: "DecodeState") -> SamplerOutput:
        """Tokens of the generated region; each trace's length up to the first EOS."""
        tokens = state.x[:, state.P:].cpu()
        eos = getattr(state.model, "eos_id", None)
        for b, tr in enumerate(state.traces):
            row = tokens[b]
            if eos is not None and bool((row == eos).any()):
                tr.tokens = int((row == eos).int().argmax())
            else:
                tr.tokens = state.G
            self.finish_trace(tr)
        return SamplerOutput(tokens=tokens, traces=state.traces)

    def window_bounds(self, masked: torch.Tensor, traces: list[Trace],
                      block_length: int) -> tuple[torch.Tensor, torch.Tensor]:
        """Eligible span [start, end) of each active sample's generated region.

        Default (block semi-AR): the first block that still has masked positions.
        """
        start = (masked.int().argmax(1) // block_length) * block_length
        return start, start + block_length

    def stopped(self, trace: Trace) -> bool:
        """True when a sample's decoding ends although positions are still masked (ETE's
        forward budget, 002 §4.2); those positions stay the mask token.  Default: never."""
        return False

    def finish_trace(self, trace: Trace) -> None:
        """Hook for samplers that summarise per-step diagnostics at the end."""
