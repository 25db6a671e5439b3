"""Exact denoisers of explicitly tabulated distributions (for exact sampler tests and demos).

These are real denoisers, not mocks: the joint distribution over the ``n`` generated positions is
an explicit table over V^n, and ``logits`` returns the exact conditional marginal of every masked
position given the unmasked ones, computed by enumeration.  A sampler that is supposed to sample
the joint can therefore be checked with a χ² test against the table itself.

Token ids: content tokens are ``0..V-1``; ``mask_id = V``; ``pad_id = V + 1`` (``vocab_size = V + 2``).
The generated region is the last ``n`` positions of every row (samplers left-pad prompts, so
this holds for every batch).  Prompt tokens select one of ``K`` tables (``sum(prompt) % K``), so
the prompt really conditions the output, which makes batch-invariance tests meaningful.
"""
from __future__ import annotations

import itertools
from typing import Optional, Sequence

import torch


class ExactJointModel:
    """Denoiser of ``p(x_1..x_n | prompt) = tables[sum(prompt) % K][x]`` (K tables over V^n)."""

    def __init__(self, tables: torch.Tensor, n: int, V: int, eos_id: Optional[int] = None) -> None:
        tables = torch.as_tensor(tables, dtype=torch.float64)
        if tables.dim() == 1:
            tables = tables.unsqueeze(0)
        if tables.shape[1] != V**n:
            raise ValueError(f"tables must have V**n = {V**n} columns, got {tables.shape[1]}")
        if (tables < 0).any():
            raise ValueError("joint tables must be non-negative")
        self.tables = tables / tables.sum(1, keepdim=True)
        self.n, self.V = n, V
        self.mask_id, self.pad_id, self.vocab_size = V, V + 1, V + 2
        self.eos_id = eos_id
        self.device = torch.device("cpu")
        # seqs[k] = the k-th sequence in lexicographic order, matching the table's column order.
        self.seqs = torch.tensor(list(itertools.product(range(V), repeat=n)), dtype=torch.long)
        self._onehot = torch.nn.functional.one_hot(self.seqs, V).to(torch.float64)  # [N, n, V]

    # ----------------------------------------------------------------- constructors
    @classmethod
    def random(cls, V: int = 3, n: int = 4, seed: int = 0, num_tables: int = 1,
               concentration: float = 0.5) -> "ExactJointModel":
        """A correlated joint: a Dirichlet draw over V^n (small concentration = strong structure)."""
        g = torch.Generator().manual_seed(seed)
        alpha = torch.full((num_tables, V**n), concentration, dtype=torch.float64)
        gammas = torch._standard_gamma(alpha, generator=g) if hasattr(torch, "_standard_gamma") else None
        if gammas is None:  # pragma: no cover - very old torch
            gammas = torch.distributions.Gamma(alpha, 1.0).sample()
        return cls(gammas + 1e-12, n, V)

    # ----------------------------------------------------------------- denoiser API
    def table_index(self, x: torch.Tensor, attention_mask: Optional[torch.Tensor]) -> torch.Tensor:
        """Which table each row uses: sum of its (attended) prompt tokens modulo K."""
        prompt = x[:, : x.shape[1] - self.n]
        if attention_mask is not None:
            prompt = prompt * attention_mask[:, : x.shape[1] - self.n].to(prompt.dtype)
        return prompt.sum(1) % self.tables.shape[0]

    def joint_weights(self, x: torch.Tensor, attention_mask: Optional[torch.Tensor] = None) -> torch.Tensor:
        """Unnormalised probability of every completion consistent with each row: [B, V^n]."""
        gen = x[:, -self.n:].cpu()
        consistent = ((gen[:, None, :] == self.mask_id) | (gen[:, None, :] == self.seqs[None])).all(-1)
        return self.tables[self.table_index(x.cpu(), attention_mask)] * consistent

    def logits(self, x: torch.Tensor, attention_mask: Optional[torch.Tensor] = None) -> torch.Tensor:
        B, L = x.shape
        marg = torch.einsum("bN,Nnv->bnv", self.joint_weights(x, attention_mask), self._onehot)
        marg = marg / marg.sum(-1, keepdim=True)
        out = torch.zeros(B, L, self.vocab_size, dtype=torch.float64)
        out[:, :, self.V:] = float("-inf")  # never predict mask or pad
        out[:, -self.n:, : self.V] = marg.log()
        return out.to(x.device)

    # ----------------------------------------------------------------- exact quantities for tests
    def probability(self, completion: Sequence[int], prompt: Sequence[int] = ()) -> float:
        """Exact p(completion | prompt)."""
        k = sum(int(t) for t in prompt) % self.tables.shape[0]
        idx = 0
        for t in completion:
            idx = idx * self.V + int(t)
        return float(self.tables[k, idx])

    def distribution(self, prompt: Sequence[int] = ()) -> torch.Tensor:
        """The exact joint table for this prompt, over V^n in lexicographic order."""
        return self.tables[sum(int(t) for t in prompt) % self.tables.shape[0]].clone()

    def index_of(self, tokens: torch.Tensor) -> torch.Tensor:
        """Lexicographic table index of each completion row [B, n] -> [B]."""
        weights = self.V ** torch.arange(self.n - 1, -1, -1)
        return (tokens.long().cpu() * weights).sum(-1)


