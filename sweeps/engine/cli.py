"""Command-line plumbing shared by every sweep script (``--out``, ``--smoke``, ``--address`` …)."""
from __future__ import annotations

import argparse
import copy
import functools
import json
import os
import sys
from pathlib import Path
from typing import Callable, Iterable, Optional, Sequence

from sweeps.engine.driver import INJECT_ENV, Summary, SweepError, Terminated, handle_sigterm, run_sweep
from sweeps.engine.spec import SpecError, SweepSpec

EPILOG = """\
resume: rerun the same command; finished jobs (found in DIR/shards) are skipped.  A rerun with
other settings (lengths, task options, bits_l2r, ...) is refused unless --extend (or a new --out).
cluster: `ray up cluster.yaml`, then run this on the head node (or pass --address /
set RAY_ADDRESS); use an s3:// --out so every node writes to the same place.
progress: `python -m sweeps.status DIR` (from any terminal, while it runs or after).
one driver per DIR: a second one refuses (naming the first's host and pid) unless --force-lock.
exit status: 0 done, 1 sweep incomplete or stopped, 2 bad input (nothing written),
130 interrupted (Ctrl-C), 143 terminated (SIGTERM); finished jobs are kept either way."""


def add_run_args(p: argparse.ArgumentParser, default_out: str) -> None:
    """The options every sweep script shares."""
    g = p.add_argument_group("run")
    g.add_argument("--out", default=default_out, metavar="DIR",
                   help=f"sweep directory, local path or s3://… URI (default: {default_out})")
    g.add_argument("--smoke", action="store_true",
                   help="a small grid that runs in about a minute on 2 CPU cores")
    g.add_argument("--address", default=None,
                   help="Ray cluster to use (default: $RAY_ADDRESS, else a private local Ray)")
    g.add_argument("--max-workers", "--workers", dest="workers", type=int, default=None, metavar="N",
                   help="most worker actors at once (default: one per GPU, or CPU slot, the cluster "
                        "has or its autoscaler can add; pending ones make it scale up)")
    g.add_argument("--device", choices=("auto", "gpu", "cpu"), default="auto",
                   help="one actor per GPU or per CPU slot (auto: GPU when a model needs one, "
                        "e.g. an 8B hub model, or the cluster has one; tiny models run on CPUs)")
    g.add_argument("--batch-size", type=int, default=None, metavar="N",
                   help="jobs per generate() call (default: the spec's)")
    g.add_argument("--retries", type=int, default=3, metavar="N",
                   help="Ray retries of a batch whose worker died (default: 3)")
    g.add_argument("--no-report", action="store_true", help="skip the analysis report")
    g.add_argument("--no-progress", action="store_true", help="no progress bar")
    g.add_argument("--force-lock", action="store_true",
                   help="run even if another driver holds DIR's lock (several drivers on shared "
                        "storage on purpose, or a lock whose owner is known to be gone)")
    g.add_argument("--extend", action="store_true",
                   help="resume DIR although its settings fingerprint differs: add the new "
                        "configurations; rows made under other settings are kept, not counted")
    # cost before launch (sweeps/engine/dry_run.py)
    g.add_argument("--dry-run", action="store_true",
                   help="print jobs, forwards, rows and GPU-hours the sweep implies; run nothing")
    g.add_argument("--tokens-per-s", type=float, default=None, metavar="X",
                   help="dry run: forwarded tokens per second of one GPU (for GPU-hours)")
    g.add_argument("--throughput-from", default=None, metavar="FILE",
                   help="dry run: price with measured cells (benchmarks/bench_gpu_native.py --json FILE); "
                        "says which cell priced each sampler")
    g.add_argument("--nfe-from", default=None, metavar="DIR",
                   help="dry run: a finished sweep whose measured NFE ratios price the parallel samplers")


def shrink(spec: SweepSpec, samples: int = 4, problems: int = 4, values: int = 2) -> SweepSpec:
    """The smoke version of a spec: few problems, seeds and grid values, its own name."""
    s = copy.deepcopy(spec)
    s.name = f"{spec.name}-smoke"
    s.samples = min(s.samples, samples)
    for t in s.tasks:
        t.limit = min(t.limit or problems, problems)
    for smp in s.samplers:
        smp.grid = {k: v[:values] for k, v in smp.grid.items()}
    return s


def check_args(args: argparse.Namespace) -> None:
    """The shared options' checks (one-line ``SpecError``, nothing written): counts, and that a
    local ``--out`` can be written (probed by creating and removing a temporary directory in
    its nearest existing ancestor, so a bad --out fails before any work, not with a traceback)."""
    if args.workers is not None and args.workers < 1:
        raise SpecError(f"--workers must be >= 1, got {args.workers}")
    if args.batch_size is not None and args.batch_size < 1:
        raise SpecError(f"--batch-size must be >= 1, got {args.batch_size}")
    if args.retries < 0:
        raise SpecError(f"--retries must be >= 0, got {args.retries}")
    check_out(args.out)


def check_out(out: str) -> None:
    """Raise ``SpecError`` when the local directory ``out`` (or ``file://`` URI) cannot be created
    or written.  Remote URIs (s3://, ...) are checked by the driver when it connects."""
    import tempfile

    if "://" in out and not out.startswith("file://"):
        return
    path = Path(out[len("file://"):] if out.startswith("file://") else out).expanduser().absolute()
    probe = path
    while not probe.exists() and probe != probe.parent:
        probe = probe.parent
    if not probe.is_dir():
        raise SpecError(f"--out {out!r}: {probe} is a file, not a directory")
    try:
        os.rmdir(tempfile.mkdtemp(prefix=".dllm-write-probe-", dir=probe))
    except OSError as e:
        raise SpecError(f"--out {out!r}: cannot write under {probe} ({e.strerror or type(e).__name__})") from None


