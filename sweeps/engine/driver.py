"""The sweep driver: spec -> missing jobs -> Ray actors -> shards -> summary (+ report).

Completion is derived from the shards only, never from a queue: the driver scans the sweep
directory, submits only the jobs whose ids no sound shard holds, and checks the directory
again at the end.  Batches are a deterministic partition of the sweep's jobs and a shard is
named by the hash of its batch's ids, so a batch re-run after a crash — by a retry, by a second
driver, or by a worker of a killed driver that finishes late — rewrites the same file instead of
adding a second copy of its rows.

Ray does the distributed work: actors (one per GPU or per CPU slot, as many as the cluster has
or its autoscaler can add: ``sweeps.engine.pool``) restart when they die
(``max_restarts``) and re-run their in-flight batches (``max_task_retries``); the driver hands each
actor one batch at a time (so a crash only touches the batch that caused it; the round trip is
milliseconds against seconds of generation) and collects results with ``ray.wait``.  A batch that
still crashes its worker after Ray's retries is split into single jobs; a single job that keeps
crashing is written as an error row.  At the tail, a batch that runs far longer than usual (a
straggler, or one queued on an actor that never got a node) is also started on an idle actor;
both copies write the same shard name, so whichever lands first counts and rows stay unique.
"""
from __future__ import annotations

import logging
import os
import shutil
import signal
import subprocess
import tempfile
import time
import collections
import dataclasses
import statistics
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Optional

from sweeps.engine import pool
from sweeps.engine.errors import SweepError
from sweeps.engine.identity import FINGERPRINT_FILE, ResumeRefused, check_resume
from sweeps.engine.metrics import ProgressMetrics
from sweeps.engine.progress import progress_bar
from sweeps.engine.spec import Plan, SpecError, SweepSpec, expand
from sweeps.engine.status import DriverLock, LockedError, StatusWriter
from workers.jobs import JobBatch
from workers.rows import RowBuilder, one_line, to_table
from workers.layout import describe_strays
from workers.shards import StorageError, SweepDir, shard_filename, storage_error

INJECT_ENV = "DLLM_SWEEPS_INJECT"  # JSON fault-injection settings, for tests only
# Batches in flight per actor: one on the device, one being graded on CPU (workers/actor.py,
# workers/grading_pool.py), so the device never waits for the grader.
IN_FLIGHT = 2


class Terminated(KeyboardInterrupt):
    """SIGTERM arrived: unwound like Ctrl-C (finished shards kept, actors and local Ray stopped)."""


def _on_sigterm(signum: int, frame: Any) -> None:
    # Once: a second SIGTERM during cleanup must not abort the cleanup half-way.
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    raise Terminated()


def handle_sigterm() -> None:
    """Make SIGTERM unwind like SIGINT.  Called again after ``ray.init``, which installs a
    handler of its own (``sys.exit`` from inside Ray's code: an abort and a stack dump)."""
    import threading

    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, _on_sigterm)


@dataclass
class Summary:
    out: str
    total: int
    present_before: int
    ran: int = 0
    failed: int = 0        # error rows without a sample (the job failed after its retries)
    refused: int = 0       # samples the grader refused (malformed answers): error set too
    quarantined: list[str] = field(default_factory=list)
    duplicates: int = 0
    missing: int = 0
    elapsed_s: float = 0.0
    report: Optional[str] = None
    dashboard: Optional[str] = None

    @property
    def complete(self) -> bool:
        return self.missing == 0 and self.duplicates == 0


