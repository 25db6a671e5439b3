"""Per-step wall time of IMH at T ∈ {1, 4, 8} relative to the confidence sampler.

On CPU the candidate forward costs roughly (T+1)× rows, so expect ≈ proportional time; on a GPU
000 claims near-free lookahead for small T (rows ride in the same kernel launch).

    python -m benchmarks.bench_imh [--model tiny] [--batch 16] [--gen-length 32]
"""
from __future__ import annotations

import argparse
import time

import torch

from workers.samplers import make_sampler


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default="tiny", help="model for load_model (default: the embedded tiny model)")
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--gen-length", type=int, default=32)
    ap.add_argument("--block-length", type=int, default=8)
    ap.add_argument("--chain-lengths", default="1,4,8")
    ap.add_argument("--device", default=None)
    ap.add_argument("--threads", type=int, default=1,
                    help="torch CPU threads (default 1: oversubscribed threads on a busy box distort the ratio)")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    from workers.models import load_model

    model = load_model(args.model, device=args.device)
    prompt = model.encode_prompt("Numbers: 3 5 7 Target: 22\n")
    prompts = [prompt] * args.batch

    def per_step(sampler) -> float:
        sampler.generate(model, prompts[:2], gen_length=args.block_length, seeds=[0, 1])  # warm-up
        if torch.cuda.is_available():
            torch.cuda.synchronize()
        t0 = time.perf_counter()
        out = sampler.generate(model, prompts, gen_length=args.gen_length,
                               block_length=args.block_length, seeds=range(args.batch))
        if torch.cuda.is_available():
            torch.cuda.synchronize()
        return (time.perf_counter() - t0) / max(t.nfe for t in out.traces)

    base = per_step(make_sampler("confidence", temperature=1.0))
    print(f"device {model.device}, batch {args.batch}, gen {args.gen_length}, block {args.block_length}")
    print(f"confidence: {1e3 * base:.2f} ms/step (1.00x)")
    for T in (int(t) for t in args.chain_lengths.split(",")):
        t = per_step(make_sampler("imh", alpha=2.0, chain_length=T))
        print(f"imh T={T:<2}: {1e3 * t:.2f} ms/step ({t / base:.2f}x; rows per step {T + 1}x)")


if __name__ == "__main__":
    main()
