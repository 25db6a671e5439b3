"""The driver's progress display: a redrawn bar on a terminal, plain lines in a log.

Redirected to a file (``> log 2>&1``, a batch scheduler), a bar's ``\\r`` redraws pile up on one
line; there the driver writes one complete line every ``interval`` seconds (30 by default, and
at the end) with the rate and time left measured over this run so far, so the estimate is
re-made as the sweep goes (and follows a machine that gets busier or quieter).
"""
from __future__ import annotations

import sys
import time
from typing import Any, Callable, Optional, TextIO

LOG_INTERVAL_S = 30.0


def _duration(s: float) -> str:
    if s < 90:
        return f"{s:.0f} s"
    if s < 5400:
        return f"{s / 60:.1f} min"
    return f"{s / 3600:.1f} h"


class LineProgress:
    """tqdm's ``update`` / ``refresh`` / ``close`` as one line per ``interval`` seconds."""

    def __init__(self, total: int, initial: int, desc: str, file: TextIO, *,
                 interval: float = LOG_INTERVAL_S, disable: bool = False,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.total, self.n, self.start_n = total, initial, initial
        self.desc, self.file, self.interval, self.disable, self.clock = desc, file, interval, disable, clock
        self.t0 = self.last = clock()
        self.closed = False
        self._line()

    def _line(self) -> None:
        if self.disable:
            return
        elapsed = self.clock() - self.t0
        ran = self.n - self.start_n
        pct = 100.0 * self.n / self.total if self.total else 100.0
        text = f"{self.desc}: {self.n}/{self.total} jobs ({pct:.0f}%), {_duration(elapsed)} elapsed"
        if ran > 0 and elapsed > 0:
            rate = ran / elapsed
            text += f", {rate:.2f} job/s" if rate >= 1 else f", {1 / rate:.1f} s/job"
            if self.n < self.total:
                text += f", about {_duration((self.total - self.n) / rate)} left at this run's rate so far"
        print(text, file=self.file, flush=True)
        self.last = self.clock()

    def update(self, n: int = 1) -> None:
        self.n += n
        self.refresh()

    def refresh(self) -> None:
        """A line when ``interval`` seconds have passed since the last one."""
        if not self.closed and self.clock() - self.last >= self.interval:
            self._line()

    def close(self) -> None:
        if not self.closed:
            self.closed = True
            if self.n != self.start_n:  # the final count, unless nothing ran at all
                self._line()


def progress_bar(total: int, initial: int, desc: str, *, enabled: bool = True,
                 file: Optional[TextIO] = None) -> Any:
    """A tqdm bar when ``file`` (default stderr) is a terminal, else a :class:`LineProgress`."""
    file = sys.stderr if file is None else file
    if file.isatty():
        from tqdm import tqdm

        return tqdm(total=total, initial=initial, unit="job", dynamic_ncols=True, mininterval=0.1,
                    maxinterval=10.0, smoothing=0.05, disable=not enabled, desc=desc, file=file)
    return LineProgress(total, initial, desc, file, disable=not enabled)
