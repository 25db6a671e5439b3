"""Prefix KV cache: throughput with and without it, and how often it changes the tokens (issue 9).

    python benchmarks/bench_prefix_cache.py                      # committed tiny model, CPU
    python benchmarks/bench_prefix_cache.py --llada-shape --device cuda --batches 1,8,32 \\
        --gen-length 256 --block-length 32 --prompt-length 512   # LLaDA-8B's shape, random bf16

For each sampler (``confidence``, ``imh`` with T = 4) and batch size: NFE/s (denoiser steps per
second, summed over the batch), tokens/s, the cache's speed-up (one run each way, same seeds), and
the share of generated tokens identical to the no-cache run.  The cache is exact only for a
one-layer model (see workers/prefix_cache.py), so the agreement is the figure to read next to
the speed-up.  ``--llada-shape`` builds the project's own bidirectional transformer at LLaDA-8B's
shape (hidden 4096, 32 layers, 32 heads, MLP 12288, vocab 126464) with random weights: no weights
are reachable, so tokens mean nothing there but the speed does.
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

if __package__ in (None, ""):
    sys.path[0] = str(Path(__file__).resolve().parent.parent)

import torch


def llada_shaped(device: str, dtype: torch.dtype):
    from workers.models.hf import HFDenoiser
    from workers.tinymodel.model import TinyDiffusionConfig, TinyDiffusionLM

    class Ids:  # a stand-in tokenizer: the prompts are random ids
        mask_token_id, eos_token_id, pad_token_id = 126336, 126081, 126081

        def __len__(self) -> int:
            return 126464

    cfg = TinyDiffusionConfig(vocab_size=126464, hidden_size=4096, num_hidden_layers=32, num_attention_heads=32,
                              intermediate_size=12288, max_position_embeddings=4096, mask_token_id=126336,
                              pad_token_id=126081, eos_token_id=126081)
    with torch.device(device):
        model = TinyDiffusionLM(cfg).to(dtype).eval()
    return HFDenoiser(model, Ids(), name="llada-8b-shape")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default="tiny", help="model for load_model (default: the embedded tiny model)")
    ap.add_argument("--llada-shape", action="store_true", help="random-weight model at LLaDA-8B's shape")
    ap.add_argument("--device", default=None)
    ap.add_argument("--batches", default="1,8,32")
    ap.add_argument("--gen-length", type=int, default=48)
    ap.add_argument("--block-length", type=int, default=8)
    ap.add_argument("--prompt-length", type=int, default=0, help="random prompts of this length (0: task prompts)")
    ap.add_argument("--threads", type=int, default=2, help="torch CPU threads")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    from workers.models import load_model
    from workers.samplers import make_sampler
    from workers.tasks import load_task

    if args.llada_shape:
        model = llada_shaped(args.device or "cuda", torch.bfloat16)
    else:
        model = load_model(args.model, device=args.device, dtype=torch.float32)
    sync = torch.cuda.synchronize if model.device.type == "cuda" else (lambda: None)
    if args.prompt_length:
        g = torch.Generator().manual_seed(0)
        pool = [torch.randint(200, 20000, (args.prompt_length,), generator=g).tolist() for _ in range(64)]
    else:
        pool = [model.encode_prompt(p.prompt) for p in load_task("arith").problems[:64]]

    print(f"{model.name} on {model.device}; gen_length {args.gen_length}, block_length {args.block_length}")
    print("| sampler | batch | NFE/s no cache | NFE/s cache | tokens/s no cache | tokens/s cache | speed-up | tokens identical |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    samplers = {"confidence": make_sampler("confidence", temperature=0.0),
                "imh T=4": make_sampler("imh", alpha=2.0, chain_length=4)}
    for label, sampler in samplers.items():
        for batch in (int(b) for b in args.batches.split(",")):
            prompts = [pool[i % len(pool)] for i in range(batch)]
            runs = {}
            for cache in (False, True):
                sampler.generate(model, prompts[:1], gen_length=args.block_length, seeds=[0], prefix_cache=cache)
                sync()
                t0 = time.perf_counter()
                out = sampler.generate(model, prompts, gen_length=args.gen_length, block_length=args.block_length,
                                       seeds=range(batch), prefix_cache=cache)
                sync()
                wall = time.perf_counter() - t0
                runs[cache] = (out, sum(t.nfe for t in out.traces) / wall, batch * args.gen_length / wall, wall)
            (a, nfe0, tok0, w0), (b, nfe1, tok1, w1) = runs[False], runs[True]
            same = (a.tokens == b.tokens).float().mean().item()
            print(f"| {label} | {batch} | {nfe0:.1f} | {nfe1:.1f} | {tok0:.1f} | {tok1:.1f} | {w0 / w1:.2f}x | {same:.3f} |",
                  flush=True)


if __name__ == "__main__":
    main()
