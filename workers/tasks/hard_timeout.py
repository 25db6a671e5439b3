"""Run a function in a persistent child process with a hard wall-clock limit per call.

Why: math-verify's own timeouts use ``signal.alarm``, which only works in the main thread
(math-verify issues #50, #55) and cannot interrupt a long C-level computation anyway (sympy
expanding ``9^{9^{9^9}}``).  So graders call math-verify with its timeouts disabled, inside a
child process that is killed when a call overruns; the next call starts a fresh child.

Works from any thread, from Ray workers and from daemonic processes (the child is a plain
``subprocess``, not a ``multiprocessing`` child).  One call at a time per runner (a lock); the
child is started lazily, imports its ``warmup`` modules before the first call so the per-call
limit measures the work, not the imports, and dies with its parent (stdin EOF; on Linux also
``PR_SET_PDEATHSIG``).  An address-space limit guards against memory blow-ups.

    runner = HardTimeoutRunner(warmup=("sympy",))
    runner.call(some_module_level_function, arg, timeout=5.0)   # -> result, or raises
"""
from __future__ import annotations

import atexit
import os
import pickle
import selectors
import signal
import struct
import subprocess
import sys
import threading
import time
import weakref
from pathlib import Path
from typing import Any, Callable, Optional, Sequence

__all__ = ["HardTimeoutRunner", "CallTimeout", "ChildFailed", "ChildError"]

_HEADER = struct.Struct("!Q")
_MAX_MESSAGE = 64 << 20


class CallTimeout(TimeoutError):
    """The call did not finish within its limit; the child was killed."""


class ChildFailed(RuntimeError):
    """The child died or could not be started (crash, memory limit, killed)."""


class ChildError(RuntimeError):
    """The function raised inside the child; the message is ``Type: text``."""


# ----------------------------------------------------------------------------------------------
# child side
# ----------------------------------------------------------------------------------------------
def _child_main() -> None:  # pragma: no cover - runs in the child
    proto_in = os.fdopen(os.dup(0), "rb", buffering=0)
    proto_out = os.fdopen(os.dup(1), "wb", buffering=0)
    # stray prints inside the function must not corrupt the protocol
    devnull = os.open(os.devnull, os.O_RDONLY)
    os.dup2(devnull, 0)
    os.dup2(2, 1)
    try:
        if sys.platform.startswith("linux"):
            import ctypes

            ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
            if os.getppid() == 1:  # parent already gone
                os._exit(1)
    except Exception:
        pass
    mem = os.environ.get("DLLM_CHILD_MEMORY_BYTES")
    if mem:
        try:
            import resource

            limit = int(mem)
            resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
        except Exception:
            pass

    def send(obj: Any) -> None:
        data = pickle.dumps(obj, protocol=pickle.HIGHEST_PROTOCOL)
        proto_out.write(_HEADER.pack(len(data)) + data)

    def recv() -> Any:
        head = _read_blocking(proto_in, _HEADER.size)
        if head is None:
            return None
        (n,) = _HEADER.unpack(head)
        body = _read_blocking(proto_in, n)
        return None if body is None else pickle.loads(body)

    for mod in filter(None, os.environ.get("DLLM_CHILD_WARMUP", "").split(",")):
        try:
            __import__(mod)
        except Exception:
            pass
    send(("ready", os.getpid()))
    while True:
        msg = recv()
        if msg is None:
            break
        fn, args, kwargs = msg
        try:
            result = ("ok", fn(*args, **kwargs))
        except BaseException as e:  # noqa: BLE001 - report everything to the parent
            result = ("err", f"{type(e).__name__}: {str(e)[:500]}")
        try:
            send(result)
        except Exception as e:  # unpicklable result
            send(("err", f"result not picklable: {type(e).__name__}: {e}"))
    os._exit(0)


def _read_blocking(f, n: int) -> Optional[bytes]:  # pragma: no cover - runs in the child
    buf = bytearray()
    while len(buf) < n:
        chunk = f.read(n - len(buf))
        if not chunk:
            return None
        buf += chunk
    return bytes(buf)


# ----------------------------------------------------------------------------------------------
# parent side
# ----------------------------------------------------------------------------------------------
_LIVE: "weakref.WeakSet[HardTimeoutRunner]" = weakref.WeakSet()


@atexit.register
def _close_all() -> None:
    for r in list(_LIVE):
        r.close()


