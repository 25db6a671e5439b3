"""The sandbox's launcher: the trusted side that builds the contained process tree.

Run only by ``workers.sandbox.run_untrusted`` as ``python -I -S sandbox_launcher.py CONFIG STATUS_FD``
(standard library only, nothing from the project is importable here).  ``workers/sandbox.py`` holds
the caller-side API and documents the containment modes; this file holds what runs in between:

    launcher: sets rlimits, unshares the PID (and user) namespace, forks, and stays outside as
        watchdog and child subreaper: wall-clock limit, exit status on a private pipe, then kills
        and reaps every leftover descendant
    child (PID 1 of the new namespace): unshares mount/net/IPC/UTS, builds a minimal read-only
        root (the interpreter, its standard library and the C libraries it links, /dev/null and
        friends, a private /proc and /tmp), pivots into it, drops privileges, setsid,
        ``execve(python -s -S main.py)``
"""
from __future__ import annotations

import base64
import ctypes
import fcntl
import json
import os
import platform
import resource
import signal
import struct
import sys
import time
from typing import Any, Optional

# linux constants (not all exposed by the os module on Python 3.10/3.11)
_CLONE_NEWNS, _CLONE_NEWUTS, _CLONE_NEWIPC = 0x00020000, 0x04000000, 0x08000000
_CLONE_NEWUSER, _CLONE_NEWPID, _CLONE_NEWNET = 0x10000000, 0x20000000, 0x40000000
_MS_RDONLY, _MS_NOSUID, _MS_NODEV, _MS_NOEXEC = 1, 2, 4, 8
_MS_REMOUNT, _MS_NOATIME, _MS_NODIRATIME, _MS_BIND = 32, 1024, 2048, 4096
_MS_REC, _MS_PRIVATE, _MS_RELATIME = 16384, 1 << 18, 1 << 21
_MNT_DETACH = 2
_PR_SET_PDEATHSIG, _PR_CAPBSET_DROP, _PR_SET_CHILD_SUBREAPER, _PR_SET_NO_NEW_PRIVS = 1, 24, 36, 38
_PR_CAP_AMBIENT, _PR_CAP_AMBIENT_CLEAR_ALL = 47, 4
_CAP_VERSION_3 = 0x20080522
_SYS_PIVOT_ROOT = {"x86_64": 155, "aarch64": 41, "ppc64le": 203, "s390x": 217}

PYTHON_NS = "/python"            # inside the minimal root: the interpreter's install tree
CHANNEL_FD = 3                   # the program's result channel (when the caller asked for one)
_DEVICES = ("null", "zero", "full", "random", "urandom")


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


def _kept_flags(path: str) -> int:
    """The mount flags of ``path`` a bind remount must keep: a user namespace may not clear locked
    nosuid/nodev/noexec/atime flags."""
    st = os.statvfs(path)
    flags = 0
    for st_flag, ms_flag in ((os.ST_NOSUID, _MS_NOSUID), (os.ST_NODEV, _MS_NODEV),
                             (os.ST_NOEXEC, _MS_NOEXEC), (os.ST_NOATIME, _MS_NOATIME),
                             (os.ST_NODIRATIME, _MS_NODIRATIME), (os.ST_RELATIME, _MS_RELATIME)):
        if st.f_flag & st_flag:
            flags |= ms_flag
    return flags


def _bind_ro(libc, src: str, dst: str) -> None:
    _mount(libc, src, dst, None, _MS_BIND | _MS_REC)
    _mount(libc, None, dst, None, _MS_BIND | _MS_REMOUNT | _MS_RDONLY | _MS_NOSUID | _kept_flags(src))


