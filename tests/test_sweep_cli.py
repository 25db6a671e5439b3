"""Entry points (sweeps/engine/cli.py): every script runs as ``python sweeps/X.py`` with the package
importable and no ``sys.path`` edit of its own, each has a console script in pyproject.toml, and
all share one helper's error lines and exit statuses (0 done, 1 incomplete, 2 bad input, 130, 143)."""
from __future__ import annotations

import importlib
import os
import subprocess
import sys
try:
    import tomllib
except ImportError:  # Python 3.10: pytest brings tomli
    import tomli as tomllib
from pathlib import Path

import pytest

from sweeps.engine.cli import entry, main_guard
from sweeps.engine.driver import SweepError
from sweeps.engine.spec import SpecError

ROOT = Path(__file__).resolve().parent.parent
SCRIPTS = sorted(p for p in (ROOT / "sweeps").glob("*.py") if 'if __name__ == "__main__"' in p.read_text())
CONSOLE = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["scripts"]
# Still carry the old sys.path line until their owners adopt sweeps.engine.cli.entry.
PENDING: set[str] = set()


def test_every_console_script_names_a_main():
    for name, target in CONSOLE.items():
        module, func = target.split(":")
        assert callable(getattr(importlib.import_module(module), func)), name
    covered = {t.split(":")[0] for t in CONSOLE.values()}
    assert {f"sweeps.{p.stem}" for p in SCRIPTS} <= covered


def test_no_script_edits_sys_path():
    offenders = [p.name for p in SCRIPTS if "sys.path" in p.read_text() and p.name not in PENDING]
    assert offenders == []


def test_scripts_run_as_files_with_the_package_installed(tmp_path):
    """``python sweeps/X.py --help`` from elsewhere; PYTHONPATH stands in for ``pip install -e .``
    (the shared test venv's editable install may point at another checkout)."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    for p in SCRIPTS:
        r = subprocess.run([sys.executable, str(p), "--help"], cwd=tmp_path, env=env,
                           capture_output=True, text=True, timeout=60)
        assert r.returncode == 0 and r.stdout.startswith("usage:"), (p.name, r.stderr[-500:])


def _raises(exc: BaseException):
    def body(argv):
        raise exc
    return body


@pytest.mark.parametrize("exc, status", [
    (SpecError("--workers must be >= 1"), 2),
    (ValueError("unknown task 'x'\nsecond line"), 2),
    (SweepError("3 job(s) failed"), 1),
    (KeyboardInterrupt(), 130),
])
def test_main_guard_turns_failures_into_one_line_and_a_status(exc, status, capsys):
    assert main_guard(_raises(exc), []) == status
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and (status == 130 or err.startswith("error: "))


def test_entry_passes_argv_and_the_status():
    seen = []
    main = entry(lambda argv: seen.append(argv) or 7)
    assert main(["--x"]) == 7 and seen == [["--x"]]


def test_sampler_effects_bad_k_is_a_bad_input_status(tmp_path, capsys):
    from sweeps import sampler_effects

    assert sampler_effects.main([str(tmp_path), "--k", "0"]) == 2
    assert capsys.readouterr().err.strip() == "error: --k must be >= 1"


# ---- signals: Ctrl-C / kill -INT and SIGTERM stop a script at any point, start-up included ----
@pytest.fixture
def own_signal_handlers():
    import signal

    saved = {n: signal.getsignal(n) for n in (signal.SIGINT, signal.SIGTERM)}
    yield
    for n, h in saved.items():
        signal.signal(n, h)


def test_sigint_stops_a_script_started_with_sigint_ignored(tmp_path):
    """``python sweeps/pareto.py … & kill -INT $!`` in a script: the shell starts the job with
    SIGINT ignored; the script still stops with 130 and its message (it used to run to the end)."""
    import signal
    import time

    code = ("import sys, time\nfrom sweeps.engine.cli import entry\n"
            "def body(argv):\n    print('ready', flush=True)\n    time.sleep(30)\n    return 0\n"
            "sys.exit(entry(body)([]))")
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen([sys.executable, "-c", code], env=env, cwd=tmp_path, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_IGN))
    try:
        assert proc.stdout.readline().strip() == "ready"
        time.sleep(0.2)
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=60)
    finally:
        proc.kill()
    assert proc.returncode == 130
    assert err.strip() == "interrupted: finished jobs are kept; rerun the same command to resume"


def test_sigterm_while_ray_starts_is_143_with_its_message(monkeypatch, capsys, own_signal_handlers):
    """ray.init's first act is its own SIGTERM handler (``sys.exit(15)``): a SIGTERM during
    start-up used to end the script with status 15 and no word."""
    import signal

    import ray

    from sweeps.engine.driver import connect

    stopped = []

    def init_like_ray(**kw):
        signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(signum))  # what ray.init does
        os.kill(os.getpid(), signal.SIGTERM)                                    # the scheduler's kill
        for _ in range(1000):  # the handler runs between bytecodes of this loop
            pass
        raise AssertionError("SIGTERM not delivered")

    monkeypatch.setattr(ray, "is_initialized", lambda: False)
    monkeypatch.setattr(ray, "init", init_like_ray)
    monkeypatch.setattr(ray, "shutdown", lambda: stopped.append(True))
    monkeypatch.delenv("RAY_ADDRESS", raising=False)
    assert main_guard(lambda argv: connect(None, print) and 0, []) == 143
    assert capsys.readouterr().err.startswith("interrupted (SIGTERM): finished jobs are kept")
    assert stopped == [True]   # the half-started private Ray is stopped


def test_console_scripts_usage_lines_name_the_console_script(monkeypatch, capsys):
    """``dllm-pareto --help`` says ``usage: dllm-pareto``, not ``python sweeps/pareto.py``."""
    for name, target in CONSOLE.items():
        module, func = target.split(":")
        monkeypatch.setattr(sys, "argv", [f"/venv/bin/{name}", "--help"])
        with pytest.raises(SystemExit) as done:
            getattr(importlib.import_module(module), func)(["--help"])
        assert done.value.code == 0, name
        assert capsys.readouterr().out.startswith(f"usage: {name} "), name


def test_run_as_a_file_the_usage_line_says_how():
    from sweeps import pareto

    assert pareto.parser().prog == "python sweeps/pareto.py"


def test_a_spec_directory_is_named_as_one(capsys):
    """``python -m sweeps.run sweeps/specs``: not "does not exist", but which files to give."""
    from sweeps.run import main as run_main

    assert run_main([str(ROOT / "sweeps" / "specs"), "--dry-run"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "is a directory; give one spec file in it (example.yaml" in err
