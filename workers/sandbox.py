"""Run untrusted Python (model-written code) in a contained child process.

DESIGN.md §3 (Task, the sandbox paragraph): EvalPlus's ``reliability_guard`` patches ``os`` and
``subprocess`` inside the process under test and is, in its own words, not a security sandbox.  Here
untrusted code never runs in the caller's process; every call starts a fresh process tree:

    caller ──Popen(start_new_session)──> launcher (this file, trusted, ``python -I -S``)
        joins a pids cgroup (when the caller may create one), sets rlimits, unshares the PID (and
        user) namespace, forks, and stays outside as watchdog and child subreaper: wall-clock
        limit, exit status on a private pipe, then kills and reaps every leftover descendant
    launcher ──fork──> child (PID 1 of the new namespace): unshares mount/net/IPC/UTS, mounts,
        drops privileges, setsid, ``execve(python -s -S main.py)``

Containment modes, strongest first; ``containment()`` probes once per process and records which one
works here (``DLLM_SANDBOX_MODE`` forces one):

``namespaces`` (caller is root): new mount, PID, network, IPC and UTS namespaces.  Every mount is
    re-mounted read-only, ``/tmp``, ``/var/tmp`` and ``/dev/shm`` become private size-limited tmpfs
    (the working directory and HOME live there and vanish with the namespace), ``/proc`` shows only
    the sandbox, the network has no interfaces, and the program runs as a fresh unprivileged uid
    (so RLIMIT_NPROC applies — root ignores it) with ``no_new_privs``.  The interpreter's install
    tree is bind-mounted read-only at a neutral path, because it may sit under a home the uid
    cannot traverse (``/root/.pyenv`` here).
``userns`` (unprivileged user namespaces): the same namespaces inside a new user namespace; the
    program keeps the caller's uid (the only one mapped) but loses every capability (bounding set
    emptied), so it cannot undo the read-only mounts.
``bare`` (no namespaces): rlimits, own session, scrubbed environment, temp dir, the pids cgroup
    when available, a fresh uid when the caller is root; no network or filesystem isolation —
    recorded as such.  As root it refuses to run at all if the interpreter is unreachable by an
    unprivileged uid: without a PID namespace, root code could signal every process on the host.

In every mode: RLIMIT_CPU/AS/FSIZE/NOFILE/CORE(0)/NPROC, a scrubbed environment (nothing inherited;
HOME inside the sandbox), ``PR_SET_PDEATHSIG`` so nothing survives its supervisor, the launcher as
child subreaper sweeping leftovers, and on timeout the program's process group is SIGKILLed (the
PID namespace dies with its init; the pids cgroup is swept).  Only the standard library is
importable (``-S``), the same on every machine.  Linux only.

    from workers.sandbox import run_untrusted, containment
    r = run_untrusted("print(1 + 1)", timeout_s=5)
    r.ok, r.stdout, r.returncode, r.timed_out, r.mode
"""
from __future__ import annotations

import base64
import ctypes
import json
import logging
import math
import os
import random
import resource
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

# linux constants (not all exposed by the os module on Python 3.10/3.11)
_CLONE_NEWNS, _CLONE_NEWUTS, _CLONE_NEWIPC = 0x00020000, 0x04000000, 0x08000000
_CLONE_NEWUSER, _CLONE_NEWPID, _CLONE_NEWNET = 0x10000000, 0x20000000, 0x40000000
_MS_RDONLY, _MS_NOSUID, _MS_NODEV, _MS_NOEXEC = 1, 2, 4, 8
_MS_REMOUNT, _MS_NOATIME, _MS_NODIRATIME, _MS_BIND = 32, 1024, 2048, 4096
_MS_REC, _MS_PRIVATE, _MS_RELATIME = 16384, 1 << 18, 1 << 21
_PR_SET_PDEATHSIG, _PR_CAPBSET_DROP, _PR_SET_CHILD_SUBREAPER, _PR_SET_NO_NEW_PRIVS = 1, 24, 36, 38
_PR_CAP_AMBIENT, _PR_CAP_AMBIENT_CLEAR_ALL = 47, 4
_CAP_VERSION_3 = 0x20080522