class _Root:
    """A new root on a small tmpfs into which host paths are exposed read-only, one by one."""

    def __init__(self, libc, path: str):
        self.libc, self.path, self.bound = libc, path, []
        _mount(libc, "tmpfs", path, "tmpfs", _MS_NOSUID | _MS_NODEV, "size=1m,mode=0755")

    def _mkparents(self, inner: str) -> None:
        os.makedirs(os.path.dirname(self.path + inner), mode=0o755, exist_ok=True)

    def expose(self, path: str, at: Optional[str] = None, depth: int = 0) -> None:
        """Make ``path`` resolve inside the root as on the host: symlinks along it are recreated,
        the real file or directory it ends at is bound read-only (at ``at`` when given)."""
        if depth > 16:
            raise OSError(f"too many symlinks exposing {path}")
        path = os.path.normpath(path)
        if at is None:
            parts = [p for p in path.split("/") if p]
            cur = "/"
            for i, comp in enumerate(parts):
                nxt = os.path.join(cur, comp)
                if os.path.islink(nxt):
                    target = os.readlink(nxt)
                    if not os.path.lexists(self.path + nxt):
                        self._mkparents(nxt)
                        os.symlink(target, self.path + nxt)
                    rest = "/".join(parts[i + 1:])
                    resolved = os.path.normpath(os.path.join(cur, target))
                    return self.expose(os.path.join(resolved, rest) if rest else resolved, None, depth + 1)
                cur = nxt
            at = path
        if any(at == b or at.startswith(b.rstrip("/") + "/") for b in self.bound):
            return  # already inside something bound
        dst = self.path + at
        if os.path.isdir(path):
            os.makedirs(dst, mode=0o755, exist_ok=True)
        else:
            self._mkparents(at)
            open(dst, "a").close()
        _bind_ro(self.libc, path, dst)
        self.bound.append(at)

    def tmpfs(self, inner: str, size: int, mode: str = "1777", ro: bool = False) -> None:
        os.makedirs(self.path + inner, mode=0o755, exist_ok=True)
        _mount(self.libc, "tmpfs", self.path + inner, "tmpfs",
               _MS_NOSUID | _MS_NODEV | (_MS_RDONLY if ro else 0), f"size={int(size)},mode={mode}")

    def pivot(self) -> None:
        """Switch to the new root and detach the old one: nothing of the host stays reachable."""
        nr = _SYS_PIVOT_ROOT.get(platform.machine())
        if nr is None:
            raise OSError(f"pivot_root: unknown syscall number on {platform.machine()}")
        os.chdir(self.path)
        _check(self.libc.syscall(nr, b".", b"."), "pivot_root")  # old root stacked under new
        _check(self.libc.umount2(b".", _MNT_DETACH), "umount old root")
        os.chdir("/")


def _elf_interpreter(exe: str) -> Optional[str]:
    """PT_INTERP of a 64-bit little-endian ELF (the dynamic loader path the kernel opens)."""
    try:
        with open(exe, "rb") as f:
            head = f.read(64)
            if head[:4] != b"\x7fELF" or head[4] != 2 or head[5] != 1:
                return None
            phoff, = struct.unpack_from("<Q", head, 0x20)
            phentsize, phnum = struct.unpack_from("<HH", head, 0x36)
            for i in range(phnum):
                f.seek(phoff + i * phentsize)
                p_type, _, p_offset, _, _, p_filesz = struct.unpack("<IIQQQQ", f.read(40))
                if p_type == 3:
                    f.seek(p_offset)
                    return f.read(p_filesz).rstrip(b"\0").decode()
    except (OSError, struct.error, UnicodeDecodeError):
        return None
    return None