class HardTimeoutRunner:
    """A reusable child process that runs module-level functions with a hard time limit.

    ``warmup``: modules the child imports before reporting ready.  ``start_timeout``: seconds
    allowed for the child to start (imports included).  ``memory_bytes``: address-space limit
    of the child (None: no limit)."""

    def __init__(self, warmup: Sequence[str] = (), start_timeout: float = 120.0,
                 memory_bytes: Optional[int] = 4 << 30):
        self.warmup = tuple(warmup)
        self.start_timeout = start_timeout
        self.memory_bytes = memory_bytes
        self._lock = threading.Lock()
        self._proc: Optional[subprocess.Popen] = None
        self._owner_pid = os.getpid()
        self.restarts = 0
        _LIVE.add(self)

    # -- lifecycle ------------------------------------------------------------------------
    def _start(self) -> None:
        env = dict(os.environ)
        root = str(Path(__file__).resolve().parents[2])  # so the child imports this package
        env["PYTHONPATH"] = root + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
        env["DLLM_CHILD_WARMUP"] = ",".join(self.warmup)
        if self.memory_bytes:
            env["DLLM_CHILD_MEMORY_BYTES"] = str(int(self.memory_bytes))
        else:
            env.pop("DLLM_CHILD_MEMORY_BYTES", None)
        proc = subprocess.Popen(
            [sys.executable, "-c", "from workers.tasks.hard_timeout import _child_main; _child_main()"],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, env=env, close_fds=True,
            start_new_session=True,
        )
        self._proc = proc
        self._owner_pid = os.getpid()
        try:
            msg = self._recv(time.monotonic() + self.start_timeout)
        except CallTimeout:
            self._kill()
            raise ChildFailed(f"grading child did not start within {self.start_timeout:g}s") from None
        if not (isinstance(msg, tuple) and msg and msg[0] == "ready"):
            self._kill()
            raise ChildFailed("grading child sent an unexpected greeting")

    def _kill(self) -> None:
        proc, self._proc = self._proc, None
        if proc is None:
            return
        try:
            os.killpg(proc.pid, signal.SIGKILL)  # its own session: take anything it started too
        except (ProcessLookupError, PermissionError, OSError):
            try:
                proc.kill()
            except OSError:
                pass
        for f in (proc.stdin, proc.stdout):
            try:
                f.close()
            except Exception:
                pass
        try:
            proc.wait(timeout=5)
        except Exception:
            pass

    def close(self) -> None:
        """Stop the child (a later call starts a new one)."""
        with self._lock:
            if self._proc is not None and os.getpid() == self._owner_pid:
                self._kill()
            self._proc = None

    @property
    def pid(self) -> Optional[int]:
        return self._proc.pid if self._proc is not None else None

    # -- protocol -------------------------------------------------------------------------
    def _send(self, data: bytes) -> None:
        self._proc.stdin.write(_HEADER.pack(len(data)) + data)
        self._proc.stdin.flush()

    def _read_exact(self, n: int, deadline: float) -> bytes:
        fd = self._proc.stdout.fileno()
        buf = bytearray()
        # selectors (poll/epoll), not select.select: a Ray worker may hold fds above 1024
        with selectors.DefaultSelector() as sel:
            sel.register(fd, selectors.EVENT_READ)
            while len(buf) < n:
                remaining = deadline - time.monotonic()
                if remaining <= 0 or not sel.select(remaining):
                    raise CallTimeout()
                chunk = os.read(fd, min(n - len(buf), 1 << 20))
                if not chunk:
                    raise ChildFailed("grading child exited")
                buf += chunk
        return bytes(buf)

    def _recv(self, deadline: float) -> Any:
        (n,) = _HEADER.unpack(self._read_exact(_HEADER.size, deadline))
        if n > _MAX_MESSAGE:
            raise ChildFailed("grading child sent an oversized message")
        return pickle.loads(self._read_exact(n, deadline))

    # -- the call -------------------------------------------------------------------------
    def call(self, fn: Callable[..., Any], *args: Any, timeout: float, **kwargs: Any) -> Any:
        """``fn(*args, **kwargs)`` in the child; ``fn`` must be importable by module and name.
        Raises ``CallTimeout`` (child killed), ``ChildFailed`` or ``ChildError``."""
        request = pickle.dumps((fn, args, kwargs), protocol=pickle.HIGHEST_PROTOCOL)
        with self._lock:
            if os.getpid() != self._owner_pid:  # forked: the child belongs to our parent
                self._proc = None
                self._owner_pid = os.getpid()
            if self._proc is not None and self._proc.poll() is not None:
                self._kill()
                self.restarts += 1
            if self._proc is None:
                self._start()
            try:
                self._send(request)
                status, value = self._recv(time.monotonic() + timeout)
            except CallTimeout:
                self._kill()
                self.restarts += 1
                raise CallTimeout(f"call exceeded {timeout:g}s; child killed") from None
            except (BrokenPipeError, EOFError, ChildFailed, OSError, pickle.UnpicklingError) as e:
                self._kill()
                self.restarts += 1
                raise ChildFailed(f"grading child failed: {type(e).__name__}: {e}") from None
            except BaseException:
                # interrupted between request and reply (e.g. KeyboardInterrupt): a reply may
                # still be in flight, so this child can never be trusted again
                self._kill()
                raise
            if status == "err":
                raise ChildError(value)
            return value
