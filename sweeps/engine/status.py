"""Progress that outlives the driver's terminal, and the one-driver-per-``--out`` lock.

    python -m sweeps.status OUT          # one paragraph: done/total, rate, ETA, failures
    python -m sweeps.status OUT --json   # the status file itself
    python -m sweeps.status OUT --scan   # also count the result shards on disk (ground truth)

The driver rewrites ``OUT/status.json`` (``workers.layout.STATUS``) every few seconds, whole
(temporary + rename locally; a single PUT on S3, which becomes visible only when complete), so
a reader never sees half a file.  The file is informative only: completion is always decided
from the shards.

The lock ``OUT/driver.lock`` names the driver that owns OUT (host, pid, the pid's start time).
A second driver refuses in one line naming them, unless ``--force-lock`` (a deliberate
multi-driver run on shared storage: batches are named by their ids, so two drivers computing
the same batch rewrite the same shard and rows stay unique; redundant partial shards are set
aside at the end).  A lock is stale — taken over without asking — when its host is this host and
its pid is dead or reused (after a SIGKILL), or when the status file of another host's driver
has not been updated for ``STALE_S`` seconds.  Locally the lock is created
with O_EXCL (atomic); object stores have no create-if-absent through pyarrow, so there it is
written and read back (two drivers starting within the same second could both win).
"""
from __future__ import annotations

import datetime as dt
import json
import os
import socket
import time
import uuid
from typing import Any, Optional

from workers.layout import LOCK, STATUS
from workers.shards import SweepDir, storage_error

STATUS_EVERY_S = 3.0   # status rewrites; also the lock's heartbeat for other hosts
STALE_S = 120.0        # no status update for this long: the other host's driver is gone


class LockedError(RuntimeError):
    """Another live driver owns the sweep directory (one-line message)."""


def _now() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


def _iso(t: dt.datetime) -> str:
    return t.isoformat(timespec="seconds")


