"""Sweep progress as Ray metrics, so the Ray dashboard (and its Prometheus/Grafana) shows it.

Metrics are exported by the driver's Ray process, tagged with the sweep's name:
``dllm_sweep_jobs_done``, ``dllm_sweep_jobs_total``, ``dllm_sweep_jobs_failed`` (gauges: they
describe the sweep directory, so a resumed driver starts from what is already there) and
``dllm_sweep_jobs_per_s`` (the rate over the last minute).  Without Ray's metrics agent (e.g. a
private local Ray without the dashboard) recording is a no-op.
"""
from __future__ import annotations

import time
from collections import deque
from typing import Any


class ProgressMetrics:
    """Gauges of one sweep's progress; ``update`` is cheap (called from the driver's loop)."""

    def __init__(self, sweep: str, total: int, window_s: float = 60.0) -> None:
        self.tags = {"sweep": sweep}
        self.window_s = window_s
        self.points: deque[tuple[float, int]] = deque()
        self.gauges: dict[str, Any] = {}
        try:
            from ray.util.metrics import Gauge

            for name, desc in [("jobs_done", "jobs with a row in the sweep directory"),
                               ("jobs_total", "jobs in the sweep"),
                               ("jobs_failed", "jobs written as error rows by this driver"),
                               ("jobs_per_s", "jobs finished per second (last minute)")]:
                self.gauges[name] = Gauge(f"dllm_sweep_{name}", description=desc, tag_keys=("sweep",))
            self.gauges["jobs_total"].set(total, tags=self.tags)
        except Exception:  # no Ray metrics here: progress still goes to tqdm and status.json
            self.gauges = {}

    def update(self, done: int, failed: int) -> float:
        """Record the counts; returns the current rate (jobs/s over the window)."""
        now = time.monotonic()
        self.points.append((now, done))
        while len(self.points) > 2 and now - self.points[1][0] > self.window_s:
            self.points.popleft()
        t0, d0 = self.points[0]
        rate = (done - d0) / (now - t0) if now > t0 else 0.0
        for name, value in (("jobs_done", done), ("jobs_failed", failed), ("jobs_per_s", rate)):
            if name in self.gauges:
                try:
                    self.gauges[name].set(value, tags=self.tags)
                except Exception:
                    pass
        return rate