def code_version() -> str:
    """Package version plus the git commit of the checkout (``+dirty`` with local changes);
    ``DLLM_CODE_VERSION`` when set (a copy without ``.git``, e.g. a ``ray job submit`` working dir).
    Computed once by the driver and passed to every actor, so rows name the driver's code."""
    from importlib.metadata import PackageNotFoundError, version

    if os.environ.get("DLLM_CODE_VERSION"):
        return os.environ["DLLM_CODE_VERSION"]

    try:
        v = version("dllm-sweeps")
    except PackageNotFoundError:
        v = "0+unknown"
    root = Path(__file__).resolve().parent.parent
    try:
        sha = subprocess.run(["git", "-C", str(root), "rev-parse", "--short=12", "HEAD"],
                             capture_output=True, text=True, timeout=5)
        if sha.returncode == 0 and sha.stdout.strip():
            dirty = subprocess.run(["git", "-C", str(root), "status", "--porcelain", "-uno"],
                                   capture_output=True, text=True, timeout=5).stdout.strip()
            v += f"+g{sha.stdout.strip()}" + (".dirty" if dirty else "")
    except (OSError, subprocess.SubprocessError):
        pass
    return v


# ------------------------------------------------------------------------------ planning
def plan_todo(plan: Plan, present: set[str]) -> list[JobBatch]:
    """Batches still to run: untouched batches as planned (same shard name as any earlier
    attempt), partly present ones cut down to their missing ids.  Ordered by model, then in a
    fixed pseudo-random order, so every configuration fills in early (an honest ETA, usable
    partial results) while a worker rarely has to swap models."""
    todo = []
    for b in plan.batches:
        missing = [j for j in b.job_ids if j not in present]
        if len(missing) == len(b):
            todo.append(b)
        elif missing:
            todo.append(b.subset(missing))
    return sorted(todo, key=lambda b: (b.model, b.key))


def prepare(spec: SweepSpec, out: str, batch_size: Optional[int] = None,
            check_models: bool = True) -> tuple[Plan, SweepDir]:
    """Validate everything that can be validated before anything is written."""
    d = SweepDir(out)
    try:
        d.check_writable_target()
    except ValueError as e:
        raise SpecError(str(e)) from None
    return expand(spec, batch_size, check_models=check_models), d


# ------------------------------------------------------------------------------ Ray
def connect(address: Optional[str], log: Callable[[str], None]) -> tuple[bool, Optional[str]]:
    """Attach to ``address`` / ``RAY_ADDRESS`` or start a private local Ray.
    Returns (whether we started it, dashboard URL)."""
    import ray

    if ray.is_initialized():
        return False, None
    address = address or os.environ.get("RAY_ADDRESS") or None
    kw: dict[str, Any] = dict(logging_level=logging.WARNING, log_to_driver=True)
    if not address:  # "local": never attach to some other cluster recorded on this machine
        os.environ.setdefault("RAY_AUTH_MODE", "disabled")
    try:
        ctx = ray.init(address=address or "local", **kw)
    except SystemExit as e:
        # ray.init's first act is a SIGTERM handler of its own, ``sys.exit(signum)``: a SIGTERM
        # during start-up would end the process with status 15 and no word.  Unwind as ours.
        ray.shutdown()  # whatever part of a private Ray had started
        if e.code == signal.SIGTERM:
            signal.signal(signal.SIGTERM, signal.SIG_IGN)  # once, as _on_sigterm does
            raise Terminated() from None
        raise
    except KeyboardInterrupt:  # Ctrl-C while Ray starts: nothing of it left behind
        ray.shutdown()
        raise
    except Exception as e:  # e.g. "node timed out during startup" on an overloaded machine
        ray.shutdown()
        where = f"connect to Ray at {address}" if address else "start a local Ray"
        raise SweepError(f"could not {where}: {one_line(e)}") from None
    handle_sigterm()
    url = getattr(ctx, "dashboard_url", None) or None
    if url and not url.startswith("http"):
        url = f"http://{url}"
    log(f"ray: {'connected to ' + address if address else 'started local Ray'}"
        + (f"; dashboard {url}" if url else ""))
    return not address, url


