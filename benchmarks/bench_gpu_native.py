"""Native LLaDA at LLaDA-8B's shape on a GPU: tokens/s per sampler × cache × batch.

    python -m benchmarks.bench_gpu_native                      # GPU: LLaDA-8B shape, random bf16 weights
    python -m benchmarks.bench_gpu_native --small --device cpu # the scaled-down shape the tests run
    python -m benchmarks.bench_gpu_native --json prices.json   # also write the cells for --dry-run
    python sweeps/reproduce.py 000-table2 --dry-run --throughput-from prices.json

``--json FILE`` writes one record per cell: model shape, sampler, cache, batch, dtype, device,
tokens/s (generated) and forwarded tokens/s in the dry run's unit (forwarded rows × (prompt +
gen_length) per second, so a cache's cheaper forwards show as a higher rate);
``--dry-run --throughput-from FILE`` prices a sweep with the closest cell and names it.

Samplers: confidence (one token per step), threshold (0.9), factor (Fast-dLLM mode, f = 1) and
IMH (T = 4, α = 2); caches: off / prefix / dual (workers/prefix_cache.py); batch 1 and 32.  Each
cell is one timed generate after a warm-up; the table prints tokens/s (generated tokens / wall),
NFE/s, the speed-up over "off" and the share of tokens identical to "off".  Random weights give
near-uniform predictions, so threshold and factor commit about one token per step here: read
their rows for the cost of their bookkeeping, not for their parallelism; the token agreement of a
cache on a random model says little about a trained one.
"""
from __future__ import annotations

import argparse
import time
from pathlib import Path

import torch

#: a CPU-sized LLaDA (same layout and code path, ~1/1000 of the compute)
SMALL = dict(d_model=128, n_heads=4, n_kv_heads=4, n_layers=2, mlp_hidden_size=256, vocab_size=2048,
             embedding_size=2048, mask_token_id=2047, eos_token_id=2046, pad_token_id=2046)

SAMPLERS = {
    "confidence": ("confidence", {"temperature": 0.0}),
    "threshold 0.9": ("threshold", {"threshold": 0.9, "temperature": 0.0}),
    "factor f=1 (fastdllm)": ("factor", {"factor": 1.0, "temperature": 0.0, "mode": "fastdllm"}),
    "imh T=4": ("imh", {"alpha": 2.0, "chain_length": 4}),
}
CACHES = {"off": False, "prefix": "prefix", "dual": "dual"}


def run(args: argparse.Namespace) -> list[dict]:
    from workers.models.random_checkpoint import random_native_denoiser
    from workers.samplers import make_sampler

    dev = torch.device(args.device or ("cuda" if torch.cuda.is_available() else "cpu"))
    if dev.type == "cpu":
        torch.set_num_threads(args.threads)
    dtype = torch.bfloat16 if dev.type == "cuda" else torch.float32
    shape = SMALL if args.small else {}
    model = random_native_denoiser("llada", device=dev, dtype=dtype, **shape)
    sync = torch.cuda.synchronize if dev.type == "cuda" else (lambda: None)
    V = model.vocab_size
    g = torch.Generator().manual_seed(0)
    pool = [torch.randint(0, min(V, 100000) - 16, (args.prompt_length,), generator=g).tolist() for _ in range(64)]
    rows = []
    for label, (name, params) in SAMPLERS.items():
        sampler = make_sampler(name, **params)
        for batch in args.batches:
            prompts = [pool[i % len(pool)] for i in range(batch)]
            base = None
            for cache_label, cache in CACHES.items():
                sampler.generate(model, prompts[:1], gen_length=args.block_length, seeds=[0], prefix_cache=cache)
                sync()
                t0 = time.perf_counter()
                out = sampler.generate(model, prompts, gen_length=args.gen_length, block_length=args.block_length,
                                       seeds=range(batch), prefix_cache=cache)
                sync()
                wall = time.perf_counter() - t0
                if base is None:
                    base = (out, wall)
                fwd_rows = sum(t.forward_rows for t in out.traces)
                rows.append({"sampler": label, "sampler_name": name, "batch": batch, "cache": cache_label,
                             "cache_mode": "none" if cache is False else cache,
                             "model_shape": "llada-small" if args.small else "llada-8b",
                             "dtype": str(dtype).removeprefix("torch."), "device": device_name(dev),
                             "prompt_length": args.prompt_length, "gen_length": args.gen_length,
                             "fwd_tokens_s": fwd_rows * (args.prompt_length + args.gen_length) / wall,
                             "tokens_s": batch * args.gen_length / wall,
                             "nfe_s": sum(t.nfe for t in out.traces) / wall,
                             "speedup": base[1] / wall,
                             "identical": float((out.tokens == base[0].tokens).float().mean())})
                r = rows[-1]
                print(f"| {label} | {batch} | {cache_label} | {r['tokens_s']:.1f} | {r['nfe_s']:.1f} | "
                      f"{r['speedup']:.2f}x | {r['identical']:.3f} |", flush=True)
    return rows


def device_name(dev: torch.device) -> str:
    """The accelerator's name (what a price was measured on)."""
    if dev.type == "cuda":
        return torch.cuda.get_device_name(dev)
    import platform

    return f"cpu ({platform.processor() or platform.machine()}, {torch.get_num_threads()} thread(s))"


def main(argv: list[str] | None = None) -> list[dict]:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--device", default=None, help="default: cuda when available")
    ap.add_argument("--small", action="store_true", help="scaled-down shape (CPU tests)")
    ap.add_argument("--batches", default="1,32", type=lambda s: [int(b) for b in s.split(",")])
    ap.add_argument("--gen-length", type=int, default=64, help="(256 at batch 32 with IMH: ~10x longer)")
    ap.add_argument("--block-length", type=int, default=32)
    ap.add_argument("--prompt-length", type=int, default=128)
    ap.add_argument("--threads", type=int, default=1, help="torch CPU threads")
    ap.add_argument("--json", default=None, metavar="FILE", help="write the cells (for --dry-run --throughput-from)")
    args = ap.parse_args(argv)
    print(f"native LLaDA {'(scaled down)' if args.small else '8B shape'}, random weights; gen_length "
          f"{args.gen_length}, block_length {args.block_length}, prompt length {args.prompt_length}")
    print("| sampler | batch | cache | tokens/s | NFE/s | speed-up vs off | tokens identical to off |")
    print("|---|---:|---|---:|---:|---:|---:|")
    rows = run(args)
    if args.json:
        import json

        Path(args.json).write_text(json.dumps(rows, indent=1) + "\n", encoding="utf-8")
        print(f"cells: {args.json}")
    return rows


if __name__ == "__main__":
    main()
