"""Train the embedded default model (``tiny``) on a mix of the synthetic tasks.

    python -m workers.tinymodel.train                 # the committed checkpoint (CPU, 2 threads, ~55 min)
    python -m workers.tinymodel.train --steps 200 --out /tmp/tiny-smoke   # a quick smoke run
    python -m workers.tinymodel.train --mix sudoku=1 --layers 4 --steps 1200 --threads 1 \
        --warmup 120 --eval-every 400 --out workers/tinymodel/sudoku      # tiny-sudoku (RECIPE.md)
    python -m workers.tinymodel.train --family wedlm --layers 4 --mlp-ratio 2 --batch-size 32 --lr 3e-3 \
        --warmup 100 --mix arith=1 --infill-frac 0 --steps 2000 --threads 1 --eval-every 1000 \
        --out workers/tinymodel/wedlm                                     # tiny-wedlm (wedlm/TRAINING.md)

``--family wedlm`` trains a causal WeDLM instead (``workers/tinymodel/wedlm.py``: WeDLM's
dual-stream reordered-mask loss + its auxiliary next-token loss) on the same data stream and
schedule, and saves it in the published WeDLM layout.

Each step draws one task (countdown, arith or sudoku, by ``--mix`` weights), a batch of fresh training
pairs from that task's generator (never from its test bucket), and builds sequences
``[left padding][prompt][completion + EOS fill to the task's gen_length]``.  The loss is
LLaDA's SFT masking (``model.masked_diffusion_loss``): response positions (EOS fill included)
are masked with probability t ~ U(eps, 1) and predicted; the prompt is never masked.  By default
every masked token weighs the same (``--weighting flat``) instead of LLaDA's 1/t: with the same
6000 steps, 1/t (in its low-variance form ``rb``) reached greedy Pass@1 0.06-0.12 on easy
countdown, flat 0.4 — the 1/t weight spends most of the gradient on lightly masked sequences,
while decoding starts from a fully masked one.

Everything random derives from ``--seed`` (weights, task choice, data, masks), so the same
command gives the same checkpoint on the same torch build and thread count.  The output
directory receives ``config.json`` + ``model.safetensors`` (save_pretrained), the tokenizer,
and ``training.json`` / ``TRAINING.md`` with the command, versions, wall time and final loss.
"""
from __future__ import annotations

import argparse
import json
import math
import platform
import random
import shlex
import sys
import time
from pathlib import Path
from typing import Any, Optional, Sequence

import torch

from workers.tasks import arith
from workers.tinymodel import CHECKPOINT_DIR
from workers.tinymodel.model import TinyDiffusionConfig, TinyDiffusionLM, masked_diffusion_loss
from workers.tinymodel.tokenizer import build_tokenizer
from workers.progname import prog

DEFAULT_OUT = CHECKPOINT_DIR
TASKS = ("countdown", "arith", "sudoku")


