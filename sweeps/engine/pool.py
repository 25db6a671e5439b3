"""The worker pool that follows the cluster: what each actor asks for, how many, and when.

On an autoscaling cluster the head has no GPU and the GPU nodes come later (``ray up`` returns
when the head is up).  So the driver does not size the pool by what is visible when it starts:

- every actor asks for what its model needs (``num_gpus=1`` for a model that needs a GPU, one CPU
  slot otherwise, or what ``--device`` says); a model that needs a GPU is never put on a CPU
  unless the user says ``--device cpu``;
- up to ``--max-workers`` actors are created at once.  Those the cluster cannot place yet stay
  *pending*: Ray's autoscaler adds nodes for pending resource demands, so the pending actors are
  what makes the cluster grow.  The driver pings each actor and gives it work once the ping
  answers (its node is up and its model process started);
- while no actor is ready the driver says what it is waiting for, and gives up after
  ``DLLM_WAIT_TIMEOUT`` seconds (default 1800) with the cause in one line;
- once the queue runs dry, actors that are idle (or never started) are let go, so the
  autoscaler can remove their nodes after its idle timeout.

Also here: the ``runtime_env`` every actor gets (the ``DLLM_*``, ``HF_*`` and ``AWS_*`` variables
the driver has, so a worker node sees the same credentials, endpoint and model options as the
driver, whatever the shell that ran ``ray start`` had).
"""
from __future__ import annotations

import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterable, Optional

from sweeps.engine.errors import SweepError

#: Environment prefixes forwarded to every actor (credentials, endpoints, model options).
FORWARDED_PREFIXES = ("DLLM_", "HF_", "AWS_")
#: A local checkpoint up to this size runs on a CPU (the tiny presets, test models).
CPU_WEIGHTS_LIMIT = 2 * 2**30
WAIT_TIMEOUT_ENV = "DLLM_WAIT_TIMEOUT"
#: The autoscaler's config as ``ray up`` writes it on the head node.
BOOTSTRAP_CONFIG = "~/ray_bootstrap_config.yaml"
AUTOSCALING_CONFIG_ENV = "DLLM_AUTOSCALING_CONFIG"


def needs_gpu(model: str) -> bool:
    """Whether ``model`` is too big for a CPU: the packaged presets (tiny) and small local
    checkpoints are not; a hub id or a big checkpoint (an 8B model: 16 GB in bf16) is."""
    from workers.models.registry import PRESETS

    preset = PRESETS.get(model.lower())
    if preset is not None:
        if not preset.local:
            return True
        model = preset.source
    path = Path(model).expanduser()
    if not path.is_dir():
        return True  # a hub id: a real model
    size = sum(f.stat().st_size for f in path.iterdir()
               if f.is_file() and f.suffix in (".safetensors", ".bin", ".pt"))
    return size > CPU_WEIGHTS_LIMIT


@dataclass(frozen=True)
class Placement:
    """What each actor asks Ray for, and how many actors the pool may hold."""

    gpu: bool
    actors: int
    why: str          # for the log: why GPU or CPU, where the count comes from

    @property
    def resources(self) -> dict[str, float]:
        return {"CPU": 1.0, "GPU": 1.0} if self.gpu else {"CPU": 1.0}

    def options(self, retries: int, extra_env: Optional[dict[str, str]] = None,
                in_flight: int = 1) -> dict[str, Any]:
        """``ray.remote(...).options`` of every actor (``extra_env``: test fault injection;
        ``in_flight``: batches an actor holds at once, one generating while another is graded)."""
        opts: dict[str, Any] = dict(num_cpus=1, max_restarts=-1, max_task_retries=retries,
                                    scheduling_strategy="SPREAD", max_concurrency=in_flight)
        if self.gpu:
            opts["num_gpus"] = 1
        env = worker_env(extra_env)
        if env:
            opts["runtime_env"] = {"env_vars": env}
        return opts


def worker_env(extra: Optional[dict[str, str]] = None) -> dict[str, str]:
    """The variables every actor gets: the driver's ``DLLM_*``, ``HF_*``, ``AWS_*`` ones, plus
    ``HF_HUB_OFFLINE=1`` when the weights come from the sweep's own copy (``DLLM_WEIGHTS_URI``):
    nothing reaches the Hub at run time, so no rate limits and no surprise downloads."""
    env = {k: v for k, v in os.environ.items() if k.startswith(FORWARDED_PREFIXES)}
    if env.get("DLLM_WEIGHTS_URI"):
        env.setdefault("HF_HUB_OFFLINE", "1")
    env.update(extra or {})
    return env


