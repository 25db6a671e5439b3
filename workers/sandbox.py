"""Run untrusted Python (model-written code) in a contained child process: the caller-side API.

docs/design.md §3 (Task, the sandbox paragraph): EvalPlus's ``reliability_guard`` patches ``os`` and
``subprocess`` inside the process under test and is, in its own words, not a security sandbox.  Here
untrusted code never runs in the caller's process; every call starts a fresh process tree:

    caller ──Popen(start_new_session)──> launcher (``workers/sandbox_launcher.py``, trusted,
        ``python -I -S``): joins the run's cgroups, sets rlimits, unshares the PID (and user)
        namespace, forks, and stays outside as watchdog and child subreaper
    launcher ──fork──> child (PID 1 of the new namespace): unshares mount/net/IPC/UTS, pivots into
        a minimal read-only root, drops privileges, setsid, ``execve(python -s -S main.py)``

Containment modes, strongest first; ``containment()`` probes once per process and records which one
works here (``DLLM_SANDBOX_MODE`` forces one):

``namespaces`` (caller is root): new mount, PID, network, IPC and UTS namespaces.  The program's
    root is a fresh read-only tmpfs holding only what the standard library needs: the interpreter's
    install tree (its ``site-packages`` hidden), the directory of the C libraries it links (the
    one libc lives in) and the dynamic loader, ``/dev/{null,zero,full,random,urandom}``, a
    private ``/proc`` (only the sandbox's processes) and private size-limited ``/tmp`` and
    ``/dev/shm`` (work dir and HOME live there and vanish with the namespace).  No project
    checkout, no datasets, no ``/etc``, no ``/home``, no shell.  No network interfaces; a fresh
    unprivileged uid (so RLIMIT_NPROC applies — root ignores it) with ``no_new_privs``.
``userns`` (unprivileged user namespaces): the same namespaces and minimal root inside a new user
    namespace; the program keeps the caller's uid (the only one mapped) but loses every capability
    (bounding set emptied), so it cannot undo the read-only mounts.
``bare`` (no namespaces): rlimits, own session, scrubbed environment, temp dir, the cgroups when
    available, a fresh uid when the caller is root; no network or filesystem isolation —
    recorded as such.  As root it refuses to run at all if the interpreter is unreachable by an
    unprivileged uid: without a PID namespace, root code could signal every process on the host.

Memory is bounded for the whole tree: a per-run memory cgroup (v1 ``memory.limit_in_bytes`` with
swap, or v2 ``memory.max`` with ``memory.swap.max=0``), created inside the caller's own cgroup,
holds every process of the run to ``Limits.memory_bytes`` together (``containment()["memory_cgroup"]``
says whether it holds here).  Without it only RLIMIT_AS bounds each process separately, so N
processes may reach N times the limit.  The same goes for ``pids.max``.

In every mode: RLIMIT_CPU/AS/FSIZE/NOFILE/CORE(0)/NPROC, a scrubbed environment (nothing inherited;
HOME inside the sandbox), ``PR_SET_PDEATHSIG`` so nothing survives its supervisor, the launcher as
child subreaper sweeping leftovers, and on timeout the program's process group is SIGKILLed (the
PID namespace dies with its init; the cgroups are swept).  Only the standard library is
importable (``-S``), the same on every machine.  Linux only.

``channel=True`` gives the program a dedicated descriptor (fd 3, a file only this run writes) whose
bytes come back as ``SandboxResult.channel``: a result stream apart from stdout.  Everything in it
was written by the program and must be parsed as untrusted data.

    from workers.sandbox import run_untrusted, containment
    r = run_untrusted("print(1 + 1)", timeout_s=5)
    r.ok, r.stdout, r.returncode, r.timed_out, r.mode, r.memory_peak_bytes, r.oom_killed
"""
from __future__ import annotations

import base64
import json
import logging
import math
import os
import random
import selectors
import shutil
import signal
import subprocess
import sys
import sysconfig
import tempfile
import threading
import time
from dataclasses import asdict, dataclass
from typing import Any, Mapping, Optional, Sequence, Union

__all__ = ["Limits", "SandboxResult", "run_untrusted", "containment", "MODES"]