# ------------------------------------------------------------------------------ the sweep
class _Run:
    """State of one driver run: actors, in-flight batches, progress."""

    def __init__(self, plan: Plan, d: SweepDir, summary: Summary, todo: list[JobBatch], *,
                 workers: Optional[int], device: str, retries: int, per_actor: int,
                 inject: Optional[dict], version: str, progress: bool,
                 speculate_after: Optional[float], log: Callable[[str], None],
                 status: Optional[StatusWriter] = None) -> None:
        import ray

        from workers.actor import SweepWorker

        self.plan, self.d, self.summary, self.log, self.version = plan, d, summary, log, version
        self.status = status
        self.queue: deque[JobBatch] = deque(todo)
        # Up to n actors at once; those the cluster cannot place yet are what the autoscaler
        # scales up for.  Each gets work once its ping answers (sweeps/engine/pool.py).
        placement = pool.plan_placement({b.model for b in todo}, device, workers, len(todo),
                                        ray.cluster_resources())
        n = placement.actors
        cls = ray.remote(SweepWorker).options(**placement.options(retries, (inject or {}).get("worker_env"),
                                                                   in_flight=IN_FLIGHT))
        self.actors = [cls.remote(d.uri, version, threads=1, inject=inject) for _ in range(n)]
        self.alive = [False] * n   # until its first ping answers
        self.gone = [False] * n    # let go (queue dry) or lost for good
        self.answered = [False] * n  # its ping answered at least once
        self.watch = pool.WaitWatch(placement, log)
        self.metrics = ProgressMetrics(plan.spec.name, summary.total)
        self.load = [0] * n
        self.per_actor = per_actor
        self.isolate: set[str] = set()   # keys of single jobs split off a crashed batch
        self.inflight: dict[Any, tuple[int, JobBatch]] = {}
        self.probes: dict[Any, int] = {}  # ping of a parked actor -> its index
        self.reprobe: list[tuple[float, int]] = []  # (when, actor index): ping again later
        self.probe_fails = [0] * n
        for i in range(n):
            self.probes[self.actors[i].ping.remote()] = i
        self.seen_shard = False  # the first shard is checked to be visible from the driver
        # Tail speculation: a batch may run on two actors at once (same shard name, so still
        # one copy of each row); the first result wins, the other copy is abandoned.
        self.started: dict[Any, float] = {}
        self.copies: collections.Counter[str] = collections.Counter()
        self.done: set[str] = set()
        self.batch_s: list[float] = []
        self.speculate_after = speculate_after  # seconds; default: 3x the median batch, >= 30 s
        log(f"workers: up to {n} {'GPU' if placement.gpu else 'CPU'} actor(s) ({placement.why}); "
            f"{len(todo)} batch(es) to run")
        # A bar on a terminal; redirected to a log, one plain line every 30 s (progress.py).
        self.bar = progress_bar(summary.total, summary.present_before, plan.spec.name, enabled=progress)

    def _fill(self) -> None:
        """Give every live actor up to ``per_actor`` batches."""
        progress = True
        while self.queue and progress:
            progress = False
            for i, a in enumerate(self.actors):
                if (self.queue and self.alive[i] and self.load[i] < self.per_actor
                        and self._may_share(i, self.queue[0])):
                    self._submit(i, self.queue.popleft())
                    progress = True

    def _may_share(self, i: int, b: JobBatch) -> bool:
        """A job split off a batch that crashed its worker runs alone on its actor: a poison job
        must not take a batch that shares the actor (two in flight: ``IN_FLIGHT``) down with it."""
        if self.load[i] == 0:
            return True
        return b.key not in self.isolate and not any(
            j == i and x.key in self.isolate for j, x in self.inflight.values())

    def _submit(self, i: int, b: JobBatch) -> None:
        ref = self.actors[i].run.remote(b)
        self.inflight[ref] = (i, b)
        self.started[ref] = time.monotonic()
        self.copies[b.key] += 1
        self.load[i] += 1

    def _speculate(self) -> None:
        """Queue empty and an actor idle: re-run the oldest long-running batch there too
        (a straggler, or one stuck behind an actor that never got scheduled)."""
        idle = [i for i in range(len(self.actors)) if self.alive[i] and self.load[i] == 0]
        if not idle:
            return
        limit = self.speculate_after or (max(30.0, 3 * statistics.median(self.batch_s)) if self.batch_s else 120.0)
        now = time.monotonic()
        slow = sorted((t, ref) for ref, t in self.started.items()
                      if now - t > limit and self.copies[self.inflight[ref][1].key] == 1)
        for i, (_, ref) in zip(idle, slow):
            b = self.inflight[ref][1]
            self.log(f"batch of {len(b)} running for {now - self.started[ref]:.0f} s: also running it on worker {i}")
            self._submit(i, b)

    def _abandon_copies(self, key: str) -> None:
        """Forget the other copy of a finished batch; its actor is parked until free again."""
        import ray

        for ref, (i, b) in list(self.inflight.items()):
            if b.key == key:
                del self.inflight[ref]
                del self.started[ref]
                self.load[i] -= 1
                self.copies[key] -= 1
                try:
                    ray.cancel(ref)  # drops it if still queued; a running copy just finishes
                except Exception:
                    pass
                self._park(i)

    def loop(self) -> None:
        import ray

        while self.queue or self.inflight:
            self._probe_due()
            self.watch.check(sum(self.answered))
            self._fill()
            if not self.queue:
                self._speculate()
                self._release_idle()
            waiting = [*self.inflight, *self.probes]
            if not waiting:
                if not self.reprobe:
                    raise SweepError("no live workers left")
                time.sleep(0.5)  # every actor is away (e.g. its node died): wait for one to return
                continue
            ready, _ = ray.wait(waiting, num_returns=1, timeout=1.0)
            for ref in ready:
                if ref in self.probes:
                    self._probed(ref)
                    continue
                i, batch = self.inflight.pop(ref)
                self.batch_s.append(time.monotonic() - self.started.pop(ref))
                self.load[i] -= 1
                self.copies[batch.key] -= 1
                self._collect(ref, i, batch)
            self.bar.refresh()  # a terminal's elapsed time ticks; a log gets its line every 30 s
            self.tick()

    def tick(self, force: bool = False) -> None:
        """Rewrite the status file (throttled inside StatusWriter)."""
        if self.status is not None:
            sm = self.summary
            self.status.update(sm.present_before + sm.ran, sm.failed, sm.refused, force=force)
        self.metrics.update(self.summary.present_before + self.summary.ran, self.summary.failed)

    def _collect(self, ref: Any, i: int, batch: JobBatch) -> None:
        import ray
        from ray.exceptions import RayActorError, RayTaskError

        if batch.key in self.done:  # the other copy of a speculated batch already won
            return
        try:
            res = ray.get(ref)
        except (RayTaskError, RayActorError) as e:
            if isinstance(e, RayActorError):
                # Ray has restarted the actor and re-run the batch max_task_retries times
                # already (a dead process and a lost node both surface here, often as
                # "unavailable").  Park the actor until a ping shows it is back.
                self._park(i)
            if self.copies[batch.key] == 0:  # no other copy still running
                self._failed(batch, e)
            return
        self.done.add(batch.key)
        self._abandon_copies(batch.key)
        if not self.seen_shard and self.d.read_ids(res.shard) is None:
            # e.g. a local --out on a multi-node cluster: each node writes to its own disk
            raise SweepError(f"worker {res.worker} wrote {res.shard}, which this driver cannot read; "
                             "--out must be storage every node shares (e.g. s3://bucket/path)")
        self.seen_shard = True
        self.summary.ran += res.rows
        self.summary.failed += res.failed
        self.summary.refused += res.refused
        self.bar.update(res.rows)

    def _failed(self, batch: JobBatch, e: Exception) -> None:
        from ray.exceptions import RayTaskError

        from workers.actor import WorkerSetupError

        if not isinstance(e, RayTaskError):
            self._crashed(batch, "worker process died on every retry")
            return
        cause = getattr(e, "cause", None) or e
        if isinstance(cause, (WorkerSetupError, StorageError)):
            # not the batch's fault: every other batch would fail the same way (a full disk)
            raise SweepError(one_line(str(cause))) from None
        # A bug or an I/O error inside run(): Ray does not retry those; isolate and record.
        self._crashed(batch, f"worker error: {one_line(cause)}")

    # An actor whose task failed is parked; pings (with backoff) tell when Ray has it back.
    def _park(self, i: int) -> None:
        if self.alive[i]:
            self.alive[i] = False
            self.probe_fails[i] = 0
            self.probes[self.actors[i].ping.remote()] = i

    def _probed(self, ref: Any) -> None:
        import ray
        from ray.exceptions import RayActorError

        i = self.probes.pop(ref)
        try:
            where = ray.get(ref)
            if self.gone[i]:
                return
            self.alive[i] = True
            if not self.answered[i]:
                self.answered[i] = True
                self.log(f"worker {i} ready ({where})")
        except Exception as e:
            why = pool.setup_failure(e)
            if why is not None:  # e.g. its node cannot reach the storage: every batch would fail
                raise SweepError(why) from None
            if not isinstance(e, RayActorError):
                raise
            self.probe_fails[i] += 1
            wait = min(2.0 * self.probe_fails[i], 30.0)
            if self.probe_fails[i] > 40:  # ~15 minutes: long enough for an autoscaler to replace a node
                self.log(f"worker {i} is gone for good ({one_line(e)[:160]})")
                self.gone[i] = True
            else:
                self.reprobe.append((time.monotonic() + wait, i))

    def _probe_due(self) -> None:
        now = time.monotonic()
        due = [x for x in self.reprobe if x[0] <= now]
        self.reprobe = [x for x in self.reprobe if x[0] > now]
        for _, i in due:
            if not self.gone[i]:
                self.probes[self.actors[i].ping.remote()] = i

    def _release_idle(self) -> None:
        """The queue ran dry: let go of actors with nothing to do (pending ones too, so the
        autoscaler stops adding nodes for them), keeping one idle actor per running batch for
        tail speculation, and never the last one.  A parked actor (maybe still finishing an
        abandoned copy: killing it mid-write would leave a temporary) waits for its ping."""
        import ray

        keep = len(self.inflight)
        for i in range(len(self.actors)):
            if self.gone[i] or self.load[i] or (self.answered[i] and not self.alive[i]):
                continue
            if self.alive[i] and keep > 0:
                keep -= 1
                continue
            if sum(not g for g in self.gone) <= 1:
                return
            self.gone[i] = True
            self.alive[i] = False
            for ref in [r for r, j in self.probes.items() if j == i]:
                del self.probes[ref]
            self.reprobe = [x for x in self.reprobe if x[1] != i]
            try:
                ray.kill(self.actors[i], no_restart=True)
            except Exception:
                pass

    def _crashed(self, batch: JobBatch, why: str) -> None:
        """A batch that failed after Ray's retries: it may still have published its shard just
        before dying; otherwise isolate its jobs, and give up on a single job with an error row."""
        landed = self.d.read_ids(f"{self.d.shards}/{shard_filename(batch.job_ids)}")
        if landed is not None and set(landed) == set(batch.job_ids):
            self.summary.ran += len(batch)
            self.bar.update(len(batch))
            return
        if len(batch) > 1:
            self.log(f"batch of {len(batch)} failed ({why}); retrying its jobs one by one")
            singles = batch.singles()
            self.isolate.update(b.key for b in singles)
            self.queue.extendleft(reversed(singles))
            return
        rb = RowBuilder(batch, "driver", self.version, [self.plan.difficulty.get((batch.task, batch.problem_ids[0]))])
        self.d.write(to_table([rb.failed(0, why)]))
        self.log(f"job {batch.job_ids[0]} failed for good ({why}); wrote an error row")
        self.summary.ran += 1
        self.summary.failed += 1
        self.bar.update(1)

    def close(self) -> None:
        import ray

        self.bar.close()
        for a in self.actors:
            try:
                ray.kill(a, no_restart=True)
            except Exception:
                pass