_SANDBOX_ROOT = "/tmp"              # inside the namespaces: a private tmpfs
_WORKDIR_NS = "/tmp/work"
_HOME_NS = "/tmp/home"
_PYTHON_NS = "/tmp/.sbx-python"    # read-only bind of the interpreter's install tree
_UID_BASE, _UID_SPAN = 1_500_000, 400_000  # fresh uid per run: nothing else owns files or processes


@dataclass(frozen=True)
class Limits:
    """Resource limits of one run.  CPU seconds follow the timeout (``ceil(timeout_s) + 1``)."""

    memory_bytes: int = 4 << 30        # RLIMIT_AS
    max_processes: int = 64            # RLIMIT_NPROC (per sandbox) and pids.max of the cgroup
    max_file_bytes: int = 64 << 20     # RLIMIT_FSIZE: largest file it may write
    max_open_files: int = 256          # RLIMIT_NOFILE
    tmpfs_bytes: int = 256 << 20       # private /tmp (work dir, HOME) in the namespace modes
    output_bytes: int = 1 << 20        # stdout/stderr kept per stream (head and tail)


@dataclass(frozen=True)
class SandboxResult:
    """What one run did.  ``returncode``: the program's exit status, ``-N`` when signal N killed it,
    None when it never ran.  ``error``: the sandbox itself failed (not the program's fault)."""

    returncode: Optional[int]
    stdout: str
    stderr: str
    timed_out: bool
    wall_s: float
    mode: str
    error: Optional[str] = None

    @property
    def ok(self) -> bool:
        return self.error is None and not self.timed_out and self.returncode == 0


# ----------------------------------------------------------------------------------------------
# caller side
# ----------------------------------------------------------------------------------------------
def _python_layout() -> dict:
    """How the sandbox finds an interpreter: the real binary relative to its install prefix (bound
    at ``_PYTHON_NS`` in the namespaces mode) and whether it needs its shared libpython."""
    exe = os.path.realpath(sys.executable)
    prefix = os.path.realpath(sys.base_prefix)
    rel = os.path.relpath(exe, prefix)
    shared = bool(sysconfig.get_config_var("Py_ENABLE_SHARED"))
    return {"exe": exe, "prefix": prefix, "rel": None if rel.startswith("..") else rel,
            "shared_lib": shared and os.path.isdir(os.path.join(prefix, "lib"))}


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


class _PidsCgroup:
    """A per-run pids cgroup (v1 ``pids`` hierarchy, or a v2 child of our own cgroup when the
    controller is delegated).  Best-effort: None when this process may not create one."""

    def __init__(self, path: str):
        self.path = path

    @classmethod
    def create(cls, limit: int) -> Optional["_PidsCgroup"]:
        name = f"dllm-sbx-{os.getpid()}-{random.getrandbits(40):010x}"
        bases = ["/sys/fs/cgroup/pids"]
        try:
            with open("/proc/self/cgroup") as f:
                for line in f:
                    if line.startswith("0::"):
                        bases.append("/sys/fs/cgroup" + line[3:].strip().rstrip("/"))
        except OSError:
            pass
        for base in bases:
            path = os.path.join(base, name)
            try:
                if not os.path.exists(os.path.join(base, "cgroup.procs")):
                    continue
                os.mkdir(path)
            except OSError:
                continue
            cls._sweep_stale(base)
            try:
                with open(os.path.join(path, "pids.max"), "w") as f:
                    f.write(str(int(limit)))
                return cls(path)
            except OSError:
                try:
                    os.rmdir(path)
                except OSError:
                    pass
        return None

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
                cls(os.path.join(base, n)).destroy()

    def add(self, pid: int) -> None:
        with open(os.path.join(self.path, "cgroup.procs"), "w") as f:
            f.write(str(pid))

    def pids(self) -> list[int]:
        try:
            with open(os.path.join(self.path, "cgroup.procs")) as f:
                return [int(x) for x in f.read().split()]
        except (OSError, ValueError):
            return []

    def destroy(self) -> None:
        """SIGKILL everything still in the cgroup, then remove it."""
        deadline = time.monotonic() + 5.0
        while time.monotonic() < deadline:
            pids = self.pids()
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
                os.rmdir(self.path)
                return
            except FileNotFoundError:
                return
            except OSError:
                time.sleep(0.01)
        log.warning("sandbox: could not remove cgroup %s", self.path)


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