log = logging.getLogger(__name__)

MODES = ("namespaces", "userns", "bare")

_SANDBOX_ROOT = "/tmp"              # inside the namespaces: a private tmpfs
_WORKDIR_NS = "/tmp/work"
_HOME_NS = "/tmp/home"
_LAUNCHER = os.path.join(os.path.dirname(os.path.abspath(__file__)), "sandbox_launcher.py")
_UID_BASE, _UID_SPAN = 1_500_000, 400_000  # fresh uid per run: nothing else owns files or processes


@dataclass(frozen=True)
class Limits:
    """Resource limits of one run.  CPU seconds follow the timeout (``ceil(timeout_s) + 1``)."""

    memory_bytes: int = 4 << 30        # the whole tree (memory cgroup); also RLIMIT_AS per process
    max_processes: int = 64            # RLIMIT_NPROC (per sandbox) and pids.max of the cgroup
    max_file_bytes: int = 64 << 20     # RLIMIT_FSIZE: largest file it may write
    max_open_files: int = 256          # RLIMIT_NOFILE
    tmpfs_bytes: int = 256 << 20       # private /tmp (work dir, HOME) in the namespace modes
    output_bytes: int = 1 << 20        # stdout/stderr kept per stream (head and tail)
    channel_bytes: int = 64 << 20      # result channel kept (head only; the rest is dropped)


@dataclass(frozen=True)
class SandboxResult:
    """What one run did.  ``returncode``: the program's exit status, ``-N`` when signal N killed it,
    None when it never ran.  ``error``: the sandbox itself failed (not the program's fault).
    ``memory_peak_bytes``: the whole tree's peak (None without a memory cgroup); ``oom_killed``:
    the tree hit ``Limits.memory_bytes`` and the kernel killed a process of it.  ``channel``: the
    bytes the program wrote to fd 3 (``run_untrusted(channel=True)``; None otherwise)."""

    returncode: Optional[int]
    stdout: str
    stderr: str
    timed_out: bool
    wall_s: float
    mode: str
    error: Optional[str] = None
    memory_peak_bytes: Optional[int] = None
    oom_killed: bool = False
    channel: Optional[bytes] = None

    @property
    def ok(self) -> bool:
        return self.error is None and not self.timed_out and self.returncode == 0


# ----------------------------------------------------------------------------------------------
# caller side
# ----------------------------------------------------------------------------------------------
def _lib_dirs() -> list[str]:
    """Where the C libraries of the interpreter and its standard extensions live: the directory
    holding this process's libc (Debian's multiarch dir, ``/usr/lib64``, ...)."""
    dirs: list[str] = []
    try:
        with open("/proc/self/maps") as f:
            for line in f:
                path = line.split(None, 5)[-1].strip() if line.count(" ") >= 5 else ""
                base = os.path.basename(path)
                if base.startswith("libc.so") or base.startswith("libc-"):
                    d = os.path.dirname(path)
                    # without merged /usr, libc sits in /lib/<arch> and libssl & co. in /usr/lib/<arch>
                    twin = d[4:] if d.startswith("/usr/lib") else "/usr" + d if d.startswith("/lib") else None
                    for x in (d, twin):
                        if x and x not in dirs and os.path.isdir(x):
                            dirs.append(x)
    except OSError:
        pass
    return dirs or [d for d in ("/lib", "/lib64", "/usr/lib", "/usr/lib64") if os.path.isdir(d)]


def _python_layout() -> dict:
    """How the sandbox finds an interpreter: the real binary relative to its install prefix (bound
    at ``/python`` in the namespace modes), whether it needs its shared libpython, the
    ``site-packages`` directories to hide and the system library directories to expose."""
    exe = os.path.realpath(sys.executable)
    prefix = os.path.realpath(sys.base_prefix)
    rel = os.path.relpath(exe, prefix)
    shared = bool(sysconfig.get_config_var("Py_ENABLE_SHARED"))
    hide = []
    libdir = os.path.join(prefix, "lib")
    if os.path.isdir(libdir):
        for d in sorted(os.listdir(libdir)):
            for sub in ("site-packages", "dist-packages"):
                if d.startswith("python") and os.path.isdir(os.path.join(libdir, d, sub)):
                    hide.append(f"lib/{d}/{sub}")
    return {"exe": exe, "prefix": prefix, "rel": None if rel.startswith("..") else rel,
            "shared_lib": shared and os.path.isdir(libdir), "hide": hide, "lib_dirs": _lib_dirs()}