def pid_start(pid: int) -> Optional[str]:
    """The kernel's start time of ``pid`` (tells a live pid from a reused one); None if dead."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[19]
    except (OSError, IndexError):
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return None
        except PermissionError:
            return "?"
        return "?"  # alive, no /proc (macOS): cannot tell reuse


# ------------------------------------------------------------------------------ lock
class DriverLock:
    """``OUT/driver.lock`` held by this process (see the module docstring)."""

    def __init__(self, d: SweepDir) -> None:
        self.d = d
        self.me = {"host": socket.gethostname(), "pid": os.getpid(), "pid_start": pid_start(os.getpid()),
                   "token": uuid.uuid4().hex, "since": _iso(_now())}
        self.held = False

    @property
    def path(self) -> str:
        return f"{self.d.root}/{LOCK}"

    def holder(self) -> Optional[dict[str, Any]]:
        raw = self.d.read_small(LOCK)
        if raw is None:
            return None
        try:
            return json.loads(raw)
        except ValueError:
            return {}  # garbage (a torn write on a non-atomic store): treated as stale

    def alive(self, other: dict[str, Any]) -> bool:
        """Whether the driver named by ``other`` may still be running."""
        if not other or "pid" not in other:
            return False
        if other.get("host") == self.me["host"]:
            start = pid_start(int(other["pid"]))
            return start is not None and (start == "?" or other.get("pid_start") in (None, start))
        st = read_status(self.d)
        when = (st or {}).get("updated_at") or other.get("since")
        try:
            age = (_now() - dt.datetime.fromisoformat(when)).total_seconds()
        except (TypeError, ValueError):
            return False
        return age < STALE_S

    def acquire(self, force: bool = False, log=print) -> None:
        """Take the lock, or raise LockedError naming the live holder (``force``: take it anyway)."""
        data = json.dumps(self.me).encode()
        for _ in range(2):
            other = self.holder()
            if other is not None and other.get("token") != self.me["token"]:
                if self.alive(other) and not force:
                    raise LockedError(
                        f"{self.d.uri} is in use by the driver pid {other.get('pid')} on host "
                        f"{other.get('host')} (since {other.get('since')}); wait for it to finish, or "
                        "pass --force-lock if it is gone or you run several drivers on shared "
                        "storage on purpose")
                if self.alive(other):
                    log(f"warning: --force-lock: sharing {self.d.uri} with the driver pid "
                        f"{other.get('pid')} on {other.get('host')}")
                else:
                    log(f"note: the previous driver (pid {other.get('pid')} on {other.get('host')}) "
                        "is gone; taking over its lock")
                try:
                    self.d.fs.delete_file(self.path)
                except OSError:
                    pass
            if self.d.atomic_put:  # object store: last writer wins; read back to see who did
                self.d.write_small(LOCK, data)
                time.sleep(0.2)
                got = self.holder() or {}
                if got.get("token") == self.me["token"]:
                    self.held = True
                    return
                continue
            try:  # local / shared POSIX: O_EXCL makes "create if absent" atomic
                fd = os.open(self.path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
            except FileExistsError:
                continue  # someone raced us: look again
            except OSError as e:
                raise storage_error(self.path, e) from None
            try:
                os.write(fd, data)
            except OSError as e:
                os.close(fd)
                os.unlink(self.path)
                raise storage_error(self.path, e) from None
            os.close(fd)
            self.held = True
            return
        other = self.holder() or {}
        raise LockedError(f"{self.d.uri} is in use by the driver pid {other.get('pid')} on host "
                          f"{other.get('host')}; pass --force-lock to share it on purpose")

    def release(self) -> None:
        """Remove the lock if it is still ours."""
        if not self.held:
            return
        self.held = False
        try:
            if (self.holder() or {}).get("token") == self.me["token"]:
                self.d.fs.delete_file(self.path)
        except OSError:
            pass  # a full or vanished disk: the next driver sees a dead pid and takes over


# ------------------------------------------------------------------------------ status file
class StatusWriter:
    """Rewrites ``OUT/status.json`` at most every ``every`` seconds (and on ``final``)."""

    def __init__(self, d: SweepDir, sweep: str, total: int, done_before: int,
                 every: float = STATUS_EVERY_S) -> None:
        self.d, self.every = d, every
        self.t0 = time.monotonic()
        self.last = -1e9
        self.base = {"sweep": sweep, "out": d.uri, "host": socket.gethostname(), "pid": os.getpid(),
                     "started_at": _iso(_now()), "total": total, "done_before": done_before}

    def update(self, done: int, failed: int, refused: int, state: str = "running",
               message: Optional[str] = None, force: bool = False) -> None:
        now = time.monotonic()
        if not force and now - self.last < self.every:
            return
        self.last = now
        elapsed = now - self.t0
        ran = done - self.base["done_before"]
        rate = ran / elapsed if elapsed > 0 and ran > 0 else None
        left = self.base["total"] - done
        st = {**self.base, "state": state, "done": done, "ran": ran, "failed": failed, "refused": refused,
              "elapsed_s": round(elapsed, 1), "rate_jobs_per_s": None if rate is None else round(rate, 4),
              "eta_s": None if rate is None or state != "running" else round(left / rate, 1),
              "updated_at": _iso(_now()), "message": message}
        self.d.write_small(STATUS, (json.dumps(st, indent=1) + "\n").encode())


def read_status(d: SweepDir) -> Optional[dict[str, Any]]:
    """The status file's content, or None when there is none (or it is unreadable)."""
    try:
        raw = d.read_small(STATUS)
    except OSError:
        return None
    if raw is None:
        return None
    try:
        return json.loads(raw)
    except ValueError:
        return None


def _duration(s: Optional[float]) -> str:
    if s is None:
        return "unknown"
    s = int(round(s))
    h, m = divmod(s // 60, 60)
    return f"{h}h{m:02d}m" if h else f"{m}m{s % 60:02d}s"


def describe(st: dict[str, Any], now: Optional[dt.datetime] = None) -> str:
    """A short human summary of a status dict."""
    now = now or _now()
    total, done = st.get("total") or 0, st.get("done") or 0
    pct = 100.0 * done / total if total else 0.0
    try:
        age = (now - dt.datetime.fromisoformat(st["updated_at"])).total_seconds()
    except (KeyError, TypeError, ValueError):
        age = None
    rate = st.get("rate_jobs_per_s")
    lines = [f"sweep {st.get('sweep')} at {st.get('out')}: {st.get('state')} "
             f"(driver pid {st.get('pid')} on {st.get('host')}, started {st.get('started_at')})",
             f"jobs: {done}/{total} done ({pct:.1f}%), {st.get('ran', 0)} by this run, "
             f"{st.get('failed', 0)} failed (error rows), {st.get('refused', 0)} refused by the grader",
             f"rate: {'unknown' if rate is None else f'{rate:.3g} jobs/s'}; "
             f"ETA: {_duration(st.get('eta_s')) if st.get('state') == 'running' else '-'}; "
             f"updated {'?' if age is None else f'{age:.0f} s'} ago"]
    if st.get("state") == "running" and age is not None and age > STALE_S:
        lines.append(f"warning: no update for {_duration(age)}: the driver was probably killed; "
                     "rerun the same command to resume")
    if st.get("message"):
        lines.append(f"message: {st['message']}")
    return "\n".join(lines)
