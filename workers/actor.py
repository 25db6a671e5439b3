"""The sweep worker: loads a model once, runs batches of jobs, grades them, writes one shard each.

``SweepWorker`` is a plain class; the driver turns it into a Ray actor (one per GPU, or per CPU
slot) with ``ray.remote(SweepWorker).options(...)``, and the benchmark runs it in-process.

Failure policy, so that a job is never silently dropped:
- a batch whose ``generate`` raises is re-run job by job, and a job that still raises gets a row
  with ``error`` set (same for a failed decode);
- a model / task that cannot be loaded raises ``WorkerSetupError``: that is not a job's fault,
  so the driver stops the sweep instead of filling it with error rows;
- a crash of the process (segfault, OOM kill, lost node) is Ray's business: the actor restarts
  and the batch is retried; the driver turns repeated crashes into error rows.
"""
from __future__ import annotations

import os
import socket
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Optional

from workers.grading_pool import GradingPool
from workers.jobs import JobBatch, canonical_json
from workers.rows import RowBuilder, one_line, to_table
from workers.node import reach_storage
from workers.oom import BatchFitter
from workers.shards import SweepDir


class WorkerSetupError(RuntimeError):
    """The worker could not load what a batch needs (model, task, sampler)."""


@dataclass(frozen=True)
class BatchResult:
    shard: str
    rows: int
    failed: int          # jobs with no sample (generate/decode failed): error rows
    refused: int         # samples the grader could not grade (error set by the grader)
    worker: str
    wall_s: float


@dataclass
class _Generated:
    """A batch after the device, before grading."""
    task: Any
    problems: list
    rb: RowBuilder
    traces: list
    texts: list[Optional[str]]
    errors: list[Optional[str]]
    l2r: list[Optional[float]]
    wall: float