def _others_can_run(path: str) -> bool:
    """Whether a uid with no ownership can reach and execute ``path`` (world x on every directory,
    world r+x on the file) — used by the bare mode before dropping privileges."""
    try:
        st = os.stat(path)
        if not (st.st_mode & 0o005) == 0o005:
            return False
        d = os.path.dirname(path)
        while True:
            if not os.stat(d).st_mode & 0o001:
                return False
            parent = os.path.dirname(d)
            if parent == d:
                return True
            d = parent
    except OSError:
        return False


class _TreeCgroup:
    """Per-run cgroups bounding the whole process tree: ``pids.max`` and a memory limit for every
    process of the run together (cgroup v1 ``pids`` and ``memory`` hierarchies, or one v2 cgroup
    when those controllers are delegated).  Each is created as a child of the caller's own cgroup,
    so any limit the caller is under still applies.  Best-effort: a controller this process may
    not use is left out (``pids`` / ``memory`` say which ones hold)."""

    def __init__(self, paths: list[tuple[str, str]]):
        self.paths = paths                      # (controller or "v2", path)
        self.pids = any(c in ("pids", "v2-pids") for c, _ in paths)
        self.memory = any(c in ("memory", "v2-memory") for c, _ in paths)

    @staticmethod
    def _own() -> dict[str, str]:
        """controller -> this process's cgroup path (``"v2"`` for the unified hierarchy)."""
        own: dict[str, str] = {}
        try:
            with open("/proc/self/cgroup") as f:
                for line in f:
                    _, ctrls, path = line.rstrip("\n").split(":", 2)
                    for c in (ctrls.split(",") if ctrls else ["v2"]):
                        own[c] = path.rstrip("/")
        except (OSError, ValueError):
            pass
        return own

    @classmethod
    def create(cls, max_pids: int, memory_bytes: int) -> Optional["_TreeCgroup"]:
        name = f"dllm-sbx-{os.getpid()}-{random.getrandbits(40):010x}"
        own = cls._own()
        made: list[tuple[str, str]] = []
        v1 = {"pids": [("pids.max", str(int(max_pids)))],
              "memory": [("memory.limit_in_bytes", str(int(memory_bytes))),
                         ("memory.memsw.limit_in_bytes", str(int(memory_bytes)))]}  # no swap either
        for ctrl, settings in v1.items():
            bases = [f"/sys/fs/cgroup/{ctrl}" + own.get(ctrl, "")]
            if ctrl == "pids":  # (as before); memory only nested, never outside the caller's limit
                bases.append("/sys/fs/cgroup/pids")
            for base in dict.fromkeys(bases):
                path = cls._mkdir(base, name)
                if path is None:
                    continue
                if cls._write(path, settings[0]) and (len(settings) < 2 or
                                                      cls._write(path, settings[1], optional=True)):
                    made.append((ctrl, path))
                    break
                cls([(ctrl, path)]).destroy()
        if "v2" in own:
            unified = "/sys/fs/cgroup" if os.path.exists("/sys/fs/cgroup/cgroup.controllers") \
                else "/sys/fs/cgroup/unified"
            path = cls._mkdir(unified + own["v2"], name)
            if path is not None:
                kinds = []
                if not any(c == "pids" for c, _ in made) and cls._write(path, ("pids.max", str(int(max_pids)))):
                    kinds.append("v2-pids")
                if not any(c == "memory" for c, _ in made) and cls._write(path, ("memory.max", str(int(memory_bytes)))):
                    cls._write(path, ("memory.swap.max", "0"), optional=True)
                    cls._write(path, ("memory.oom.group", "1"), optional=True)  # one OOM ends the run
                    kinds.append("v2-memory")
                if kinds:
                    made.extend((k, path) for k in kinds)
                else:
                    cls([("v2", path)]).destroy()
        return cls(made) if made else None

    @classmethod
    def _mkdir(cls, base: str, name: str) -> Optional[str]:
        try:
            if not os.path.exists(os.path.join(base, "cgroup.procs")):
                return None
            os.mkdir(os.path.join(base, name))
        except OSError:
            return None
        cls._sweep_stale(base)
        return os.path.join(base, name)

    @staticmethod
    def _write(path: str, setting: tuple[str, str], optional: bool = False) -> bool:
        try:
            with open(os.path.join(path, setting[0]), "w") as f:
                f.write(setting[1])
            return True
        except OSError:
            return optional and not os.path.exists(os.path.join(path, setting[0]))

    @classmethod
    def _sweep_stale(cls, base: str) -> None:
        """Remove cgroups left by callers that died mid-run (their pid is in the name)."""
        try:
            names = [n for n in os.listdir(base) if n.startswith("dllm-sbx-")]
        except OSError:
            return
        for n in names:
            try:
                owner = int(n.split("-")[2])
            except (IndexError, ValueError):
                continue
            if owner != os.getpid() and not os.path.exists(f"/proc/{owner}"):
                cls([("stale", os.path.join(base, n))]).destroy()

    def add(self, pid: int) -> None:
        for path in dict.fromkeys(p for _, p in self.paths):
            with open(os.path.join(path, "cgroup.procs"), "w") as f:
                f.write(str(pid))

    def _read(self, name: str) -> str:
        for _, path in self.paths:
            try:
                with open(os.path.join(path, name)) as f:
                    return f.read()
            except OSError:
                continue
        return ""

    def memory_report(self) -> tuple[Optional[int], bool]:
        """(peak bytes of the whole tree or None, whether the OOM killer fired in it)."""
        peak: Optional[int] = None
        for name in ("memory.max_usage_in_bytes", "memory.peak"):
            text = self._read(name).strip()
            if text.isdigit():
                peak = int(text)
                break
        oom = False
        for name in ("memory.oom_control", "memory.events"):
            for line in self._read(name).splitlines():
                key, _, val = line.partition(" ")
                if key == "oom_kill" and val.strip().isdigit() and int(val) > 0:
                    oom = True
        return peak, oom

    def _procs(self, path: str) -> list[int]:
        try:
            with open(os.path.join(path, "cgroup.procs")) as f:
                return [int(x) for x in f.read().split()]
        except (OSError, ValueError):
            return []

    def destroy(self) -> None:
        """SIGKILL everything still in the cgroups, then remove them."""
        for path in dict.fromkeys(p for _, p in self.paths):
            deadline = time.monotonic() + 5.0
            while time.monotonic() < deadline:
                pids = self._procs(path)
                if not pids:
                    break
                for pid in pids:
                    try:
                        os.kill(pid, signal.SIGKILL)
                    except OSError:
                        pass
                time.sleep(0.01)
            for _ in range(100):
                try:
                    os.rmdir(path)
                    break
                except FileNotFoundError:
                    break
                except OSError:
                    time.sleep(0.01)
            else:
                log.warning("sandbox: could not remove cgroup %s", path)


