"""The driver's progress (sweeps/engine/progress.py): redirected to a log it is one complete line
per 30 s (no ``\\r`` redraws), each with the rate and time left measured over the run so far."""
from __future__ import annotations

import io

from sweeps.engine.progress import LineProgress, progress_bar


class Clock:
    def __init__(self) -> None:
        self.t = 100.0

    def __call__(self) -> float:
        return self.t


def test_a_log_gets_one_line_per_interval_and_a_last_one():
    out, clock = io.StringIO(), Clock()
    bar = LineProgress(60, 0, "pareto", out, interval=30.0, clock=clock)
    for t, n in ((10, 8), (20, 8), (31, 8), (45, 8), (62, 8)):
        clock.t = 100.0 + t
        bar.update(n)
    clock.t = 170.0
    bar.refresh()          # the loop's tick: under 30 s since the last line, nothing
    bar.update(20)
    bar.close()
    text = out.getvalue()
    assert "\r" not in text and text.endswith("\n")
    lines = text.splitlines()
    assert [ln.split(":")[1].split()[0] for ln in lines] == ["0/60", "24/60", "40/60", "60/60"]
    assert "about 46 s left" in lines[1]     # 24 jobs in 31 s: 36 left at 0.774 job/s
    assert "left" not in lines[-1] and "70 s elapsed" in lines[-1]


def test_the_time_left_follows_the_rate_as_it_changes():
    out, clock = io.StringIO(), Clock()
    bar = LineProgress(100, 0, "s", out, interval=30.0, clock=clock)
    clock.t += 30
    bar.update(50)         # fast start: 50 in 30 s
    clock.t += 270
    bar.update(10)         # the machine got busy: 60 in 300 s
    first, second = out.getvalue().splitlines()[1:]
    assert "about 30 s left" in first and "about 3.3 min left" in second


def test_a_resumed_sweep_counts_from_what_was_there_and_rates_only_this_run():
    out, clock = io.StringIO(), Clock()
    bar = LineProgress(100, 90, "s", out, interval=30.0, clock=clock)
    clock.t += 40
    bar.update(4)
    assert out.getvalue().splitlines()[-1].startswith("s: 94/100 jobs (94%), 40 s elapsed, 10.0 s/job, about 60 s left")


def test_progress_off_or_nothing_run_writes_nothing_more():
    out = io.StringIO()
    LineProgress(10, 0, "s", out, disable=True).close()
    assert out.getvalue() == ""
    bar = LineProgress(10, 10, "s", out)
    bar.close()
    assert out.getvalue().count("\n") == 1


def test_a_file_that_is_not_a_terminal_gets_lines_not_a_bar():
    assert isinstance(progress_bar(10, 0, "s", file=io.StringIO()), LineProgress)