def run_sweep(spec: SweepSpec, out: str, *, address: Optional[str] = None,
              workers: Optional[int] = None, device: str = "auto", batch_size: Optional[int] = None,
              retries: int = 3, per_actor: int = IN_FLIGHT, progress: bool = True, report: bool = True,
              inject: Optional[dict] = None, check_models: bool = True,
              speculate_after: Optional[float] = None, force_lock: bool = False, extend: bool = False,
              log: Callable[[str], None] = lambda s: print(s, flush=True)) -> Summary:
    """Run (or resume) a sweep into ``out``; returns what happened.

    Raises ``SpecError`` for bad input or a directory another live driver owns (before anything
    is written) and ``SweepError`` when the sweep cannot continue, a failed write included (what
    was written stays; rerunning resumes).  A resume under other settings (``fingerprint.json``,
    sweeps/engine/identity.py) is a ``SpecError`` unless ``extend``."""
    t0 = time.perf_counter()
    plan, d = prepare(spec, out, batch_size, check_models=check_models)
    lock = DriverLock(d)
    try:
        d.create()
        lock.acquire(force=force_lock, log=log)
    except LockedError as e:
        raise SpecError(str(e)) from None
    except StorageError as e:
        raise SweepError(str(e)) from None
    status: Optional[StatusWriter] = None
    summary: Optional[Summary] = None
    try:
        try:  # before spec.yaml is rewritten: a refused resume leaves OUT as it was
            known = check_resume(out, d.read_small(FINGERPRINT_FILE), bool(d.list_shards()), spec.name,
                                 plan.identity, extend)
        except ResumeRefused as e:
            raise SpecError(str(e)) from None
        d.write_small(FINGERPRINT_FILE, plan.identity.to_json(spec.name, known))
        _write_spec(d, spec)
        # With a forced shared lock another driver may be mid-write: only clear old temporaries.
        d.clean_temporaries(older_than_s=3600.0 if force_lock else None)
        # The resume scan: locally every page is checksum-verified (cheap); on an object store
        # only the job_id column is read (the scan must stay fast for 100k jobs; S3 checks
        # every upload's integrity itself) -- footer, names and ids are checked either way.
        scan = d.scan(full=not d.atomic_put)
        if scan.strays:
            log(f"note: {describe_strays(scan.strays)}")
        quarantined = []
        for path, reason in scan.corrupt:
            dest = d.quarantine(path, reason)
            quarantined.append(dest)
            log(f"corrupt shard {os.path.basename(path)} ({reason}): moved to {dest}; its jobs will be redone")
        quarantined += drop_redundant(d, scan, log)
        wanted = set(plan.job_ids())
        present = scan.ids & wanted
        extra = len(scan.ids - wanted)
        if extra:
            log(f"note: {extra} row(s) in {out} belong to other specs or settings (kept, not counted)")
        summary = Summary(out=out, total=plan.total, present_before=len(present), quarantined=quarantined)
        todo = plan_todo(plan, present)
        for note in plan.notes:
            log(note)
        log(f"sweep {spec.name}: {plan.total} jobs in {len(plan.batches)} batches; "
            f"{len(present)} already done, {plan.total - len(present)} to run")
        status = StatusWriter(d, spec.name, plan.total, len(present))
        status.update(len(present), 0, 0, force=True)

        if todo:
            started, summary.dashboard = connect(address, log)
            run = None
            try:
                run = _Run(plan, d, summary, todo, workers=workers, device=device, retries=retries,
                           per_actor=per_actor, inject=inject, version=code_version(),
                           progress=progress, speculate_after=speculate_after, log=log, status=status)
                run.loop()
            finally:
                if run is not None:
                    run.close()
                if started:
                    import ray

                    ray.shutdown()

        # Nothing ran: the start scan (less what was set aside) is the final state; on S3 a
        # second scan would double a finished sweep's rerun time.
        final = d.scan(full=False) if todo else dataclasses.replace(scan, corrupt=[])  # quarantined
        for path, reason in final.corrupt:  # never left where the analysis would read it
            dest = d.quarantine(path, reason)
            summary.quarantined.append(dest)
            log(f"warning: shard {os.path.basename(path)} is unreadable after the run ({reason}): "
                f"moved to {dest}; rerun to redo its jobs")
        summary.quarantined += drop_redundant(d, final, log)
        have = final.ids & wanted
        summary.missing = len(wanted - have)
        summary.duplicates = len(final.duplicates & wanted)
        summary.elapsed_s = time.perf_counter() - t0
        status.update(len(have), summary.failed, summary.refused,
                      state="done" if summary.complete else "incomplete", force=True)
        if report and summary.complete:
            summary.report = _report(out, log)
        return summary
    except BaseException as e:
        if status is not None and summary is not None:
            state = "interrupted" if isinstance(e, KeyboardInterrupt) else "failed"
            try:
                status.update(summary.present_before + summary.ran, summary.failed, summary.refused,
                              state=state, message=one_line(e) if str(e) else type(e).__name__, force=True)
            except OSError:
                pass  # the disk that failed the sweep may refuse this too
        if isinstance(e, OSError):  # a failed write or listing: one line, not a traceback
            err = e if isinstance(e, StorageError) else storage_error(d.uri, e)
            raise SweepError(str(err)) from None
        raise
    finally:
        lock.release()