def _clip(data: bytes, limit: int) -> str:
    if len(data) > limit:
        half = limit // 2
        data = data[:half] + b"\n...[output clipped]...\n" + data[-half:]
    return data.decode("utf-8", errors="replace")


def _read_clipped(path: str, limit: int) -> str:
    try:
        size = os.path.getsize(path)
        with open(path, "rb") as f:
            if size <= limit:
                return _clip(f.read(), limit)
            head = f.read(limit // 2)
            f.seek(size - limit // 2)
            return _clip(head + b"\n...[output clipped]...\n" + f.read(), limit + 64)
    except OSError:
        return ""


def run_untrusted(code: str, timeout_s: float = 10.0, *, files: Optional[Mapping[str, Union[str, bytes]]] = None,
                  stdin: Union[str, bytes] = b"", argv: Sequence[str] = (), limits: Optional[Limits] = None,
                  mode: Optional[str] = None, channel: bool = False) -> SandboxResult:
    """Run ``code`` as ``main.py`` (with ``files`` beside it) in a fresh sandbox; never raises on
    anything the code does.  ``timeout_s``: wall-clock limit (CPU limit = ``ceil(timeout_s) + 1``).
    ``mode``: force a containment mode (default: the strongest that works here).  ``channel``:
    open fd 3 for the program as a private result stream (``SandboxResult.channel``)."""
    limits = limits or Limits()
    if mode is None:
        mode = containment()["mode"]
    if mode not in MODES:
        raise ValueError(f"unknown sandbox mode {mode!r}; known: {', '.join(MODES)}")
    names = dict(files or {})
    names["main.py"] = code
    for n in names:
        if not n or "/" in n or n.startswith(".") or n in ("home",):
            raise ValueError(f"sandbox file name {n!r} must be a plain name")
    t0 = time.monotonic()
    is_root = os.geteuid() == 0
    py = _python_layout()
    uid = None
    if is_root and (mode == "namespaces" or (mode == "bare" and _others_can_run(py["exe"]))):
        uid = _pick_uid()
    if is_root and mode == "bare" and uid is None:
        # no namespaces and no other uid: the program would be real root (kill(-1), rm -rf /)
        return SandboxResult(None, "", "", False, 0.0, mode,
                             f"sandbox setup failed (bare): refusing to run untrusted code as root; "
                             f"{py['exe']} is not reachable by an unprivileged uid")
    private = tempfile.mkdtemp(prefix="dllm-sbx-")
    cfg: dict[str, Any] = {
        "mode": mode,
        "files": {n: base64.b64encode(v.encode("utf-8") if isinstance(v, str) else bytes(v)).decode("ascii")
                  for n, v in names.items()},
        "stdin": base64.b64encode(stdin.encode("utf-8") if isinstance(stdin, str) else bytes(stdin)).decode("ascii"),
        "argv": [str(a) for a in argv],
        "wall_s": float(timeout_s),
        "cpu_s": int(math.ceil(timeout_s)) + 1,
        "limits": asdict(limits),
        "uid": uid,
        "python": py,
    }
    if mode == "bare":
        work, home, tmp = (os.path.join(private, d) for d in ("work", "home", "tmp"))
        for d in (work, home, tmp):
            os.mkdir(d, 0o700)
            if uid is not None:
                os.chown(d, uid, uid)
        if uid is not None:
            os.chmod(private, 0o711)  # traversable, not listable
        cfg.update(workdir=work, home=home, tmp=tmp)
    else:
        newroot = os.path.join(private, "root")  # the tmpfs of the minimal root is mounted here
        os.mkdir(newroot, 0o700)
        cfg.update(workdir=_WORKDIR_NS, home=_HOME_NS, tmp=_SANDBOX_ROOT, newroot=newroot)
    out_path, err_path = os.path.join(private, "stdout"), os.path.join(private, "stderr")
    chan_path = os.path.join(private, "channel")
    chan_fd: Optional[int] = None
    if channel:
        # a file, not a pipe: the program never blocks on it and the launcher need not relay it
        chan_fd = os.open(chan_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o600)
        cfg["channel_fd"] = chan_fd
    cfg_path = os.path.join(private, "config.json")
    fd = os.open(cfg_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as f:
        json.dump(cfg, f)
    status_r, status_w = os.pipe()
    cgroup = _TreeCgroup.create(limits.max_processes + 2, limits.memory_bytes)
    peak: Optional[int] = None
    oom = False
    proc: Optional[subprocess.Popen] = None
    timed_out = False
    try:
        with open(out_path, "wb") as fout, open(err_path, "wb") as ferr:
            try:
                proc = subprocess.Popen(
                    [sys.executable, "-I", "-S", _LAUNCHER, cfg_path, str(status_w)],
                    stdin=subprocess.PIPE, stdout=fout, stderr=ferr, cwd=private,
                    pass_fds=(status_w,) if chan_fd is None else (status_w, chan_fd),
                    env={"PATH": "/usr/bin:/bin", "LANG": "C.UTF-8"}, start_new_session=True)
            finally:
                os.close(status_w)
                if chan_fd is not None:
                    os.close(chan_fd)
            try:
                if cgroup is not None:
                    cgroup.add(proc.pid)   # before "go": everything it starts is counted
            except OSError:
                cgroup.destroy()
                cgroup = None
            try:
                proc.stdin.write(b"g")
                proc.stdin.close()
            except OSError:
                pass
            try:
                proc.wait(timeout=timeout_s + 10.0)  # the launcher's own watchdog fires first
            except subprocess.TimeoutExpired:
                timed_out = True
                _killpg(proc.pid)
                proc.wait()
        status = _read_status(status_r)
    finally:
        os.close(status_r)
        if proc is not None and proc.returncode is None:  # interrupted: end the whole session
            _killpg(proc.pid)  # (only before reaping: afterwards the pid may belong to another)
            proc.wait()
        if cgroup is not None:
            peak, oom = cgroup.memory_report()
            cgroup.destroy()
        chan = _read_head(chan_path, limits.channel_bytes) if channel else None
        stdout = _read_clipped(out_path, limits.output_bytes)
        stderr = _read_clipped(err_path, limits.output_bytes)
        shutil.rmtree(private, ignore_errors=True)
    wall = time.monotonic() - t0
    rc: Optional[int] = None
    error = None
    if "setup_error" in status:
        error = f"sandbox setup failed ({mode}): {status['setup_error']}"
    elif "exit" in status:
        rc = int(status["exit"])
    elif "signal" in status:
        rc = -int(status["signal"])
    elif proc is not None and proc.returncode is not None and proc.returncode < 0:
        rc = proc.returncode  # the supervisor itself was killed (e.g. by the program): a failure
        stderr += f"\n[sandbox: supervisor killed by signal {-rc}]"
    else:
        error = f"sandbox ({mode}) reported no status (launcher exit {proc.returncode if proc else None})"
        tail = stderr.strip().splitlines()
        if tail:
            error += f": {tail[-1][:200]}"
    timed_out = timed_out or bool(status.get("timed_out"))
    return SandboxResult(rc, stdout, stderr, timed_out, wall, mode, error, peak, oom, chan)


def _read_head(path: str, limit: int) -> bytes:
    try:
        with open(path, "rb") as f:
            return f.read(limit)
    except OSError:
        return b""


def _pick_uid() -> int:
    info = _CONTAINMENT
    if info is not None and info.get("uid_range") == "nobody":
        return 65534
    return _UID_BASE + random.randrange(_UID_SPAN)


def _killpg(pid: int) -> None:
    try:
        os.killpg(pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError, OSError):
        pass


def _read_status(fd: int) -> dict:
    """The launcher's last JSON line on the private status pipe (empty dict if none)."""
    buf = b""
    deadline = time.monotonic() + 2.0
    # selectors (poll/epoll), not select.select: a Ray worker may hold descriptors above 1024
    with selectors.DefaultSelector() as sel:
        sel.register(fd, selectors.EVENT_READ)
        while time.monotonic() < deadline:
            if not sel.select(max(0.0, deadline - time.monotonic())):
                break
            chunk = os.read(fd, 65536)
            if not chunk:
                break
            buf += chunk
    status: dict = {}
    for line in buf.decode("utf-8", errors="replace").splitlines():
        try:
            status.update(json.loads(line))
        except ValueError:
            pass
    return status


# ----------------------------------------------------------------------------------------------
# probing
# ----------------------------------------------------------------------------------------------
_CONTAINMENT: Optional[dict] = None
_PROBE_LOCK = threading.Lock()


def containment(refresh: bool = False) -> dict:
    """Which containment works here (probed once per process by running ``print('ok')``):
    ``{"mode", "network_isolated", "pid_namespace", "readonly_filesystem", "minimal_root", "uid",
    "pids_cgroup", "memory_cgroup", "stdlib_missing", "fallbacks": {mode: why it failed}}``.  ``DLLM_SANDBOX_MODE`` forces a mode."""
    global _CONTAINMENT
    with _PROBE_LOCK:
        if _CONTAINMENT is not None and not refresh:
            return dict(_CONTAINMENT)
        forced = os.environ.get("DLLM_SANDBOX_MODE", "").strip()
        if forced and forced not in MODES:
            raise ValueError(f"DLLM_SANDBOX_MODE={forced!r}; known: {', '.join(MODES)}")
        candidates = [forced] if forced else [m for m in MODES if m != "namespaces" or os.geteuid() == 0]
        fallbacks: dict[str, str] = {}
        info: Optional[dict] = None
        _CONTAINMENT = {"uid_range": "fresh"}
        for m in candidates:
            ok, why = _probe(m)
            if not ok and m == "namespaces":
                _CONTAINMENT = {"uid_range": "nobody"}  # e.g. only 65536 uids mapped here
                ok, why2 = _probe(m)
                why = why if ok else f"{why}; with uid 65534: {why2}"
            if ok:
                info = _describe(m)
                break
            fallbacks[m] = why
            _CONTAINMENT = {"uid_range": "fresh"}
        if info is None:
            _CONTAINMENT = None  # probe again next time
            raise RuntimeError("sandbox: no containment mode works here: "
                               + "; ".join(f"{k}: {v}" for k, v in fallbacks.items()))
        info["fallbacks"] = fallbacks
        info["uid_range"] = _CONTAINMENT.get("uid_range", "fresh")
        _CONTAINMENT = info
        info["stdlib_missing"] = _stdlib_missing(info["mode"])
        if info["stdlib_missing"]:
            log.warning("sandbox: standard-library extensions importable here but not in the sandbox's "
                        "minimal root (a C library it does not expose): %s", ", ".join(info["stdlib_missing"]))
        msg = ("sandbox: %s mode (network isolated: %s, read-only minimal root: %s, uid: %s, pids "
               "cgroup: %s, memory cgroup (whole tree): %s)")
        args = (info["mode"], info["network_isolated"], info["readonly_filesystem"], info["uid"],
                info["pids_cgroup"], info["memory_cgroup"])
        if fallbacks and not forced:
            log.warning(msg + "; stronger modes unavailable: %s", *args, fallbacks)
        else:
            log.info(msg, *args)
        return dict(info)


_STDLIB_EXTENSIONS = ("_ssl", "_hashlib", "_ctypes", "_decimal", "_sqlite3", "_lzma", "_bz2", "zlib",
                      "pyexpat", "_uuid", "_multiprocessing", "_json", "_socket", "select", "math")


def _stdlib_missing(mode: str) -> list[str]:
    """Extension modules of the standard library that this interpreter has but the sandbox
    cannot import (the minimal root lacks a library they link): logged, never fatal."""
    import importlib.util

    here = [m for m in _STDLIB_EXTENSIONS if importlib.util.find_spec(m) is not None]
    code = ("import importlib, sys\nfor m in sys.argv[1:]:\n    try:\n        importlib.import_module(m)\n"
            "    except ImportError:\n        print(m)\n")
    r = run_untrusted(code, 20.0, argv=here, mode=mode)
    return r.stdout.split() if r.ok else [f"(probe failed: {r.error or r.returncode})"]


def _probe(mode: str) -> tuple[bool, str]:
    try:
        r = run_untrusted("print('ok')", timeout_s=20.0, mode=mode)
    except Exception as e:  # noqa: BLE001 - any failure means "not this mode"
        return False, f"{type(e).__name__}: {e}"
    if r.ok and r.stdout.strip() == "ok":
        return True, ""
    why = r.error or f"exit {r.returncode}: {(r.stderr.strip().splitlines() or [''])[-1][:200]}"
    return False, why


def _describe(mode: str) -> dict:
    is_root = os.geteuid() == 0
    ns = mode != "bare"
    cg = _TreeCgroup.create(4, 64 << 20)
    if cg is not None:
        cg.destroy()
    if mode == "namespaces":
        uid = "fresh unprivileged uid per run"
    elif mode == "bare" and is_root and _others_can_run(_python_layout()["exe"]):
        uid = "fresh unprivileged uid per run"
    elif mode == "userns":
        uid = "caller's uid, no capabilities"
    else:
        uid = "caller's uid" + (" (root: RLIMIT_NPROC not enforced)" if is_root else "")
    return {"mode": mode, "network_isolated": ns, "pid_namespace": ns, "readonly_filesystem": ns,
            "minimal_root": ns, "uid": uid, "pids_cgroup": cg is not None and cg.pids,
            "memory_cgroup": cg is not None and cg.memory}