def jobs_done(job_ids: Iterable[str], out: str) -> int:
    """How many of ``job_ids`` the result shards under ``out`` already hold (0 where no sweep
    ran yet).  Reads only the shards' job_id columns, as the driver's resume scan does."""
    from workers.shards import SweepDir

    try:
        return len(SweepDir(out).scan(full=False).ids & set(job_ids))
    except (OSError, ValueError):  # nothing there yet, or not readable: the driver will say so
        return 0


def execute(spec: SweepSpec, args: argparse.Namespace) -> int:
    """Run a spec with the shared options; prints the summary; returns the exit status."""
    check_args(args)
    if getattr(args, "dry_run", False):  # cost before launch, nothing written
        from sweeps.engine.dry_run import estimate, format_estimate, load_throughput

        cells = load_throughput(args.throughput_from) if getattr(args, "throughput_from", None) else None
        print(format_estimate([estimate(spec, args.nfe_from)], args.tokens_per_s, throughput=cells))
        left = remaining_note(spec, args.out)
        if left:
            print(left)
        return 0
    inject = json.loads(os.environ[INJECT_ENV]) if os.environ.get(INJECT_ENV) else None
    s = run_sweep(spec, args.out, address=args.address, workers=args.workers, device=args.device,
                  batch_size=args.batch_size, retries=args.retries, report=not args.no_report,
                  progress=not args.no_progress, inject=inject,
                  force_lock=getattr(args, "force_lock", False), extend=getattr(args, "extend", False))
    print_summary(s)
    return 0 if s.complete else 1


def remaining_note(spec: SweepSpec, out: str) -> Optional[str]:
    """For a dry run over a directory that already holds results: how much a run would still do.
    None when there is nothing there (or the spec cannot be expanded without its data).  Local
    directories only: a dry run stays offline (no object-store credentials or round trips)."""
    from workers.shards import SweepDir

    if "://" in out and not out.startswith("file://"):
        return None
    try:
        if not SweepDir(out).list_shards():
            return None
        from sweeps.engine.spec import expand

        plan = expand(spec, None, check_models=False)
    except (OSError, ValueError):
        return None
    done = jobs_done(plan.job_ids(), out)
    return f"already in {out}: {done} of {plan.total} jobs; a run would do the other {plan.total - done}"


def print_summary(s: Summary) -> None:
    done = s.total - s.missing
    print(f"done: {done}/{s.total} jobs ({s.ran} run now, {s.present_before} already present); "
          f"{s.failed} failed job(s) written as error rows, {s.refused} answer(s) refused by the grader; "
          f"{len(s.quarantined)} shard(s) quarantined; "
          f"{s.elapsed_s:.1f} s", flush=True)
    print(f"shards: {s.out.rstrip('/')}/shards")
    if s.missing:
        print(f"incomplete: {s.missing} job(s) missing; rerun the same command to finish them")
    if s.duplicates:
        print(f"warning: {s.duplicates} job id(s) appear in more than one shard")
    if s.report and "://" in s.report:  # object store: the report lives there only
        print(f"report: {s.report}/report.md")
    elif s.report:
        rdir = Path(s.report)
        rdir = rdir if rdir.is_dir() else rdir.parent
        md = rdir / "report.md"
        print(f"report: {md if md.is_file() else s.report}")
        for png in sorted(rdir.glob("*.png")):
            print(f"plot: {png}")


def main_guard(fn: Callable[[Optional[Sequence[str]]], int], argv: Optional[Sequence[str]] = None) -> int:
    """Run a script's body ``fn(argv)`` with the exit statuses every script shares (``EPILOG``).

    Bad input (``SpecError`` or any ``ValueError``) is one ``error:`` line on stderr and status 2;
    a sweep that stopped early is 1; SIGTERM unwinds like Ctrl-C (actors and a private Ray
    stopped, finished shards kept) so a scheduler's kill loses no finished work: 143, Ctrl-C 130.
    """
    handle_sigterm()
    restore_sigint()
    try:
        return fn(argv)
    except SweepError as e:
        print(f"error: {e} (finished jobs are kept; rerun to resume)", file=sys.stderr)
        return 1
    except ValueError as e:   # SpecError included: one line, whatever the message carried
        print(f"error: {str(e).splitlines()[0] if str(e) else type(e).__name__}", file=sys.stderr)
        return 2
    except Terminated:
        print("interrupted (SIGTERM): finished jobs are kept; rerun the same command to resume", file=sys.stderr)
        return 143
    except KeyboardInterrupt:
        print("interrupted: finished jobs are kept; rerun the same command to resume", file=sys.stderr)
        return 130


def restore_sigint() -> None:
    """Let SIGINT (Ctrl-C, ``kill -INT``) interrupt even when the process started with it ignored.

    A non-interactive shell starts ``cmd &`` with SIGINT ignored (POSIX), and Python then leaves
    it ignored: ``kill -INT`` would do nothing and the sweep would run to the end.  A sweep's
    documented answer to SIGINT is to stop cleanly with status 130, so a script restores it."""
    import signal
    import threading

    if (threading.current_thread() is threading.main_thread()
            and signal.getsignal(signal.SIGINT) is signal.SIG_IGN):
        signal.signal(signal.SIGINT, signal.default_int_handler)


def entry(fn: Callable[[Optional[Sequence[str]]], int]) -> Callable[..., int]:
    """``main = entry(_main)``: the ``main(argv=None) -> int`` of a script and of its console
    script in pyproject.toml, with ``main_guard``'s error lines and exit statuses."""
    @functools.wraps(fn)
    def main(argv: Optional[Sequence[str]] = None) -> int:
        return main_guard(fn, argv)

    return main