def drop_redundant(d: SweepDir, scan: Any, log: Callable[[str], None]) -> list[str]:
    """Set aside shards whose every row another shard also holds (updates ``scan``).

    Only possible in a rare race: a worker of a killed driver finishing a split-up batch after
    the next driver re-planned it.  Smallest shards go first, so the big batch copy is kept."""
    if not scan.duplicates:
        return []
    moved = []
    count: dict[str, int] = {}
    for ids in scan.shard_ids.values():
        for j in ids:
            count[j] = count.get(j, 0) + 1
    for path in sorted(scan.shard_ids, key=lambda p: len(scan.shard_ids[p])):
        ids = scan.shard_ids[path]
        if all(count[j] > 1 for j in ids):
            moved.append(d.quarantine(path, "every row duplicated in another shard"))
            for j in ids:
                count[j] -= 1
            del scan.shard_ids[path]
            log(f"shard {os.path.basename(path)} only repeated rows of other shards: set aside")
    scan.duplicates = {j for j, c in count.items() if c > 1}
    return moved


def _write_spec(d: SweepDir, spec: SweepSpec) -> None:
    import yaml

    d.write_small("spec.yaml", yaml.safe_dump(spec.to_dict(), sort_keys=False).encode("utf-8"))


def _report(out: str, log: Callable[[str], None]) -> Optional[str]:
    """Run the analysis for the sweep when the analysis package provides it."""
    try:
        from analysis.report import write_report
    except ImportError:
        log("analysis.report is not available: no report written")
        return None
    import warnings

    remote = "://" in out and not out.startswith("file://")
    # A remote sweep's report is built in a temporary folder and copied to OUT/report: nothing is
    # left in the working directory (write_report's default there is ./report-<name>).
    tmp = tempfile.mkdtemp(prefix="dllm-report-") if remote else None
    try:
        with warnings.catch_warnings():  # stray files were reported once already, at the start
            warnings.simplefilter("ignore", UserWarning)
            local = str(write_report(out, out_dir=tmp, settings="current"))  # this spec's rows (an --extend may keep others)
        return f"{out.rstrip('/')}/report" if remote else local
    except Exception as e:  # the data is complete either way; say why there is no report
        log(f"warning: the report failed: {one_line(e)}")
        return None
    finally:
        if tmp is not None:
            shutil.rmtree(tmp, ignore_errors=True)
