"""A decoding step's vocabulary-sized tensors: every position vs the positions the step reads (issue 27).

    python -m benchmarks.bench_logits_memory                        # CPU, native LLaDA at a scaled shape
    python -m benchmarks.bench_logits_memory --device cuda --vocab 126464 --dim 256

Three layouts of the same steps (``confidence``, batch 32, blocks of 32): a model without the
``positions`` keyword (its logits of every position, prompt included: the layout before issue 27),
``Sampler.full_logits`` (every generated position), and the default (each row's window).  Printed:
the largest vocabulary-sized tensor per dtype (every operator's output is recorded), also scaled
to LLaDA's V = 126,464, and on a GPU the peak allocation above the loaded model.
"""
from __future__ import annotations

import argparse

import torch
from torch.utils._python_dispatch import TorchDispatchMode

from workers.models.random_checkpoint import random_native_denoiser
from workers.samplers.confidence import ConfidenceSampler

LLADA_V = 126464


class Largest(TorchDispatchMode):
    """The largest floating tensor whose last dimension is ``V``, per dtype (bytes)."""

    def __init__(self, V: int) -> None:
        super().__init__()
        self.V, self.bytes = V, {}

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        out = func(*args, **(kwargs or {}))
        for t in out if isinstance(out, (tuple, list)) else [out]:
            if isinstance(t, torch.Tensor) and t.is_floating_point() and t.dim() and t.shape[-1] == self.V:
                n = t.numel() * t.element_size()
                self.bytes[t.dtype] = max(self.bytes.get(t.dtype, 0), n)
        return out


class FirstSteps(ConfidenceSampler):
    """``confidence`` stopped after ``steps`` steps (every step has the same shape)."""

    def __init__(self, steps: int) -> None:
        super().__init__()
        self.steps = steps

    def stopped(self, trace) -> bool:
        return trace.nfe >= self.steps


class NoPositions:
    """The model behind ``logits(x, attention_mask)`` only."""

    def __init__(self, m) -> None:
        self.m, self.mask_id, self.vocab_size, self.pad_id, self.eos_id = m, m.mask_id, m.vocab_size, m.pad_id, m.eos_id
        self.device = m.device

    def logits(self, x, attention_mask=None):
        return self.m.logits(x, attention_mask=attention_mask)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--prompt", type=int, default=44)
    ap.add_argument("--gen", type=int, default=256)
    ap.add_argument("--block", type=int, default=32)
    ap.add_argument("--vocab", type=int, default=4096)
    ap.add_argument("--dim", type=int, default=64)
    ap.add_argument("--steps", type=int, default=2)
    args = ap.parse_args()
    V, dev = args.vocab, torch.device(args.device)
    m = random_native_denoiser("llada", device=dev, dtype=torch.bfloat16, d_model=args.dim, n_heads=4, n_kv_heads=4,
                               n_layers=1, mlp_hidden_size=2 * args.dim, vocab_size=V, embedding_size=V,
                               mask_token_id=V - 8, eos_token_id=2, pad_token_id=0)
    g = torch.Generator().manual_seed(0)
    prompts = torch.randint(3, V - 16, (args.batch, args.prompt), generator=g).tolist()
    print(f"batch {args.batch}, prompt {args.prompt}, gen {args.gen}, block {args.block}, V {V}, bf16 on {dev}")
    for label, model, full in (("every position (no positions keyword)", NoPositions(m), False),
                               ("every generated position (full_logits)", m, True),
                               ("each row's window (default)", m, False)):
        s = FirstSteps(args.steps)
        s.full_logits = full
        if dev.type == "cuda":
            torch.cuda.synchronize()
            torch.cuda.reset_peak_memory_stats()
            base = torch.cuda.memory_allocated()
        with Largest(V) as seen:
            s.generate(model, prompts, args.gen, args.block, seeds=list(range(args.batch)))
        sizes = ", ".join(f"{str(d).removeprefix('torch.')} {b / 2**20:.1f} MiB (at V = {LLADA_V:,}: "
                          f"{b * LLADA_V / V / 1e9:.2f} GB)" for d, b in sorted(seen.bytes.items(), key=str))
        peak = (f"; peak +{(torch.cuda.max_memory_allocated() - base) / 2**20:.0f} MiB"
                if dev.type == "cuda" else "")
        print(f"  {label:40s} {sizes}{peak}")


if __name__ == "__main__":
    main()