class SweepWorker:
    """Runs ``JobBatch``es: generate -> decode -> grade -> rows -> one atomic shard."""

    def __init__(self, out: str, code_version: str, model: Optional[str] = None,
                 threads: Optional[int] = 1, inject: Optional[dict[str, Any]] = None) -> None:
        import torch

        if threads and not torch.cuda.is_available():
            torch.set_num_threads(threads)  # one CPU slot per actor: no oversubscription
        self.dir = SweepDir(out)
        # A node that cannot reach the storage is reported by ping(), so the driver stops the
        # sweep with the storage error instead of retrying every batch (workers/node.py).
        self.setup_error = reach_storage(self.dir)
        self.code_version = code_version
        self.worker = f"{socket.gethostname()}:{os.getpid()}"
        self.inject = inject or {}
        self._fitter = BatchFitter(lambda s: print(f"worker {self.worker}: {s}", flush=True))
        self._device = threading.Lock()   # one batch on the device at a time
        self._grader = GradingPool()
        self._model_name: Optional[str] = None
        self._model: Any = None
        self._tasks: dict[tuple[str, str], Any] = {}
        self._prompts: dict[tuple[str, str, str], list[int]] = {}
        if model is not None:
            self._load_model(model)  # once per actor (and again after a restart)

    def ping(self) -> str:
        if self.setup_error is not None:
            raise self.setup_error
        return self.worker

    # ------------------------------------------------------------------------- loading
    def _load_model(self, name: str) -> Any:
        if name != self._model_name:
            from workers.models import load_model

            from workers.weights import fetch_weights

            self._model = None  # free the old weights before loading new ones
            try:
                fetch_weights(name)  # once per node, from DLLM_WEIGHTS_URI when set
                self._model = load_model(name)
            except Exception as e:
                raise WorkerSetupError(f"cannot load model {name!r}: {one_line(e)}") from None
            self._model_name = name
            self._prompts.clear()
        return self._model

    def _task(self, name: str, args: dict[str, Any]) -> Any:
        key = (name, repr(sorted(args.items())))
        if key not in self._tasks:
            from workers.tasks import load_task

            try:
                self._tasks[key] = load_task(name, **{"split": "test", **args})   # args may name the split
            except Exception as e:
                raise WorkerSetupError(f"cannot load task {name!r}: {one_line(e)}") from None
        return self._tasks[key]

    def _prompt(self, model: Any, name: str, task: Any, problem: Any) -> list[int]:
        key = (self._model_name or "", name, problem.problem_id)
        if key not in self._prompts:
            self._prompts[key] = task.encode(model, problem)
        return self._prompts[key]

    # ------------------------------------------------------------------------- running
    def run(self, batch: JobBatch) -> BatchResult:
        """Run one batch and publish its shard; returns what was written.

        The device part (generate, decode, rescore) holds the device lock; grading runs after it
        on the grading pool, so an actor with two batches in flight (the driver's default,
        ``max_concurrency=2``) generates the next batch while this one is graded.  The shard is
        written when the grades are in, and ``run`` returns only then: the driver counts a batch
        when its shard exists, so a kill between generation and grading costs the batch, never a
        duplicate (the rerun redoes it under the same shard name)."""
        t_start = time.perf_counter()
        with self._device:
            gen = self._generate_batch(batch)
        self._injected_after_generate(batch)
        rows, refused = self._grade_rows(gen)
        path = self.dir.write(to_table(rows))
        failed = sum(e is not None for e in gen.errors)
        return BatchResult(path, len(rows), failed, refused, self.worker, time.perf_counter() - t_start)

    def _generate_batch(self, batch: JobBatch) -> "_Generated":
        """The device's share of a batch: samples, their texts, left-to-right bits."""
        from workers.samplers import make_sampler

        if self.setup_error is not None:
            raise self.setup_error
        model = self._load_model(batch.model)
        task = self._task(batch.task, batch.task_args)
        try:
            sampler = make_sampler(batch.sampler, **batch.make_args)
            problems = [task.get(pid) for pid in batch.problem_ids]
        except Exception as e:
            raise WorkerSetupError(f"batch {batch.describe()}: {one_line(e)}") from None
        if canonical_json(sampler.params) != canonical_json(batch.params):
            # the job ids were computed from the driver's view of the defaults
            raise WorkerSetupError(f"sampler {batch.sampler!r} here has params {canonical_json(sampler.params)}, "
                                   f"the driver expected {canonical_json(batch.params)}: driver and "
                                   "workers run different code versions")
        if batch.cache != "none":
            self._check_cache(model, batch)
        self._injected_crash(batch)
        prompts = [self._prompt(model, batch.task, task, p) for p in problems]
        rb = RowBuilder(batch, self.worker, self.code_version, [p.difficulty for p in problems],
                        base_sampler=getattr(sampler, "base_sampler", None))

        # One generate for the batch; if it raises, isolate the failing job(s) one by one.
        t0 = time.perf_counter()  # wall_s: generation only (not model loading, not grading)
        outputs: list[Any] = [None] * len(batch)
        errors: list[Optional[str]] = [None] * len(batch)
        try:  # halved on out-of-memory (workers/oom.py), then job by job on other errors
            outputs = self._fitter.run(lambda idx: self._generate(sampler, model, [prompts[i] for i in idx],
                                                                  batch, idx), list(range(len(batch))))
        except Exception:
            for i in range(len(batch)):
                try:
                    o = self._generate(sampler, model, [prompts[i]], batch, [i])
                    outputs[i] = (o.tokens[0], o.traces[0])
                except Exception as e:
                    errors[i] = f"generate failed: {one_line(e)}"
        wall = (time.perf_counter() - t0) / len(batch)
        l2r = self._rescore(model, prompts, outputs, errors) if batch.bits_l2r else [None] * len(batch)
        texts: list[Optional[str]] = [None] * len(batch)
        for i in range(len(batch)):
            if errors[i] is None:
                try:
                    texts[i] = model.decode(outputs[i][0])
                except Exception as e:
                    errors[i] = f"decode failed: {one_line(e)}"
        return _Generated(task, problems, rb, [o[1] if o else None for o in outputs], texts, errors, l2r, wall)

    def _grade_rows(self, gen: "_Generated") -> tuple[list[dict], int]:
        """Grade the samples on the grading pool (CPU threads; the code sandbox's limits are the
        task's own) and build the rows."""
        ok = [i for i, e in enumerate(gen.errors) if e is None]
        grades = dict(zip(ok, self._grader.grade(gen.task, [gen.problems[i] for i in ok], [gen.texts[i] for i in ok])))
        rows, refused = [], 0
        for i in range(len(gen.problems)):
            if gen.errors[i] is not None:
                rows.append(gen.rb.failed(i, gen.errors[i], gen.wall))
                continue
            g = grades[i]
            refused += g.error is not None
            rows.append(gen.rb.sample(i, completion=gen.texts[i], correct=g.correct, extracted=g.extracted,
                                      error=g.error, trace=gen.traces[i], wall_s=gen.wall, bits_l2r=gen.l2r[i],
                                      score=g.score))
        return rows, refused

    def _generate(self, sampler: Any, model: Any, prompts: list, batch: JobBatch, idx: list[int]) -> Any:
        if any(batch.job_ids[i] in self.inject.get("raise", ()) for i in idx):
            raise RuntimeError("injected failure")
        seeds = [batch.seeds[i] for i in idx]
        if batch.slots is not None and len(idx) > batch.slots:
            # continuous batching (workers/batching.py): same samples, a finished row's slot refilled
            from workers.batching import generate_continuous

            return generate_continuous(sampler, model, prompts, batch.gen_length, batch.block_length, seeds,
                                       width=batch.slots, prefix_cache=batch.prefix_cache)[0]
        return sampler.generate(model, prompts, batch.gen_length, batch.block_length, seeds,
                                prefix_cache=batch.prefix_cache)

    def _check_cache(self, model: Any, batch: JobBatch) -> None:
        """A cache the model cannot serve is the spec's fault, not a job's: stop the sweep with one
        line instead of writing an error row for every job (docs/design.md §4)."""
        need = "supports_dual_cache" if batch.cache == "dual" else "supports_prefix_cache"
        if not getattr(model, need, False):
            raise WorkerSetupError(f"model {batch.model!r} cannot decode with cache: {batch.cache} "
                                   f"(no {need.removeprefix('supports_')}); set cache: none"
                                   + (" or prefix" if batch.cache == "dual" else "") + " for it in the spec")

    @staticmethod
    def _rescore(model: Any, prompts: list, outputs: list, errors: list[Optional[str]]) -> list[Optional[float]]:
        """Left-to-right bits (002 §5.1) of every generated sample, all in one batched call; a
        failure leaves the column null (the sample itself stays valid)."""
        import torch

        from workers.scoring import left_to_right_bits

        # a sample that ended with masks left (ETE's forward limit, 002 §4.2) has no joint: null
        ok = [i for i, e in enumerate(errors)
              if e is None and not bool((outputs[i][0] == model.mask_id).any())]
        out: list[Optional[float]] = [None] * len(outputs)
        if ok:
            try:
                bits = left_to_right_bits(model, [prompts[i] for i in ok],
                                          torch.stack([outputs[i][0] for i in ok]))
            except Exception:
                return out
            for i, b in zip(ok, bits):
                out[i] = b
        return out

    # ------------------------------------------------------------------------- test hooks
    def _injected_after_generate(self, batch: JobBatch) -> None:
        """Fault injection between generation and grading (tests): mark that the batch's samples
        exist (``inject['dir']``), then hold grading ``grade_sleep`` seconds."""
        if self.inject.get("grade_sleep"):
            if self.inject.get("dir"):
                (Path(self.inject["dir"]) / f"generated-{batch.key}").touch()
            time.sleep(float(self.inject["grade_sleep"]))

    def _injected_crash(self, batch: JobBatch) -> None:
        """Fault injection for tests (``inject`` is empty in real sweeps): kill this process
        on jobs listed in ``die_always``, or on the first attempt at jobs in ``die_once``
        (a marker file in ``inject['dir']`` remembers the attempt across restarts)."""
        if not self.inject:
            return
        if self.inject.get("sleep"):
            time.sleep(float(self.inject["sleep"]))
        for j in batch.job_ids:
            if j in self.inject.get("die_always", ()):
                os._exit(17)
            if j in self.inject.get("die_once", ()):
                marker = Path(self.inject["dir"]) / f"died-{j}"
                if not marker.exists():
                    marker.touch()
                    os._exit(17)
