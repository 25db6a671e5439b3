"""``dllm-lm-eval``: lm-evaluation-harness's own command line, with the ``dllm`` model registered.

    dllm-lm-eval --model dllm --model_args model=tiny,sampler=confidence,temperature=0 \\
                 --tasks arith_mini --include_path tests/fixtures/lmeval
    dllm-lm-eval --dry-run --model_args model=GSAI-ML/LLaDA-8B-Instruct,sampler=threshold,threshold=0.9,\\
                 gen_length=256,block_length=32 --tasks gsm8k --num_fewshot 5 [--tokens-per-s N]

Every argument is lm-eval's (``--model`` defaults to ``dllm``).  ``--dry-run`` loads no model: it
prints what the run costs (requests, sequential forwards, forwarded tokens, GPU-hours at
``--tokens-per-s``), counted as the project's sweep dry run counts them (sweeps/engine/dry_run.py); a task
whose data is not at hand counts its published size (or ``--limit``).
"""
from __future__ import annotations

import argparse
import sys
from typing import Optional, Sequence


def _dry_run(argv: Sequence[str]) -> int:
    from sweeps.engine.dry_run import KNOWN_SIZES, estimate, format_estimate
    from sweeps.engine.spec import SamplerSpec, SpecError, SweepSpec, TaskSpec
    from workers.lmeval import TASK_PREFIX

    p = argparse.ArgumentParser(prog="dllm-lm-eval --dry-run", add_help=False)
    p.add_argument("--model_args", default="")
    p.add_argument("--tasks", required=True)
    p.add_argument("--num_fewshot", type=int)
    p.add_argument("--limit", type=float)
    p.add_argument("--include_path")
    p.add_argument("--tokens-per-s", "--tokens_per_s", dest="tokens_per_s", type=float)
    p.add_argument("--gpus", type=int, default=1)
    args, _ = p.parse_known_args(argv)
    from lm_eval.utils import simple_parse_args_string

    margs = simple_parse_args_string(args.model_args)
    model = str(margs.pop("model", margs.pop("pretrained", "tiny")))
    sampler = str(margs.pop("sampler", "confidence"))
    gen, block = margs.pop("gen_length", None), margs.pop("block_length", None)
    for k in ("cache", "seed", "batch_size", "device", "dtype", "impl", "trust_remote_code", "elbo_draws",
              "elbo_batch", "greedy_check", "trace_out", "add_special_tokens", "think_end_token", "max_batch_size"):
        margs.pop(k, None)
    tasks = []
    for name in args.tasks.split(","):
        limit = int(args.limit) if args.limit and args.limit >= 1 else None
        if limit is None and name in KNOWN_SIZES:
            limit = KNOWN_SIZES[name]
        task_args = {k: v for k, v in (("num_fewshot", args.num_fewshot), ("include_path", args.include_path))
                     if v is not None}
        tasks.append(TaskSpec(name=f"{TASK_PREFIX}{name}", limit=limit, gen_length=gen,
                              block_length=block or (32 if gen else None), args=task_args))
    spec = SweepSpec(name="lm-eval", models=[model], tasks=tasks, samplers=[SamplerSpec(sampler, params=margs)],
                     samples=1)
    try:
        print(format_estimate([estimate(spec)], args.tokens_per_s, gpus=args.gpus))
    except SpecError as e:
        print(f"dllm-lm-eval: {e}", file=sys.stderr)
        return 2
    return 0


def main(argv: Optional[Sequence[str]] = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    from workers.lmeval import require_lm_eval

    try:
        require_lm_eval()
    except ImportError as e:
        if {"-h", "--help"} & set(argv):  # the help must help before the extra is installed (exit 0, as argparse)
            from workers.progname import prog

            print(f"usage: {prog('python sweeps/lmeval.py')} [--dry-run] [lm-eval's options]\n\n"
                  f"{__doc__.strip()}\n\nlm-eval's own options are listed once it is installed: {e}")
            sys.exit(0)
        print(f"dllm-lm-eval: {e}", file=sys.stderr)
        return 2
    if "--dry-run" in argv:
        return _dry_run([a for a in argv if a != "--dry-run"])
    import workers.lmeval.model  # noqa: F401  (registers "dllm" before lm-eval resolves --model)
    from lm_eval.__main__ import cli_evaluate

    if not any(a == "--model" or a.startswith("--model=") for a in argv) and argv[:1] not in (["ls"], ["validate"]):
        argv = ["--model", "dllm", *argv]
    sys.argv = ["dllm-lm-eval", *argv]
    cli_evaluate()
    return 0


if __name__ == "__main__":
    sys.exit(main())
