"""Device-busy fraction of a sweep actor on a code task, with and without grading overlap.

    python -m benchmarks.bench_grading_overlap                 # HumanEval (bundled copy), 6 batches of 8
    python -m benchmarks.bench_grading_overlap --batches 8 --batch 16 --step-s 0.25 --steps 32

The actor (``workers.actor.SweepWorker``) runs real HumanEval grading in the code sandbox on the
canonical solutions, but its generator is a stand-in whose decode of a batch takes exactly
``steps × step_s`` seconds (a sleep, as a GPU would keep the host waiting), so the figure does not
depend on CPU noise in generation.  Without overlap: one batch at a time (generate, grade, write).
With overlap: two batches in flight, as the driver runs actors (``max_concurrency=2``): the next
batch generates while the previous one is graded on the grading pool.  Device-busy fraction =
seconds spent generating / wall seconds.
"""
from __future__ import annotations

import argparse
import tempfile
import threading
import time
from typing import Any, Optional, Sequence

import torch


class StandInModel:
    """Just enough of a model for the actor: a prompt is its problem's index, a sample decodes to
    that problem's canonical solution."""

    mask_id, vocab_size, eos_id = 0, 1000, None

    def __init__(self, task: Any) -> None:
        self.index = {p.prompt: i for i, p in enumerate(task.problems)}
        self.problems = task.problems

    def encode_prompt(self, prompt: str) -> list[int]:
        return [self.index[prompt] + 1]

    def decode(self, tokens: torch.Tensor) -> str:
        return self.problems[int(tokens[0]) - 1].reference


def make_worker(out: str, task: Any, seconds: float) -> Any:
    """A ``SweepWorker`` whose ``_generate`` sleeps ``seconds`` per batch (the device's time)."""
    from workers.actor import SweepWorker
    from workers.samplers.base import SamplerOutput, Trace

    w = SweepWorker(out, "bench")
    w._model_name, w._model = "stand-in", StandInModel(task)
    w.busy = 0.0

    def generate(sampler: Any, model: Any, prompts: list, batch: Any, idx: list[int]) -> SamplerOutput:
        t0 = time.perf_counter()
        time.sleep(seconds)
        w.busy += time.perf_counter() - t0
        return SamplerOutput(torch.tensor([[p[0]] for p in prompts]), [Trace(nfe=1, forward_rows=1) for _ in prompts])

    w._generate = generate
    return w


def run(batches: Sequence[Any], task: Any, seconds: float, in_flight: int) -> tuple[float, float]:
    """(device-busy fraction, wall seconds) of one actor running ``batches`` with ``in_flight``
    batches at a time (threads, as Ray's ``max_concurrency``)."""
    with tempfile.TemporaryDirectory() as out:
        w = make_worker(out, task, seconds)
        todo = list(batches)
        lock = threading.Lock()

        def loop() -> None:
            while True:
                with lock:
                    if not todo:
                        return
                    b = todo.pop(0)
                w.run(b)

        t0 = time.perf_counter()
        threads = [threading.Thread(target=loop) for _ in range(in_flight)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        wall = time.perf_counter() - t0
    return w.busy / wall, wall


def main(argv: Optional[Sequence[str]] = None) -> dict[str, float]:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--batches", type=int, default=6)
    ap.add_argument("--batch", type=int, default=8, help="samples per batch")
    ap.add_argument("--steps", type=int, default=32, help="denoising steps per batch")
    ap.add_argument("--step-s", type=float, default=0.25, help="seconds per step of the stand-in device")
    args = ap.parse_args(argv)
    from workers.grading_pool import node_cpus
    from workers.jobs import JobBatch
    from workers.tasks import load_task

    task = load_task("humaneval")
    ids = [p.problem_id for p in task.problems][:args.batches * args.batch]
    batches = [JobBatch("bench", "stand-in", "humaneval", "confidence", {"temperature": 1.0}, 8, 8,
                        tuple(f"job{i}" for i in range(b, b + args.batch)), tuple(ids[b:b + args.batch]),
                        tuple(range(args.batch)))
               for b in range(0, len(ids), args.batch)]
    seconds = args.steps * args.step_s
    print(f"HumanEval canonical solutions graded in the sandbox ({task.source.split(' ')[0]}); {len(batches)} batches "
          f"of {args.batch}; stand-in device: {seconds:.1f} s a batch; grading pool: {node_cpus()} thread(s)")
    res = {}
    for label, k in (("without overlap", 1), ("with overlap", 2)):
        busy, wall = run(batches, task, seconds, k)
        res[label] = busy
        print(f"{label}: device busy {busy:.2f} of {wall:.1f} s wall", flush=True)
    return res


if __name__ == "__main__":
    main()