class ProductModel:
    """Denoiser of independent positions: p(x) = Π_j p_j(x_j), whatever is unmasked.

    ``probs`` is [n, V]; ``logits`` returns log p_j at each of the last n positions.
    """

    def __init__(self, probs: torch.Tensor) -> None:
        probs = torch.as_tensor(probs, dtype=torch.float64)
        self.probs = probs / probs.sum(-1, keepdim=True)
        self.n, self.V = probs.shape
        self.mask_id, self.pad_id, self.vocab_size = self.V, self.V + 1, self.V + 2
        self.eos_id = None
        self.device = torch.device("cpu")

    @classmethod
    def random(cls, V: int = 4, n: int = 3, seed: int = 0, concentration: float = 1.0) -> "ProductModel":
        g = torch.Generator().manual_seed(seed)
        gam = torch._standard_gamma(torch.full((n, V), concentration, dtype=torch.float64), generator=g)
        return cls(gam + 1e-12)

    def logits(self, x: torch.Tensor, attention_mask: Optional[torch.Tensor] = None) -> torch.Tensor:
        B, L = x.shape
        out = torch.zeros(B, L, self.vocab_size, dtype=torch.float64)
        out[:, :, self.V:] = float("-inf")
        out[:, -self.n:, : self.V] = self.probs.log()
        return out.to(x.device)

    def as_joint(self) -> ExactJointModel:
        """The same distribution as an explicit table (for small n)."""
        table = torch.ones(1, dtype=torch.float64)
        for j in range(self.n):
            table = (table[:, None] * self.probs[j][None, :]).reshape(-1)
        return ExactJointModel(table, self.n, self.V)


class CausalWindowJointModel(ExactJointModel):
    """A tabulated joint exposed as a causal-window denoiser, the way WeDLM is decoded.

    Under WeDLM's topological reordering a mask sees every filled token and the masks before it;
    masks carry no information beyond their position, so the exact conditional marginal of a
    masked position given the filled ones is what an ideal causal-window model returns: the
    logits are the parent's.  What changes is the decoding: ``stream_window`` makes the samplers
    decide inside the ``stream_window`` positions from the first masked one
    (``workers.samplers.base.stream_bounds``), as WeDLM's engine does with W = 16."""

    def __init__(self, tables: torch.Tensor, n: int, V: int, stream_window: int, eos_id: Optional[int] = None) -> None:
        super().__init__(tables, n, V, eos_id)
        self.stream_window = int(stream_window)

    @classmethod
    def random(cls, V: int = 3, n: int = 4, seed: int = 0, num_tables: int = 1,   # type: ignore[override]
               concentration: float = 0.5, stream_window: int = 2) -> "CausalWindowJointModel":
        base = ExactJointModel.random(V, n, seed, num_tables, concentration)
        return cls(base.tables, n, V, stream_window)
