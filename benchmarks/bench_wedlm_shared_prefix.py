"""IMH's candidate forward on WeDLM with and without the shared prefix cache: memory and time per step.

    python -m benchmarks.bench_wedlm_shared_prefix                       # CPU, scaled-down random shape
    python -m benchmarks.bench_wedlm_shared_prefix --shape 8b --device cuda --prompt 1024   # GPU, WeDLM-8B shape

One IMH step on N samples forwards N·(T + 1) candidate rows (T = 8, 000 App. B) that differ only
in one token of the 16-position window.  Unshared: every row forwards its whole canvas (prompt +
confirmed prefix + window + the masks after it).  Shared (``native_wedlm.shared_prefix_logits``,
the adapter's default): one prefix forward and KV cache per sample, then the N·(T + 1) tails
attend to it in place: memory O(L + N·W) per sample instead of O(N·L) (000 App. B).  Here the
prefix is recomputed each step (the per-sample cache is not yet kept across steps), so the time
saving is the (T + 1)-fold prefix, not the whole prefix.

Each variant runs in its own process; memory is the peak resident set growth over the loaded model
(CPU) or ``torch.cuda.max_memory_allocated`` growth (GPU).  Tokens are checked identical.
"""
from __future__ import annotations

import argparse
import multiprocessing as mp
import resource
import statistics
import time
from pathlib import Path

SHAPES = {"small": dict(hidden_size=256, intermediate_size=768, num_hidden_layers=4, num_attention_heads=8,
                        num_key_value_heads=2, head_dim=32, vocab_size=2048, mask_token_id=2000,
                        eos_token_id=2, pad_token_id=0),
          "8b": {}}   # the published WeDLM-8B config (random_checkpoint.WEDLM_8B)


def run(variant: str, args: argparse.Namespace, q: "mp.Queue") -> None:
    import torch

    from workers.models.random_checkpoint import random_native_denoiser

    torch.set_num_threads(args.threads)
    dtype = torch.bfloat16 if args.device == "cuda" else torch.float32
    m = random_native_denoiser("wedlm", device=args.device, dtype=dtype, **SHAPES[args.shape])
    m.share_prefix = variant == "shared"
    V, M = m.vocab_size, m.mask_id
    g = torch.Generator().manual_seed(0)
    N, T, W = args.samples, 8, 16
    prompts = torch.randint(3, min(V, 1900), (N, args.prompt + args.confirmed), generator=g)
    rows = []
    for n in range(N):
        for t in range(T + 1):
            win = [M] * args.gen
            win[int(torch.randint(0, W, (1,), generator=g))] = int(torch.randint(3, 1900, (1,), generator=g))
            rows.append(prompts[n].tolist() + win)
    x = torch.tensor(rows, device=args.device)
    rss0 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    if args.device == "cuda":
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
        base = torch.cuda.memory_allocated()
    times, out = [], None
    for _ in range(args.turns):
        t0 = time.perf_counter()
        out = m.logits(x)
        if args.device == "cuda":
            torch.cuda.synchronize()
        times.append(time.perf_counter() - t0)
    if args.device == "cuda":
        mem = (torch.cuda.max_memory_allocated() - base) / 2**20
    else:
        mem = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - rss0) / 1024
    P = args.prompt + args.confirmed
    q.put((variant, statistics.median(times), mem, out[:, P:].argmax(-1).tolist()))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--shape", choices=sorted(SHAPES), default="small")
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--samples", type=int, default=2, help="N samples, each with T + 1 = 9 candidates")
    ap.add_argument("--prompt", type=int, default=512)
    ap.add_argument("--confirmed", type=int, default=128, help="tokens already confirmed (out of the window)")
    ap.add_argument("--gen", type=int, default=32, help="masked positions forwarded after the prefix")
    ap.add_argument("--turns", type=int, default=3)
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args()
    ctx = mp.get_context("spawn")
    res = {}
    for variant in ("unshared", "shared"):
        q = ctx.Queue()
        p = ctx.Process(target=run, args=(variant, args, q))
        p.start()
        v, t, mem, tok = q.get()
        p.join()
        res[v] = (t, mem, tok)
    (tu, mu, ku), (ts, ms, ks) = res["unshared"], res["shared"]
    rows = args.samples * 9
    print(f"WeDLM {args.shape} on {args.device}: one IMH step, {args.samples} samples x (T+1 = 9) candidates = {rows} rows, "
          f"prefix {args.prompt}+{args.confirmed} tokens, {args.gen} masked positions after it")
    print(f"  unshared: {tu * 1e3:.0f} ms/step, peak memory +{mu:.0f} MiB")
    print(f"  shared:   {ts * 1e3:.0f} ms/step, peak memory +{ms:.0f} MiB  (time x{ts / tu:.2f}, memory x{ms / max(mu, 1e-9):.2f})")
    print(f"  argmax tokens at the masked positions identical: {ku == ks}")


if __name__ == "__main__":
    main()
