"""Share of sampler step time spent outside the model forward, per sampler, on CPU.

A small stand-in network (a bidirectional transformer encoder of roughly the size of the
embedded tiny model) is timed inside ``logits``; everything else in ``generate`` — windows,
per-sample random streams, the rule itself, bookkeeping — is overhead.  Target: ≤ 10%
for the one-token and threshold samplers.

    python -m benchmarks.bench_samplers [--batch 32] [--gen-length 64] [--block-length 16]
"""
from __future__ import annotations

import argparse
import time

import torch

from workers.samplers import SAMPLERS, make_sampler


class StandIn(torch.nn.Module):
    """Bidirectional transformer encoder with a vocabulary head; timed in ``logits``."""

    def __init__(self, vocab: int, d: int, layers: int, max_len: int) -> None:
        super().__init__()
        self.vocab_size, self.mask_id, self.eos_id = vocab, vocab - 1, 0
        self.emb = torch.nn.Embedding(vocab, d)
        self.pos = torch.nn.Embedding(max_len, d)
        layer = torch.nn.TransformerEncoderLayer(d, nhead=4, dim_feedforward=4 * d, batch_first=True)
        self.enc = torch.nn.TransformerEncoder(layer, layers, enable_nested_tensor=False)
        self.head = torch.nn.Linear(d, vocab)
        self.forward_s = 0.0

    @torch.no_grad()
    def logits(self, x: torch.Tensor) -> torch.Tensor:
        t0 = time.perf_counter()
        h = self.emb(x) + self.pos(torch.arange(x.shape[1]))
        out = self.head(self.enc(h))
        self.forward_s += time.perf_counter() - t0
        return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--prompt-length", type=int, default=32)
    ap.add_argument("--gen-length", type=int, default=64)
    ap.add_argument("--block-length", type=int, default=16)
    ap.add_argument("--vocab", type=int, default=128)
    ap.add_argument("--d-model", type=int, default=256)
    ap.add_argument("--layers", type=int, default=4)
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    model = StandIn(args.vocab, args.d_model, args.layers, args.prompt_length + args.gen_length).eval()
    prompts = [torch.randint(1, args.vocab - 1, (args.prompt_length,)) for _ in range(args.batch)]
    print(f"stand-in: {sum(p.numel() for p in model.parameters()) / 1e6:.1f}M params, batch {args.batch}, "
          f"gen {args.gen_length}, block {args.block_length}, {torch.get_num_threads()} threads")
    print(f"{'sampler':<14} {'steps':>6} {'step ms':>8} {'forward ms':>10} {'outside %':>9}")
    for name in SAMPLERS:
        sampler = make_sampler(name, temperature=1.0)
        sampler.generate(model, prompts[:2], gen_length=args.block_length, seeds=[0, 1])  # warm-up
        model.forward_s = 0.0
        t0 = time.perf_counter()
        out = sampler.generate(model, prompts, gen_length=args.gen_length,
                               block_length=args.block_length, seeds=range(args.batch))
        total = time.perf_counter() - t0
        steps = max(t.nfe for t in out.traces)
        print(f"{name:<14} {steps:>6} {1e3 * total / steps:>8.2f} {1e3 * model.forward_s / steps:>10.2f} "
              f"{100 * (1 - model.forward_s / total):>8.1f}%")


if __name__ == "__main__":
    main()