def parse_args(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        prog=prog("python -m workers.tinymodel.train"),
        description="Train the tiny masked-diffusion model on the synthetic tasks (CPU-reproducible).",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    p.add_argument("--out", type=Path, default=DEFAULT_OUT, help="output checkpoint directory")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--steps", type=int, default=14000)
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--lr", type=float, default=2e-3, help="peak learning rate (AdamW)")
    p.add_argument("--min-lr-ratio", type=float, default=0.05, help="final lr / peak lr (cosine)")
    p.add_argument("--warmup", type=int, default=300)
    p.add_argument("--weight-decay", type=float, default=0.01)
    # flat by default: at this budget the ELBO weightings (rb, inv_t) left greedy Pass@1 near 0
    # (see model.masked_diffusion_loss and TRAINING.md)
    p.add_argument("--weighting", default="flat", choices=["rb", "inv_t", "flat"],
                   help="loss weight: flat = mean CE over masked tokens, rb = E[1/t | k masked], inv_t = 1/t")
    p.add_argument("--mix", default="countdown=0.5,arith=0.5", help="task sampling weights")
    p.add_argument("--hidden-size", type=int, default=128)
    p.add_argument("--layers", type=int, default=6)
    p.add_argument("--heads", type=int, default=4)
    p.add_argument("--mlp-ratio", type=int, default=4)
    # --family wedlm: the tiny WeDLM (tiny-wedlm; workers/tinymodel/wedlm.py): a causal native WeDLM
    # trained with WeDLM's dual-stream reordered-mask loss, saved in the published WeDLM layout
    p.add_argument("--family", default="tiny", choices=["tiny", "wedlm"],
                   help="tiny: the bidirectional tiny model; wedlm: a tiny causal WeDLM (WeDLM §4.2 loss)")
    p.add_argument("--kv-heads", type=int, default=2, help="(wedlm) key/value heads (GQA)")
    p.add_argument("--wedlm-block", type=int, default=16,
                   help="(wedlm) dual-stream block size (16 = the streaming decoder's window)")
    p.add_argument("--ar-weight", type=float, default=1.0, help="(wedlm) weight of the auxiliary next-token loss")
    # Two threads (the 2-core budget).  Give the run the machine: a 2-thread run stalls at every
    # parallel region when another process holds a core (measured 9x slower).  Results differ in
    # the last bits between thread counts, so the count is part of the reproducible command.
    p.add_argument("--threads", type=int, default=2, help="torch CPU threads")
    p.add_argument("--device", default="cpu", help="cpu (the committed checkpoint) or cuda")
    p.add_argument("--infill-frac", type=float, default=0.25,
                   help="share of arith examples laid out as 004's answer-block template (arith.infill_completion)")
    p.add_argument("--chunk", type=int, default=20000, help="training pairs generated at a time per task")
    p.add_argument("--eval-every", type=int, default=3500, help="steps between quick evals (0: off)")
    p.add_argument("--eval-problems", type=int, default=32, help="test problems per tier in quick evals")
    return p.parse_args(argv)


def parse_mix(spec: str) -> dict[str, float]:
    mix: dict[str, float] = {}
    for part in spec.split(","):
        name, _, w = part.partition("=")
        name = name.strip()
        if name not in TASKS:
            raise SystemExit(f"--mix: unknown task {name!r}; known: {', '.join(TASKS)}")
        try:
            mix[name] = float(w)
        except ValueError:
            raise SystemExit(f"--mix: weight for {name!r} is not a number: {w!r}") from None
    if not mix or sum(mix.values()) <= 0:
        raise SystemExit("--mix: need at least one task with a positive weight")
    return mix


class TaskStream:
    """Endless, seeded stream of (prompt ids, response ids) for one task.

    Pairs come from ``task.train_examples`` in chunks; chunk c uses seed (seed, task, c), so the
    stream depends only on the seed.  The response is the completion, then EOS up to gen_length;
    for arith, a share ``infill_frac`` of examples instead uses the reasoning-as-infilling layout
    (chain, space fill, delimiter, padded answer, closing: see ``arith.infill_completion``).
    """

    def __init__(self, name: str, seed: int, tokenizer: Any, chunk: int, infill_frac: float = 0.0) -> None:
        from workers.tasks import load_task

        self.task = load_task(name)
        self.name, self.seed, self.tok, self.chunk = name, seed, tokenizer, chunk
        self.infill_frac = infill_frac if name == "arith" else 0.0
        self.infill_rng = random.Random(f"{seed}/{name}/infill")
        self.gen_length = int(self.task.gen_length)
        self.eos = int(tokenizer.eos_token_id)
        self.c = 0
        self.buf: list[tuple[list[int], list[int]]] = []
        self.too_long = 0

    def _refill(self) -> None:
        seed = int.from_bytes(f"{self.seed}/{self.name}/{self.c}".encode(), "little") % (2**63)
        self.c += 1
        for prompt, completion in self.task.train_examples(self.chunk, seed=seed):
            if self.infill_frac and self.infill_rng.random() < self.infill_frac:
                completion = arith.infill_completion(completion)
            resp = self.tok.encode(completion, add_special_tokens=False)
            if len(resp) > self.gen_length:  # cannot be represented; never expected
                self.too_long += 1
                continue
            resp = resp + [self.eos] * (self.gen_length - len(resp))
            self.buf.append((self.tok.encode(prompt, add_special_tokens=False), resp))
        self.buf.reverse()  # pop() from the end keeps generation order

    def batch(self, n: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """(input_ids, response_mask, attention_mask) for n pairs, prompts left-padded."""
        pairs = []
        while len(pairs) < n:
            if not self.buf:
                self._refill()
            pairs.append(self.buf.pop())
        P = max(len(p) for p, _ in pairs)
        L = P + self.gen_length
        x = torch.full((n, L), int(self.tok.pad_token_id), dtype=torch.long)
        attn = torch.zeros(n, L, dtype=torch.long)
        for i, (p, r) in enumerate(pairs):
            x[i, P - len(p):P] = torch.tensor(p)
            x[i, P:] = torch.tensor(r)
            attn[i, P - len(p):] = 1
        resp = torch.zeros(n, L, dtype=torch.bool)
        resp[:, P:] = True
        return x, resp, attn


def lr_at(step: int, args: argparse.Namespace) -> float:
    """Linear warm-up, then cosine decay to min_lr_ratio * lr."""
    if step < args.warmup:
        return args.lr * (step + 1) / args.warmup
    frac = (step - args.warmup) / max(1, args.steps - args.warmup)
    return args.lr * (args.min_lr_ratio + (1 - args.min_lr_ratio) * 0.5 * (1 + math.cos(math.pi * frac)))


@torch.no_grad()
def quick_eval(model: Any, tokenizer: Any, per_tier: int,
               tasks: Sequence[str] = ("countdown", "arith"), family: str = "tiny") -> dict[str, float]:
    """Greedy one-token confidence decoding on the first ``per_tier`` test problems per tier
    (``family`` wedlm: through the WeDLM adapter, i.e. reordered forward + streaming window)."""
    from workers.models.hf import HFDenoiser
    from workers.models.wedlm import WeDLMDenoiser
    from workers.samplers import make_sampler
    from workers.tasks import load_task

    was_training = model.training
    model.eval()
    if family == "wedlm":
        den = WeDLMDenoiser(model, tokenizer, name="training", mask_id=tokenizer.mask_token_id,
                            eos_id=tokenizer.eos_token_id, pad_id=tokenizer.pad_token_id)
    else:
        den = HFDenoiser(model, tokenizer, name="training")
    sampler = make_sampler("confidence", temperature=0.0)
    out: dict[str, float] = {}
    for name in tasks:
        task = load_task(name)
        for tier in task.tiers:
            probs = task.by_difficulty(tier)[:per_tier]
            if not probs:
                continue
            res = sampler.generate(den, [den.encode_prompt(p.prompt) for p in probs],
                                   gen_length=task.gen_length, block_length=task.block_length,
                                   seeds=list(range(len(probs))))
            ok = [task.grade(p, den.decode(t)).correct for p, t in zip(probs, res.tokens)]
            out[f"{name}/{tier}"] = sum(ok) / len(ok)
    model.train(was_training)
    return out


def main(argv: Optional[Sequence[str]] = None) -> None:
    args = parse_args(argv)
    from tqdm import tqdm

    from workers.tasks import load_task

    mix = parse_mix(args.mix)
    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    device = torch.device(args.device)
    wedlm = args.family == "wedlm"
    if wedlm:
        from workers.models.random_checkpoint import tiny_tokenizer
        from workers.tinymodel.wedlm import END_OF_TURN, build_wedlm, dual_stream_loss, save_wedlm, wedlm_config

        tokenizer = tiny_tokenizer(END_OF_TURN)
        wcfg = wedlm_config(tokenizer, args.hidden_size, args.layers, args.heads, args.kv_heads,
                            args.mlp_ratio * args.hidden_size)
        if args.weighting == "rb":
            raise SystemExit("--family wedlm: --weighting must be flat or inv_t")
    else:
        tokenizer = build_tokenizer()
    config = TinyDiffusionConfig(
        vocab_size=len(tokenizer),
        hidden_size=args.hidden_size,
        num_hidden_layers=args.layers,
        num_attention_heads=args.heads,
        intermediate_size=args.mlp_ratio * args.hidden_size,
        mask_token_id=tokenizer.mask_token_id,
        pad_token_id=tokenizer.pad_token_id,
        eos_token_id=tokenizer.eos_token_id,
    )
    model = (build_wedlm(wcfg) if wedlm else TinyDiffusionLM(config)).to(device).train()
    n_params = sum(p.numel() for p in model.parameters())

    names = sorted(mix)
    if not 0.0 <= args.infill_frac <= 1.0:
        raise SystemExit(f"--infill-frac must be in [0, 1], got {args.infill_frac}")
    streams = {n: TaskStream(n, args.seed, tokenizer, args.chunk, args.infill_frac) for n in names}
    weights = [mix[n] for n in names]
    choice_rng = random.Random(f"{args.seed}/task-choice")
    gen = torch.Generator().manual_seed(args.seed)

    decay = [p for n, p in model.named_parameters() if p.dim() >= 2]
    no_decay = [p for n, p in model.named_parameters() if p.dim() < 2]
    opt = torch.optim.AdamW(
        [{"params": decay, "weight_decay": args.weight_decay}, {"params": no_decay, "weight_decay": 0.0}],
        lr=args.lr, betas=(0.9, 0.98), eps=1e-8,
    )
    print(f"tiny model: {n_params:,} parameters; tasks "
          + ", ".join(f"{n} (gen_length {streams[n].gen_length}, weight {mix[n]})" for n in names),
          file=sys.stderr)

    t0 = time.time()
    ema: Optional[float] = None
    evals: list[dict[str, Any]] = []
    history: list[dict[str, float]] = []
    window: list[float] = []
    bar = tqdm(range(args.steps), desc="train", dynamic_ncols=True, mininterval=2.0)
    for step in bar:
        name = choice_rng.choices(names, weights)[0]
        x, resp, attn = (t.to(device) for t in streams[name].batch(args.batch_size))
        if bool(attn.all()):
            attn = None  # all prompts the same length: skip the padding mask
        for g in opt.param_groups:
            g["lr"] = lr_at(step, args)
        if wedlm:
            loss = dual_stream_loss(model, x, resp, attn, config.mask_token_id, block=args.wedlm_block,
                                    generator=gen, weighting=args.weighting, ar_weight=args.ar_weight)
        else:
            loss = masked_diffusion_loss(model, x, resp, attn, config.mask_token_id, generator=gen,
                                         weighting=args.weighting)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        val = loss.item()
        ema = val if ema is None else 0.98 * ema + 0.02 * val
        window.append(val)
        bar.set_postfix(loss=f"{ema:.4f}", task=name[:5], refresh=False)
        if (step + 1) % 100 == 0:
            history.append({"step": step + 1, "loss": sum(window) / len(window), "wall_s": round(time.time() - t0, 1)})
            window = []
        if args.eval_every and (step + 1) % args.eval_every == 0 and step + 1 < args.steps:
            res = quick_eval(model, tokenizer, args.eval_problems, names, family=args.family)
            evals.append({"step": step + 1, **res})
            tqdm.write(f"step {step + 1}: loss {ema:.4f} | greedy Pass@1 "
                       + " ".join(f"{k} {v:.2f}" for k, v in res.items()), file=sys.stderr)
    bar.close()
    wall = time.time() - t0
    final = quick_eval(model, tokenizer, args.eval_problems, names, family=args.family) if args.eval_every else {}
    if final:
        evals.append({"step": args.steps, **final})
        print("final greedy Pass@1 " + " ".join(f"{k} {v:.2f}" for k, v in final.items()), file=sys.stderr)

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    model.eval()
    if wedlm:
        save_wedlm(model, wcfg, tokenizer, out)
    else:
        model.save_pretrained(out, safe_serialization=True)
        tokenizer.save_pretrained(out)
    tasks_info = {n: {"version": streams[n].task.version, "gen_length": streams[n].gen_length,
                      "block_length": int(streams[n].task.block_length), "weight": mix[n],
                      "skipped_too_long": streams[n].too_long} for n in names}
    record = {
        "command": " ".join(["python -m workers.tinymodel.train", *(shlex.quote(a) for a in (argv if argv is not None else sys.argv[1:]))]),
        "seed": args.seed,
        "steps": args.steps,
        "args": {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()},
        "parameters": n_params,
        "tasks": tasks_info,
        "wall_time_s": round(wall, 1),
        "final_loss": round(history[-1]["loss"], 4) if history else round(val, 4),
        "loss_history": history,
        "quick_evals": evals,
        "environment": {"python": platform.python_version(), "torch": torch.__version__,
                        "threads": args.threads, "device": str(device), "machine": platform.machine(),
                        "processor": platform.processor()},
    }
    (out / "training.json").write_text(json.dumps(record, indent=1) + "\n")
    (out / "TRAINING.md").write_text(_training_md(record))
    print(f"saved {out} ({wall / 60:.1f} min, final loss {record['final_loss']})", file=sys.stderr)


def _training_md(r: dict[str, Any]) -> str:
    tasks = "\n".join(f"- `{n}`: data version `{t['version']}`, gen_length {t['gen_length']}, "
                      f"block_length {t['block_length']}, sampling weight {t['weight']}"
                      for n, t in r["tasks"].items())
    last = r["quick_evals"][-1] if r["quick_evals"] else {}
    ev = ", ".join(f"{k} {v:.2f}" for k, v in last.items() if k != "step") or "(not run)"
    title = "Tiny WeDLM checkpoint" if r["args"].get("family") == "wedlm" else "Tiny model checkpoint"
    return f"""# {title}

Produced by (from the repository root, CPU, torch threads: {r['environment']['threads']}):

    {r['command']}

- seed {r['seed']}, {r['steps']} steps of batch {r['args']['batch_size']}, {r['parameters']:,} parameters
- wall time {r['wall_time_s'] / 60:.1f} min on {r['environment']['device']} (torch {r['environment']['torch']}, Python {r['environment']['python']})
- final training loss (mean of the last 100 steps) {r['final_loss']}
- quick greedy-confidence Pass@1 on the first {r['args']['eval_problems']} test problems per tier: {ev}

Training data (fresh pairs from each task's generator, test buckets excluded):
{tasks}

Full record (arguments, loss curve, environment): `training.json`.
"""


if __name__ == "__main__":
    main()
