"""The one-driver lock (stale after SIGKILL, refused while alive) and the status file.
No Ray: fast."""
from __future__ import annotations

import datetime as dt
import json
import os
import socket
import subprocess
import sys

import pytest

from sweeps.engine import status as st
from workers.shards import SweepDir


def _dead_pid() -> int:
    p = subprocess.Popen([sys.executable, "-c", "pass"])
    p.wait()
    return p.pid


def _lock(d: SweepDir, **kw) -> None:
    d.create()
    info = {"host": socket.gethostname(), "pid": os.getpid(), "pid_start": st.pid_start(os.getpid()),
            "token": "other", "since": "2026-01-01T00:00:00+00:00", **kw}
    (open(f"{d.root}/driver.lock", "w")).write(json.dumps(info))


def test_a_live_driver_on_this_host_is_named_and_refused(tmp_path):
    d = SweepDir(str(tmp_path))
    sleeper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        _lock(d, pid=sleeper.pid, pid_start=st.pid_start(sleeper.pid))
        with pytest.raises(st.LockedError) as err:
            st.DriverLock(d).acquire()
        msg = str(err.value)
        assert f"pid {sleeper.pid}" in msg and socket.gethostname() in msg and "--force-lock" in msg
        assert "\n" not in msg
        notes = []
        forced = st.DriverLock(d)
        forced.acquire(force=True, log=notes.append)  # deliberate sharing
        assert forced.held and "sharing" in notes[0]
        forced.release()
        assert not os.path.exists(f"{d.root}/driver.lock")
    finally:
        sleeper.kill()
        sleeper.wait()


@pytest.mark.parametrize("how", ["dead pid", "reused pid", "garbage"])
def test_a_sigkilled_drivers_lock_is_taken_over(tmp_path, how):
    d = SweepDir(str(tmp_path))
    if how == "dead pid":
        _lock(d, pid=_dead_pid())
    elif how == "reused pid":  # our own (live) pid, but started at another time: not that driver
        _lock(d, pid_start="1")
    else:
        d.create()
        open(f"{d.root}/driver.lock", "w").write("{half a fi")
    notes = []
    lock = st.DriverLock(d)
    lock.acquire(log=notes.append)
    assert lock.held and "gone" in notes[0]
    assert json.loads(open(f"{d.root}/driver.lock").read())["token"] == lock.me["token"]
    lock.release()


def test_another_hosts_driver_is_alive_while_its_status_is_fresh(tmp_path):
    d = SweepDir(str(tmp_path))
    _lock(d, host="elsewhere", pid=4242)
    w = st.StatusWriter(d, "s", 10, 0)
    w.update(3, 0, 0, force=True)
    with pytest.raises(st.LockedError, match="pid 4242 on host elsewhere"):
        st.DriverLock(d).acquire()
    old = json.loads(open(f"{d.root}/status.json").read())
    old["updated_at"] = (dt.datetime.now(dt.timezone.utc) - dt.timedelta(seconds=st.STALE_S + 5)).isoformat()
    open(f"{d.root}/status.json", "w").write(json.dumps(old))
    lock = st.DriverLock(d)
    lock.acquire(log=lambda m: None)
    assert lock.held


def test_status_file_is_rewritten_whole_and_printed(tmp_path):
    d = SweepDir(str(tmp_path))
    d.create()
    w = st.StatusWriter(d, "demo", total=100, done_before=20, every=1000.0)
    w.update(20, 0, 0, force=True)
    w.t0 -= 10.0  # ten seconds later ...
    w.update(40, 2, 1)  # throttled: not written
    assert json.loads(open(f"{d.root}/status.json").read())["done"] == 20
    w.update(40, 2, 1, force=True)
    got = json.loads(open(f"{d.root}/status.json").read())
    assert got["done"] == 40 and got["ran"] == 20 and got["failed"] == 2
    assert got["rate_jobs_per_s"] == pytest.approx(2.0, rel=0.05) and got["eta_s"] == pytest.approx(30, rel=0.05)
    assert [n for n in os.listdir(d.root) if n.endswith(".tmp")] == []
    text = st.describe(got)
    assert "40/100 done (40.0%)" in text and "2 failed" in text and "ETA: 0m30s" in text
    stale = {**got, "updated_at": "2020-01-01T00:00:00+00:00"}
    assert "probably killed" in st.describe(stale)
    out = subprocess.run([sys.executable, "-m", "sweeps.status", str(tmp_path)], capture_output=True, text=True)
    assert out.returncode == 0 and "40/100 done" in out.stdout
    # bad input is status 2 and one line, as for every script
    missing = subprocess.run([sys.executable, "-m", "sweeps.status", str(tmp_path / "nope")],
                             capture_output=True, text=True)
    assert missing.returncode == 2 and missing.stderr == f"error: no sweep directory {tmp_path / 'nope'}\n"
    (tmp_path / "empty").mkdir()
    empty = subprocess.run([sys.executable, "-m", "sweeps.status", str(tmp_path / "empty")],
                           capture_output=True, text=True)
    assert empty.returncode == 2 and empty.stderr.count("\n") == 1 and "no status file" in empty.stderr