def _untrusted_env(home: str, tmp: str, ld_path: Optional[str]) -> dict:
    """The program's whole environment: nothing inherited from the caller (no tokens, no keys)."""
    env = {
        "PATH": "/usr/local/bin:/usr/bin:/bin",
        "HOME": home,
        "TMPDIR": tmp,
        "LANG": "C.UTF-8",
        "LC_ALL": "C.UTF-8",
        "PYTHONHASHSEED": "0",          # set/dict order of str the same on every run
        "PYTHONDONTWRITEBYTECODE": "1",
        "PYTHONIOENCODING": "utf-8",
        "OMP_NUM_THREADS": "1",
        "OPENBLAS_NUM_THREADS": "1",
        "MKL_NUM_THREADS": "1",
    }
    if ld_path:
        env["LD_LIBRARY_PATH"] = ld_path
    return env


def run_untrusted(code: str, timeout_s: float = 10.0, *, files: Optional[Mapping[str, Union[str, bytes]]] = None,
                  stdin: Union[str, bytes] = b"", argv: Sequence[str] = (), limits: Optional[Limits] = None,
                  mode: Optional[str] = None) -> SandboxResult:
    """Run ``code`` as ``main.py`` (with ``files`` beside it) in a fresh sandbox; never raises on
    anything the code does.  ``timeout_s``: wall-clock limit (CPU limit = ``ceil(timeout_s) + 1``).
    ``mode``: force a containment mode (default: the strongest that works here)."""
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
        cfg.update(workdir=_WORKDIR_NS, home=_HOME_NS, tmp=_SANDBOX_ROOT)
    cfg_path = os.path.join(private, "config.json")
    fd = os.open(cfg_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as f:
        json.dump(cfg, f)
    out_path, err_path = os.path.join(private, "stdout"), os.path.join(private, "stderr")
    status_r, status_w = os.pipe()
    cgroup = _PidsCgroup.create(limits.max_processes + 2) if is_root else None
    proc: Optional[subprocess.Popen] = None
    timed_out = False
    try:
        with open(out_path, "wb") as fout, open(err_path, "wb") as ferr:
            try:
                proc = subprocess.Popen(
                    [sys.executable, "-I", "-S", os.path.abspath(__file__), "--launch", cfg_path, str(status_w)],
                    stdin=subprocess.PIPE, stdout=fout, stderr=ferr, cwd=private, pass_fds=(status_w,),
                    env={"PATH": "/usr/bin:/bin", "LANG": "C.UTF-8"}, start_new_session=True)
            finally:
                os.close(status_w)
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
            cgroup.destroy()
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
    return SandboxResult(rc, stdout, stderr, timed_out, wall, mode, error)


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
    ``{"mode", "network_isolated", "pid_namespace", "readonly_filesystem", "uid", "pids_cgroup",
    "fallbacks": {mode: why it failed}}``.  ``DLLM_SANDBOX_MODE`` forces a mode."""
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
        msg = ("sandbox: %s mode (network isolated: %s, read-only filesystem: %s, uid: %s, pids "
               "cgroup: %s)")
        args = (info["mode"], info["network_isolated"], info["readonly_filesystem"], info["uid"],
                info["pids_cgroup"])
        if fallbacks and not forced:
            log.warning(msg + "; stronger modes unavailable: %s", *args, fallbacks)
        else:
            log.info(msg, *args)
        return dict(info)


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
    cg = _PidsCgroup.create(4) if is_root else None
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
            "uid": uid, "pids_cgroup": cg is not None}


# ----------------------------------------------------------------------------------------------
# launcher side (runs as ``python -I -S sandbox.py --launch CONFIG STATUS_FD``; stdlib only)
# ----------------------------------------------------------------------------------------------
def _libc():
    return ctypes.CDLL(None, use_errno=True)


def _check(ret: int, what: str) -> None:
    if ret != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"{what}: {os.strerror(err)}")


def _mount(libc, src: Optional[str], target: str, fstype: Optional[str], flags: int,
           data: Optional[str] = None) -> None:
    enc = (lambda s: s.encode() if s is not None else None)
    _check(libc.mount(enc(src), enc(target), enc(fstype), ctypes.c_ulong(flags), enc(data)),
           f"mount {target}")


def _mount_points() -> list[str]:
    points = []
    with open("/proc/self/mountinfo") as f:
        for line in f:
            mp = line.split()[4]
            # mountinfo escapes space, tab, newline and backslash as octal
            for esc, ch in (("\\040", " "), ("\\011", "\t"), ("\\012", "\n"), ("\\134", "\\")):
                mp = mp.replace(esc, ch)
            points.append(mp)
    return points


def _readonly_everything(libc) -> None:
    """Bind-remount every mount read-only, keeping its other flags (a user namespace may not
    change locked nosuid/nodev/noexec/atime flags).  ``/`` must succeed; others are best-effort."""
    keep = [(os.ST_NOSUID, _MS_NOSUID), (os.ST_NODEV, _MS_NODEV), (os.ST_NOEXEC, _MS_NOEXEC),
            (os.ST_NOATIME, _MS_NOATIME), (os.ST_NODIRATIME, _MS_NODIRATIME),
            (os.ST_RELATIME, _MS_RELATIME)]
    for mp in _mount_points():
        if mp == "/proc" or mp.startswith("/proc/"):
            continue
        try:
            st = os.statvfs(mp)
            flags = _MS_BIND | _MS_REMOUNT | _MS_RDONLY
            for st_flag, ms_flag in keep:
                if st.f_flag & st_flag:
                    flags |= ms_flag
            _mount(libc, None, mp, None, flags)
        except OSError:
            if mp == "/":
                raise


def _drop_all_capabilities(libc) -> None:
    """userns mode: the program stays uid 0 of its namespace, so empty the bounding set (an exec as
    uid 0 then gains nothing), the ambient and inheritable sets, then permitted/effective."""
    last = 63
    try:
        with open("/proc/sys/kernel/cap_last_cap") as f:
            last = int(f.read())
    except (OSError, ValueError):
        pass
    for cap in range(last + 1):
        _check(libc.prctl(_PR_CAPBSET_DROP, cap, 0, 0, 0), f"drop capability {cap}")
    libc.prctl(_PR_CAP_AMBIENT, _PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0)
    header = (ctypes.c_uint32 * 2)(_CAP_VERSION_3, 0)
    data = (ctypes.c_uint32 * 6)(0, 0, 0, 0, 0, 0)
    _check(libc.capset(header, data), "capset")


def _set_limits(cfg: dict) -> None:
    lim = cfg["limits"]
    for res, value in ((resource.RLIMIT_CPU, cfg["cpu_s"]), (resource.RLIMIT_AS, lim["memory_bytes"]),
                       (resource.RLIMIT_FSIZE, lim["max_file_bytes"]), (resource.RLIMIT_CORE, 0),
                       (resource.RLIMIT_NOFILE, lim["max_open_files"])):
        soft, hard = resource.getrlimit(res)
        value = int(value)
        if hard != resource.RLIM_INFINITY:
            value = min(value, hard)
        # CPU: SIGXCPU at the soft limit, SIGKILL one second later
        resource.setrlimit(res, (value, value + 1 if res == resource.RLIMIT_CPU and
                                 (hard == resource.RLIM_INFINITY or value + 1 <= hard) else value))


def _own_process_count(uid: int) -> int:
    n = 0
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                if os.stat(f"/proc/{entry}").st_uid == uid:
                    n += 1
            except OSError:
                pass
    return n


def _status(fd: int, **kw: Any) -> None:
    try:
        os.write(fd, (json.dumps(kw) + "\n").encode())
    except OSError:
        pass


def _child(cfg: dict, status_fd: int, libc, ns: bool, userns: bool) -> None:  # pragma: no cover
    """Runs in the forked child (PID 1 of the new namespace when ``ns``): prepare, then exec."""
    try:
        lim = cfg["limits"]
        uid = cfg["uid"]
        py = cfg["python"]
        exe = py["exe"]
        ld_path = None
        if ns:
            _check(libc.unshare(_CLONE_NEWNS | _CLONE_NEWNET | _CLONE_NEWIPC | _CLONE_NEWUTS), "unshare")
            _mount(libc, None, "/", None, _MS_REC | _MS_PRIVATE)  # nothing propagates to the host
            _readonly_everything(libc)
            _mount(libc, "proc", "/proc", "proc", _MS_NOSUID | _MS_NODEV | _MS_NOEXEC)
            for d in ("/tmp", "/var/tmp", "/dev/shm"):
                if os.path.isdir(d):
                    _mount(libc, "tmpfs", d, "tmpfs", _MS_NOSUID | _MS_NODEV,
                           f"size={int(lim['tmpfs_bytes'])},mode=1777")
            if uid is not None:
                if not py["rel"]:
                    raise OSError("interpreter is not inside its prefix; cannot expose it")
                os.mkdir(_PYTHON_NS, 0o755)
                _mount(libc, py["prefix"], _PYTHON_NS, None, _MS_BIND | _MS_REC)
                _mount(libc, None, _PYTHON_NS, None, _MS_BIND | _MS_REMOUNT | _MS_RDONLY | _MS_NOSUID)
                exe = os.path.join(_PYTHON_NS, py["rel"])
                if py["shared_lib"]:
                    ld_path = os.path.join(_PYTHON_NS, "lib")
            try:
                libc.sethostname(b"sandbox", 7)
            except Exception:
                pass
        work, home, tmp = cfg["workdir"], cfg["home"], cfg["tmp"]
        owner = uid if uid is not None else os.getuid()
        for d in (work, home):
            if not os.path.isdir(d):
                os.mkdir(d, 0o700)
                os.chown(d, owner, owner)
        for name, b64 in cfg["files"].items():
            p = os.path.join(work, name)
            with open(p, "wb") as f:
                f.write(base64.b64decode(b64))
            os.chown(p, owner, owner)
        # stdin: a pipe holding the given bytes (small) or a file in the work dir
        data = base64.b64decode(cfg["stdin"])
        if len(data) < 60000:
            r, w = os.pipe()
            os.write(w, data)
            os.close(w)
        else:
            p = os.path.join(work, ".stdin")
            with open(p, "wb") as f:
                f.write(data)
            r = os.open(p, os.O_RDONLY)
        os.dup2(r, 0)
        os.close(r)
        # drop privileges
        if uid is not None:
            os.setgroups([])
            os.setresgid(uid, uid, uid)
            os.setresuid(uid, uid, uid)  # a non-zero uid keeps no capabilities
        elif userns:
            _drop_all_capabilities(libc)
        _check(libc.prctl(_PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0), "no_new_privs")
        nproc = int(lim["max_processes"])
        if not ns and uid is None:
            # bare mode, caller's uid: the count includes the caller's other processes
            nproc += _own_process_count(os.getuid())
        soft, hard = resource.getrlimit(resource.RLIMIT_NPROC)
        if hard != resource.RLIM_INFINITY:
            nproc = min(nproc, hard)
        resource.setrlimit(resource.RLIMIT_NPROC, (nproc, nproc))
        try:
            os.setsid()  # kill(0, ...) from the program reaches only its own group
        except OSError:
            pass
        _check(libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0), "pdeathsig")  # after setuid
        os.chdir(work)
        env = _untrusted_env(home, tmp, ld_path)
        os.execve(exe, [exe, "-s", "-S", "main.py", *cfg["argv"]], env)
    except BaseException as e:  # noqa: BLE001
        _status(status_fd, setup_error=f"{type(e).__name__}: {e}"[:400])
        os._exit(127)


def _children(parent: int) -> list[int]:
    kids = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat", "rb") as f:
                    stat = f.read()
                # "pid (comm) state ppid ...": comm may hold spaces and parentheses
                if int(stat[stat.rindex(b")") + 2:].split()[1]) == parent:
                    kids.append(int(entry))
            except (OSError, ValueError, IndexError):
                pass
    return kids


def _sweep_orphans(deadline_s: float = 5.0) -> None:  # pragma: no cover - runs in the launcher
    """Kill and reap every process re-parented to us (we are a child subreaper) until none is
    left: nothing the program started outlives the run."""
    me = os.getpid()
    deadline = time.monotonic() + deadline_s
    while time.monotonic() < deadline:
        kids = _children(me)
        while True:  # reap what already died
            try:
                pid, _ = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                pid = 0
            if pid == 0:
                break
        if not kids:
            return
        for k in kids:
            try:
                os.kill(k, signal.SIGKILL)
            except OSError:
                pass
        time.sleep(0.005)


def _launch(cfg_path: str, status_fd: int) -> None:  # pragma: no cover - runs in the launcher
    libc = _libc()
    os.set_inheritable(status_fd, False)  # never reaches the program (closed at its exec)
    libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    if os.getppid() == 1:
        os._exit(1)
    with open(cfg_path) as f:
        cfg = json.load(f)
    os.read(0, 1)  # "go": the caller has put us into the pids cgroup
    devnull = os.open(os.devnull, os.O_RDONLY)
    os.dup2(devnull, 0)
    os.close(devnull)
    mode = cfg["mode"]
    ns, userns = mode in ("namespaces", "userns"), mode == "userns"
    # orphans of the program (double-forked daemons) become our children, so _sweep_orphans
    # can kill them even in the bare mode, where no PID namespace dies with the program
    libc.prctl(_PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)
    try:
        _set_limits(cfg)
        if ns:
            # only the PID (and user) namespace here: the child becomes PID 1 of the new one;
            # the child unshares the rest, so our own /proc and mounts stay the host's
            uid, gid = os.getuid(), os.getgid()
            _check(libc.unshare(_CLONE_NEWPID | (_CLONE_NEWUSER if userns else 0)), "unshare")
            if userns:
                for name, text in (("setgroups", "deny"), ("uid_map", f"0 {uid} 1"),
                                   ("gid_map", f"0 {gid} 1")):
                    with open(f"/proc/self/{name}", "w") as f:
                        f.write(text)
        pid = os.fork()
    except BaseException as e:  # noqa: BLE001
        _status(status_fd, setup_error=f"{type(e).__name__}: {e}"[:400])
        os._exit(0)
    if pid == 0:
        _child(cfg, status_fd, libc, ns, userns)
    fired = []

    def on_alarm(signum, frame):  # wall-clock limit: the child (and with it its namespace) dies
        fired.append(True)
        for kill in (os.killpg, os.kill):  # the child leads its own session and process group
            try:
                kill(pid, signal.SIGKILL)
            except OSError:
                pass

    signal.signal(signal.SIGALRM, on_alarm)
    signal.setitimer(signal.ITIMER_REAL, max(0.01, float(cfg["wall_s"])))
    # WNOWAIT: the child stays a zombie, so its pid (= its process group id) cannot be reused
    # before the killpg below
    info = os.waitid(os.P_PID, pid, os.WEXITED | os.WNOWAIT)
    signal.setitimer(signal.ITIMER_REAL, 0)
    try:
        os.killpg(pid, signal.SIGKILL)  # whatever it left in its group (bare mode)
    except OSError:
        pass
    _sweep_orphans()  # also reaps the child
    if info.si_code == os.CLD_EXITED:
        _status(status_fd, exit=info.si_status, timed_out=bool(fired))
    else:
        _status(status_fd, signal=info.si_status, timed_out=bool(fired))
    os._exit(0)


if __name__ == "__main__" and len(sys.argv) == 4 and sys.argv[1] == "--launch":
    _launch(sys.argv[2], int(sys.argv[3]))
