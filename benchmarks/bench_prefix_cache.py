"""Prefix KV cache and Fast-dLLM's dual cache: throughput with and without, and how often they
change the tokens.

    python -m benchmarks.bench_prefix_cache                      # committed tiny model, CPU (prefix only)
    python -m benchmarks.bench_prefix_cache --native llada --caches prefix,dual   # native LLaDA, small random
    python -m benchmarks.bench_prefix_cache --native dream --caches prefix,dual   # native Dream, small random
    python -m benchmarks.bench_prefix_cache --model /path/to/LLaDA-8B-Instruct --caches prefix,dual \\
        --device cuda --batches 1,8,32 --gen-length 256 --block-length 32         # a real checkpoint

For each sampler (``confidence``, ``imh`` with T = 4), batch size and cache: NFE/s (denoiser steps
per second, summed over the batch), tokens/s, the speed-up over no cache (one run each way, same
seeds), and the share of generated tokens identical to the no-cache run.  The caches are exact
only for a one-layer model (see workers/prefix_cache.py), so the agreement is the figure to read
next to the speed-up.  ``--native`` builds the project's native LLaDA / Dream at a scaled-down
shape with random weights (no weights are reachable here): near-uniform predictions make its
agreement a pessimistic figure; a trained checkpoint (``--model``) is the one to read.
``benchmarks/bench_gpu_native.py`` times LLaDA-8B's shape on a GPU.
"""
from __future__ import annotations

import argparse
import time

import torch

#: scaled-down shapes for the native modules on CPU
NATIVE_SHAPES = {
    "llada": dict(d_model=128, n_heads=4, n_kv_heads=4, n_layers=4, mlp_hidden_size=256, vocab_size=2048,
                  embedding_size=2048, mask_token_id=2047, eos_token_id=2046, pad_token_id=2046),
    "dream": dict(hidden_size=128, num_attention_heads=4, num_key_value_heads=2, num_hidden_layers=4,
                  intermediate_size=256, vocab_size=2048, mask_token_id=2047, eos_token_id=2046,
                  pad_token_id=2046, bos_token_id=2046),
}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default="tiny", help="model for load_model (default: the embedded tiny model)")
    ap.add_argument("--native", choices=sorted(NATIVE_SHAPES), help="native module, scaled-down random weights")
    ap.add_argument("--caches", default="prefix", help="comma list of prefix, dual (dual: native modules only)")
    ap.add_argument("--device", default=None)
    ap.add_argument("--batches", default="1,8,32")
    ap.add_argument("--gen-length", type=int, default=48)
    ap.add_argument("--block-length", type=int, default=8)
    ap.add_argument("--prompt-length", type=int, default=0, help="random prompts of this length (0: task prompts)")
    ap.add_argument("--threads", type=int, default=2, help="torch CPU threads")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    from workers.models import load_model
    from workers.models.random_checkpoint import random_native_denoiser
    from workers.samplers import make_sampler
    from workers.tasks import load_task

    if args.native:
        model = random_native_denoiser(args.native, device=args.device or "cpu", **NATIVE_SHAPES[args.native])
    else:
        model = load_model(args.model, device=args.device, dtype=torch.float32 if args.device in (None, "cpu") else None)
    sync = torch.cuda.synchronize if model.device.type == "cuda" else (lambda: None)
    if args.prompt_length or args.native:
        g = torch.Generator().manual_seed(0)
        n = args.prompt_length or 24
        pool = [torch.randint(0, min(model.vocab_size - 16, 20000), (n,), generator=g).tolist() for _ in range(64)]
    else:
        pool = [model.encode_prompt(p.prompt) for p in load_task("arith").problems[:64]]

    caches = [c.strip() for c in args.caches.split(",")]
    print(f"{model.name} on {model.device}; gen_length {args.gen_length}, block_length {args.block_length}")
    print("| sampler | batch | cache | NFE/s no cache | NFE/s cache | tokens/s no cache | tokens/s cache | speed-up "
          "| tokens identical |")
    print("|---|---:|---|---:|---:|---:|---:|---:|---:|")
    samplers = {"confidence": make_sampler("confidence", temperature=0.0),
                "imh T=4": make_sampler("imh", alpha=2.0, chain_length=4)}
    for label, sampler in samplers.items():
        for batch in (int(b) for b in args.batches.split(",")):
            prompts = [pool[i % len(pool)] for i in range(batch)]
            runs = {}
            for cache in [False, *caches]:
                sampler.generate(model, prompts[:1], gen_length=args.block_length, seeds=[0], prefix_cache=cache)
                sync()
                t0 = time.perf_counter()
                out = sampler.generate(model, prompts, gen_length=args.gen_length, block_length=args.block_length,
                                       seeds=range(batch), prefix_cache=cache)
                sync()
                wall = time.perf_counter() - t0
                runs[cache] = (out, sum(t.nfe for t in out.traces) / wall, batch * args.gen_length / wall, wall)
            a, nfe0, tok0, w0 = runs[False]
            for cache in caches:
                b, nfe1, tok1, w1 = runs[cache]
                same = (a.tokens == b.tokens).float().mean().item()
                print(f"| {label} | {batch} | {cache} | {nfe0:.1f} | {nfe1:.1f} | {tok0:.1f} | {tok1:.1f} | "
                      f"{w0 / w1:.2f}x | {same:.3f} |", flush=True)


if __name__ == "__main__":
    main()