def autoscaler_capacity(resource: str, config: Optional[str] = None) -> Optional[int]:
    """How many units of ``resource`` the cluster can reach at most, from the autoscaler's
    config (``ray up`` leaves it on the head as ``~/ray_bootstrap_config.yaml``); None without one.
    ``max_workers`` of each node type times its resources, capped by the top-level ``max_workers``
    (the biggest node types first)."""
    import yaml

    path = Path(config or os.environ.get(AUTOSCALING_CONFIG_ENV) or BOOTSTRAP_CONFIG).expanduser()
    try:
        cfg = yaml.safe_load(path.read_text())
    except (OSError, yaml.YAMLError):
        return None
    if not isinstance(cfg, dict) or not isinstance(cfg.get("available_node_types"), dict):
        return None
    head = cfg.get("head_node_type")
    types = cfg["available_node_types"]
    total = float((types.get(head) or {}).get("resources", {}).get(resource, 0))
    left = int(cfg.get("max_workers", 10**6))
    per_node = sorted(((float((t.get("resources") or {}).get(resource, 0)), int(t.get("max_workers", 0)))
                       for name, t in types.items() if name != head), reverse=True)
    for units, count in per_node:
        n = min(count, left)
        total += units * n
        left -= n
    return int(total)


def plan_placement(models: Iterable[str], device: str, max_workers: Optional[int], batches: int,
                   resources: dict[str, float]) -> Placement:
    """GPU or CPU actors, and how many (at most one per batch to run).

    ``device``: "gpu"/"cpu" force it; "auto" uses a GPU when a model needs one or the cluster
    has one now.  The count: ``max_workers`` if given, else every unit of that resource the
    cluster has now or its autoscaler can add, whichever is more."""
    big = sorted(m for m in set(models) if needs_gpu(m))
    if device == "cpu":
        gpu, why = False, "--device cpu"
    elif device == "gpu":
        gpu, why = True, "--device gpu"
    elif big:
        gpu, why = True, f"model {big[0]!r} needs a GPU (--device cpu to run it on CPUs anyway)"
    else:
        gpu = resources.get("GPU", 0) >= 1
        why = "the cluster has a GPU" if gpu else "small model(s), no GPU in the cluster"
    kind = "GPU" if gpu else "CPU"
    if max_workers:
        n, src = max_workers, "--max-workers"
    else:
        now = int(resources.get(kind, 0))
        cap = autoscaler_capacity(kind)
        n = max(now, cap or 0, 1)
        src = (f"{kind} {now} now, up to {cap} with the autoscaler" if cap is not None
               else f"{kind} {now} in the cluster")
    return Placement(gpu, max(1, min(n, batches)), f"{why}; {src}")


class WaitWatch:
    """Says, while no actor is ready yet, what the pool is waiting for; gives up after a timeout
    with the cause (no node offers what the actors ask for, or the autoscaler does not add one)."""

    def __init__(self, placement: Placement, log: Callable[[str], None],
                 timeout: Optional[float] = None, every: float = 30.0) -> None:
        self.placement, self.log, self.every = placement, log, every
        self.timeout = timeout if timeout is not None else float(os.environ.get(WAIT_TIMEOUT_ENV, 1800))
        self.t0 = self.last = time.monotonic()
        self.satisfied = False

    def check(self, ready: int) -> None:
        """Call in the driver's loop with the number of actors that answered a ping so far."""
        if self.satisfied or ready:
            self.satisfied = True
            return
        now = time.monotonic()
        if now - self.t0 > self.timeout:
            raise SweepError(f"no worker started in {self.timeout:.0f} s: {self.situation()}; "
                             "check `ray status` / `ray monitor cluster.yaml` (node types, quotas, spot "
                             f"capacity){'' if not self.placement.gpu else ', or run with --device cpu'}")
        if now - self.last >= self.every:
            self.last = now
            self.log(f"waiting {now - self.t0:.0f} s for a worker: {self.situation()}")

    def situation(self) -> str:
        import ray

        need = ", ".join(f"{k} {v:g}" for k, v in self.placement.resources.items())
        have = ray.cluster_resources()
        free = ray.available_resources()
        kind = "GPU" if self.placement.gpu else "CPU"
        return (f"{self.placement.actors} actor(s) each need {{{need}}}; the cluster has "
                f"{kind} {free.get(kind, 0):g} free of {have.get(kind, 0):g} on "
                f"{sum(1 for n in ray.nodes() if n.get('Alive'))} node(s)")


def setup_failure(e: BaseException) -> Optional[str]:
    """One line when an actor's ping failed because the worker cannot work at all (its storage
    is unreachable, its model cannot load): the sweep stops with it instead of waiting."""
    from ray.exceptions import RayTaskError

    from workers.actor import WorkerSetupError
    from workers.rows import one_line
    from workers.shards import StorageError

    if isinstance(e, RayTaskError):
        cause = getattr(e, "cause", None) or e
        if isinstance(cause, (WorkerSetupError, StorageError)):
            return one_line(str(cause))
    return None