def _build_root(libc, cfg: dict) -> str:
    """The minimal root (namespace modes): returns the interpreter's path inside it."""
    py, lim = cfg["python"], cfg["limits"]
    if not py["rel"]:
        raise OSError("interpreter is not inside its prefix; cannot expose it")
    root = _Root(libc, cfg["newroot"])
    root.expose(py["prefix"], at=PYTHON_NS)
    for rel in py["hide"]:  # site-packages: the standard library only
        _mount(libc, "tmpfs", root.path + PYTHON_NS + "/" + rel, "tmpfs",
               _MS_NOSUID | _MS_NODEV | _MS_RDONLY, "size=4k,mode=0755")
    for d in py["lib_dirs"]:  # where libc and the libraries of the stdlib's extensions live
        root.expose(d)
    interp = _elf_interpreter(py["exe"])
    if interp:
        root.expose(interp)
    os.makedirs(root.path + "/dev", mode=0o755)
    _mount(libc, "tmpfs", root.path + "/dev", "tmpfs", _MS_NOSUID | _MS_NOEXEC, "size=64k,mode=0755")
    for d in _DEVICES:
        if os.path.exists("/dev/" + d):
            open(root.path + "/dev/" + d, "a").close()
            _mount(libc, "/dev/" + d, root.path + "/dev/" + d, None, _MS_BIND)
    for name, target in (("fd", "/proc/self/fd"), ("stdin", "/proc/self/fd/0"),
                         ("stdout", "/proc/self/fd/1"), ("stderr", "/proc/self/fd/2")):
        os.symlink(target, root.path + "/dev/" + name)
    root.tmpfs("/dev/shm", lim["tmpfs_bytes"])
    _mount(libc, None, root.path + "/dev", None, _MS_REMOUNT | _MS_RDONLY | _MS_NOSUID | _MS_NOEXEC)
    root.tmpfs("/tmp", lim["tmpfs_bytes"])
    os.makedirs(root.path + "/proc", mode=0o555)
    # before the pivot: a user namespace may mount proc only while a full one is still visible
    _mount(libc, "proc", root.path + "/proc", "proc", _MS_NOSUID | _MS_NODEV | _MS_NOEXEC)
    root.pivot()
    _mount(libc, None, "/", None, _MS_REMOUNT | _MS_RDONLY | _MS_NOSUID | _MS_NODEV)
    return os.path.join(PYTHON_NS, py["rel"])


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


def untrusted_env(home: str, tmp: str, ld_path: Optional[str]) -> dict:
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


def _child(cfg: dict, status_fd: int, channel_fd: Optional[int], libc, ns: bool,
           userns: bool) -> None:  # pragma: no cover - runs in the forked child
    """Runs in the forked child (PID 1 of the new namespace when ``ns``): prepare, then exec."""
    try:
        lim = cfg["limits"]
        uid = cfg["uid"]
        py = cfg["python"]
        exe = py["exe"]
        ld_path = None
        try:  # the OOM killer of the memory cgroup picks the program first, never the launcher
            with open("/proc/self/oom_score_adj", "w") as f:
                f.write("1000")
        except OSError:
            pass
        if ns:
            _check(libc.unshare(_CLONE_NEWNS | _CLONE_NEWNET | _CLONE_NEWIPC | _CLONE_NEWUTS), "unshare")
            _mount(libc, None, "/", None, _MS_REC | _MS_PRIVATE)  # nothing propagates to the host
            exe = _build_root(libc, cfg)
            if py["shared_lib"]:
                ld_path = os.path.join(PYTHON_NS, "lib")
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
        if channel_fd is not None:
            os.dup2(channel_fd, CHANNEL_FD, inheritable=True)
            os.close(channel_fd)
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
        env = untrusted_env(home, tmp, ld_path)
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


def _high_fd(fd: int) -> int:
    """Move ``fd`` above the numbers the child dup2s onto (0-3), close-on-exec."""
    new = fcntl.fcntl(fd, fcntl.F_DUPFD_CLOEXEC, 100)
    os.close(fd)
    return new


def launch(cfg_path: str, status_fd: int) -> None:  # pragma: no cover - runs in the launcher
    libc = _libc()
    status_fd = _high_fd(status_fd)  # never reaches the program (closed at its exec)
    libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    if os.getppid() == 1:
        os._exit(1)
    with open(cfg_path) as f:
        cfg = json.load(f)
    channel_fd = _high_fd(cfg["channel_fd"]) if cfg.get("channel_fd") is not None else None
    try:  # the OOM killer of the memory cgroup spares the supervisor (root may lower it)
        with open("/proc/self/oom_score_adj", "w") as f:
            f.write("-1000")
    except OSError:
        pass
    os.read(0, 1)  # "go": the caller has put us into the cgroups
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
        _child(cfg, status_fd, channel_fd, libc, ns, userns)
    if channel_fd is not None:
        os.close(channel_fd)
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


if __name__ == "__main__" and len(sys.argv) == 3:
    launch(sys.argv[1], int(sys.argv[2]))
