"""Shared pieces of the reasoning-as-infilling scripts (004 §4.1): per-task templates, the
in-process decode loop and the shared command line.  These experiments are small ablations on
the embedded default, so they run in-process (progress bar, Parquet out) rather than on Ray.
Their bootstrap is analysis's (``analysis.stats.mean_ci``).
"""
from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any, Iterator, Optional, Sequence

from workers.samplers.infilling import Template
from workers.tasks import arith
from workers import progname

# Reasoning budget and answer block per task.  arith: the layout the tiny model is trained on
# (chains ≤ 35 characters, answers zero-padded to 2 digits; see arith.infill_completion).
TEMPLATES: dict[str, Template] = {
    "arith": Template(reasoning_length=arith.INFILL_REASONING_LENGTH, answer_length=arith.INFILL_ANSWER_LENGTH,
                      delimiter=arith.INFILL_DELIMITER, closing=arith.INFILL_CLOSING),
    # answer block: 004 §5.1's 10 tokens (the default); reasoning: what TOTAL_LENGTH leaves (the
    # value here is the nominal one for a 7-token delimiter, used only where no model is loaded)
    "math500": Template(reasoning_length=238),
    "gsm8k": Template(reasoning_length=238),
}
# 004 §5.1 / Table 2: "a generation length L = 256", the same as its NO-TEMPLATE / NO-EXIT rows
# (NFE 256), so the whole templated region (reasoning + delimiter + answer + closing) totals 256
# and NFEs are comparable; the reasoning budget is what the model's delimiter tokens leave.
TOTAL_LENGTH: dict[str, int] = {"math500": 256, "gsm8k": 256}
# MED's k_max per task: 004 App. A's 32 (the sampler default) for real models; the tiny model's
# arith keeps 4 (its reasoning blocks are 8 tokens, and k_max = 32 would not bind there at all).
MED_K_MAX: dict[str, int] = {"arith": 4}


def med_k_max(task: str) -> int:
    """k_max for MED on ``task`` (see :data:`MED_K_MAX`; else the sampler's default, 32)."""
    from workers.samplers.med import MEDSampler

    return MED_K_MAX.get(task, MEDSampler().k_max)


def template_for(task: str, reasoning_length: Optional[int], answer_length: Optional[int],
                 model: Any = None) -> Template:
    """The task's template; given ``model`` and no explicit ``reasoning_length``, a task with a
    ``TOTAL_LENGTH`` gets the reasoning budget that makes the generated region exactly that long."""
    if task not in TEMPLATES:
        raise ValueError(f"no answer template for task {task!r}; known: {', '.join(sorted(TEMPLATES))}")
    t = TEMPLATES[task]
    answer = t.answer_length if answer_length is None else answer_length
    if reasoning_length is None and model is not None and task in TOTAL_LENGTH:
        d, c = Template(1, answer, t.delimiter, t.closing).layout(model)
        reasoning_length = TOTAL_LENGTH[task] - len(d) - answer - len(c)
        if reasoning_length < 1:
            raise ValueError(f"{task}: the template's delimiter and {answer} answer tokens leave no "
                             f"reasoning positions in {TOTAL_LENGTH[task]}")
    return Template(t.reasoning_length if reasoning_length is None else reasoning_length,
                    answer, t.delimiter, t.closing)


def answer_text(task: Any, problem: Any) -> str:
    """The answer a* as the task's template writes it (arith zero-pads), else the reference."""
    fmt = getattr(task, "infill_answer", None)
    return fmt(problem) if fmt is not None else problem.reference


def common_args(p: argparse.ArgumentParser, out: str) -> None:
    p.add_argument("--model", default="tiny", help="preset, local checkpoint dir or hub id (default: tiny)")
    p.add_argument("--task", default="arith", help=f"one of {', '.join(sorted(TEMPLATES))} (default: arith)")
    p.add_argument("--problems", type=int, default=60, help="test problems (default: %(default)s; smoke: 6)")
    p.add_argument("--samples", type=int, default=4, help="samples per problem (default: %(default)s; smoke: 2)")
    p.add_argument("--reasoning-length", type=int, default=None, help="reasoning positions (default: per task)")
    p.add_argument("--answer-length", type=int, default=None, help="answer positions (default: per task)")
    p.add_argument("--block-length", type=int, default=8, help="reasoning block length (default: %(default)s)")
    p.add_argument("--out", default=out, metavar="DIR", help="output directory (default: %(default)s)")
    p.add_argument("--smoke", action="store_true", help="a few problems, about a minute on 2 CPU cores")
    # cost before launch (sweeps/engine/dry_run.py)
    p.add_argument("--dry-run", action="store_true", help="print samples, forwards and GPU-hours; run nothing")
    p.add_argument("--tokens-per-s", type=float, default=None, metavar="X",
                   help="dry run: forwarded tokens per second of one GPU (for GPU-hours)")


def problems(task: Any, n: int) -> list[Any]:
    """The first n test problems (tasks interleave tiers, so a prefix is balanced)."""
    if n < 1:
        raise ValueError("--problems must be >= 1")
    return list(task.problems[:n])


def batches(items: list[Any], size: int) -> Iterator[list[Any]]:
    for i in range(0, len(items), size):
        yield items[i:i + size]


def ensure_out(out: str) -> Path:
    p = Path(out)
    if p.exists() and not p.is_dir():
        raise ValueError(f"--out {out} is a file, not a directory")
    p.mkdir(parents=True, exist_ok=True)
    return p


def template_text(model: Any, tokens: Any) -> str:
    """Text of a templated sample: the reasoning may end early in EOS/pad, so special tokens are
    dropped rather than cut at (``model.decode`` stops at the first EOS)."""
    drop = {i for i in (model.mask_id, getattr(model, "eos_id", None), getattr(model, "pad_id", None))
            if i is not None}
    return model.tokenizer.decode([int(t) for t in tokens if int(t) not in drop], skip_special_tokens=True)


def expand(model: Any, chunk: list[Any], n_samp: int) -> tuple[list[list[int]], list[int]]:
    """Prompts and seeds for ``n_samp`` samples of each problem in ``chunk`` (problem-major)."""
    return ([model.encode_prompt(p.prompt) for p in chunk for _ in range(n_samp)],
            [s for _ in chunk for s in range(n_samp)])


def script_main(prog: str, doc: str, out: str, add_args: Any, run: Any,
                argv: Optional[Sequence[str]] = None) -> int:
    """Parse the common options plus the script's own and run; bad input is one line and
    status 2 (``sweeps.engine.cli.main_guard``, as for every script)."""
    from sweeps.engine.cli import main_guard

    def body(argv: Optional[Sequence[str]]) -> int:
        p = argparse.ArgumentParser(prog=progname.prog(prog), description=doc, formatter_class=argparse.RawDescriptionHelpFormatter)
        common_args(p, out)
        add_args(p)
        args = p.parse_args(argv)
        if args.dry_run:
            from sweeps.engine.dry_run import infill_estimate

            print(infill_estimate(prog, args, template_for(args.task, args.reasoning_length, args.answer_length)))
            return 0
        return int(run(args))

    return main_guard(body, argv)
