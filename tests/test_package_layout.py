"""The layout shows the design (docs/design.md §2): the engine in ``sweeps/engine/``, entry
scripts at ``sweeps/*.py``, the old engine import paths kept for one release with a warning."""
from __future__ import annotations

import ast
import os
import subprocess
import sys
import warnings
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
MOVED = ["driver", "spec", "cli", "dry_run", "grid_script", "infill_common"]


def test_old_engine_paths_are_the_same_modules_and_warn():
    """A fresh interpreter (each warning fires once per process, at first import)."""
    code = ("import importlib, warnings\n"
            f"for name in {MOVED!r}:\n"
            "    new = importlib.import_module('sweeps.engine.' + name)\n"
            "    with warnings.catch_warnings(record=True) as seen:\n"
            "        warnings.simplefilter('always')\n"
            "        old = importlib.import_module('sweeps.' + name)\n"
            "    assert old is new, name\n"
            "    print(*[str(w.message) for w in seen if w.category is DeprecationWarning], sep='\\n')\n")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert r.returncode == 0, r.stderr[-800:]
    for name in MOVED:
        assert f"sweeps.{name} moved to sweeps.engine.{name}" in r.stdout, name


def test_status_entry_keeps_the_engine_names_with_a_warning():
    from sweeps import status
    from sweeps.engine import status as engine

    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")
        assert status.DriverLock is engine.DriverLock
    assert [w.category for w in seen] == [DeprecationWarning]
    with pytest.raises(AttributeError):
        status.no_such_name


def test_entry_scripts_and_engine_are_apart():
    """Every module left at ``sweeps/*.py`` is an entry script (has a ``__main__`` block) or a
    two-line alias of a moved engine module; the engine has no ``__main__`` block of its own
    except where ``python -m`` is documented on the entry module."""
    for p in sorted((ROOT / "sweeps").glob("*.py")):
        text = p.read_text()
        if p.name in ("__init__.py", "_moved.py") or p.stem in MOVED:
            assert p.stem not in MOVED or "alias(__name__" in text, p.name
            continue
        assert 'if __name__ == "__main__"' in text, f"{p.name}: engine code belongs in sweeps/engine/"


# ---- no import circle (docs/design.md §2: imports walk one way) ---------------------------------
PACKAGES = ("workers", "sweeps", "analysis", "benchmarks")


def module_files(root: Path, packages=PACKAGES) -> dict[str, Path]:
    """Dotted module name -> file, for every ``.py`` under the packages."""
    mods = {}
    for pkg in packages:
        for p in (root / pkg).rglob("*.py"):
            parts = list(p.relative_to(root).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts.pop()
            mods[".".join(parts)] = p
    return mods


def import_graph(mods: dict[str, Path]) -> dict[str, set[str]]:
    """Module -> the project modules it imports, at any depth of the file (an import inside a
    function is still a dependency: it only moves the failure to run time)."""
    def known(name: str):
        while name and name not in mods:
            name = name.rpartition(".")[0]
        return name or None

    graph = {}
    for m, p in mods.items():
        package = m if p.name == "__init__.py" else m.rpartition(".")[0]
        out = set()
        for node in ast.walk(ast.parse(p.read_text(), str(p))):
            if isinstance(node, ast.Import):
                out.update(known(a.name) for a in node.names)
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    up = package.split(".")[:len(package.split(".")) - node.level + 1]
                    base = ".".join(up + ([node.module] if node.module else []))
                for a in node.names:  # `from pkg import mod` names a module, else a name in pkg
                    out.add(f"{base}.{a.name}" if f"{base}.{a.name}" in mods else known(base))
        graph[m] = out - {None, m}
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        for w in graph.get(v, ()):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                comp.append(stack.pop())
                if comp[-1] == v:
                    break
            if len(comp) > 1:
                found.append(sorted(comp))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return found


def test_the_cycle_finder_sees_a_lazy_circle(tmp_path):
    pkg = tmp_path / "pkg"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    (pkg / "a.py").write_text("from pkg.b import f\n")
    (pkg / "b.py").write_text("def f():\n    from . import c\n")
    (pkg / "c.py").write_text("import pkg.a\n")
    (pkg / "d.py").write_text("from pkg import a\n")
    mods = module_files(tmp_path, ("pkg",))
    assert cycles(import_graph(mods)) == [["pkg.a", "pkg.b", "pkg.c"]]


def test_no_import_circle_in_the_project():
    assert cycles(import_graph(module_files(ROOT))) == []


# ---- benchmarks: package modules, no search-path edits ------------------------------------------
def test_no_search_path_edits_in_sweeps_or_benchmarks():
    """``grep -rn "sys.path" sweeps benchmarks`` finds nothing: scripts import the installed (or
    checked-out, with ``python -m``) packages, never a path computed from their own file."""
    hits = [f"{p.relative_to(ROOT)}:{i}" for d in ("sweeps", "benchmarks") for p in (ROOT / d).rglob("*.py")
            for i, line in enumerate(p.read_text().splitlines(), 1) if "sys.path" in line]
    assert hits == []


def test_every_benchmark_imports_as_a_package_module(tmp_path):
    """``python -m benchmarks.NAME`` from the checkout: each module imports without running
    (its work is under ``__main__``), and the S3 benchmark's server is the shared module's."""
    names = sorted(p.stem for p in (ROOT / "benchmarks").glob("*.py") if p.stem != "__init__")
    code = ("import importlib, sys\n"
            f"mods = [importlib.import_module('benchmarks.' + n) for n in {names!r}]\n"
            "import workers.testing\n"
            "assert sys.modules['benchmarks.bench_s3_resume'].s3_server is workers.testing\n"
            "print(len(mods))")
    env = {**os.environ, "PYTHONPATH": str(ROOT), "RAY_TMPDIR": str(tmp_path)}
    r = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, env=env, capture_output=True, text=True,
                       timeout=300)
    assert r.returncode == 0, r.stderr[-1500:]
    assert r.stdout.split() == [str(len(names))]


ANALYSIS_MAY_USE = ("workers.contract", "workers.layout", "workers.progname")  # all torch-free


def test_imports_walk_down_the_layout_table():
    """docs/design.md §2's 'may import' column: workers below everything; analysis reads only the
    torch-free contract and layout; the engine never reaches up to an entry script; nothing a
    sweep runs imports the benchmarks or the test-only S3 helper."""
    mods = module_files(ROOT)
    graph = import_graph(mods)
    entry = {m for m in mods if m.startswith("sweeps.") and not m.startswith(("sweeps.engine", "sweeps._moved"))}
    bad = []
    for m, deps in graph.items():
        for d in deps:
            if m.startswith("workers") and not d.startswith("workers"):
                bad.append((m, d))
            if m.startswith("analysis") and not (d.startswith("analysis") or d in ANALYSIS_MAY_USE):
                bad.append((m, d))
            if m.startswith("sweeps.engine") and d in entry:
                bad.append((m, d))
            if not m.startswith("benchmarks") and (d.startswith("benchmarks") or d == "workers.testing"):
                bad.append((m, d))
    assert bad == []


# ---- the README's two set-up commands, and CI ----------------------------------------------------
def _readme_bash_blocks() -> list[str]:
    text = (ROOT / "README.md").read_text()
    setup = text[text.index("## Set up"):text.index("\n## ", text.index("## Set up") + 1)]
    return [b.split("```", 1)[0].strip() for b in setup.split("```bash\n")[1:]]


def test_the_test_command_gets_a_venv_of_its_own_and_ci_runs_it():
    """A "fresh" test environment is not the main job's ``.venv``; ``.ci/run`` (what CI runs) makes
    the same venv, installs the same thing and runs the same pytest."""
    main_job, tests = _readme_bash_blocks()[:2]
    venv = lambda cmd: cmd.split("python3 -m venv ")[1].split()[0]  # noqa: E731
    assert venv(main_job) != venv(tests) and "pytest" in tests
    steps = [s.strip() for s in tests.split("&&")]
    ci = [ln.strip() for ln in (ROOT / ".ci" / "run").read_text().splitlines()]
    assert steps[0] in ci and steps[1] in ci                       # the venv, activated
    install = steps[2].replace("pip install ", "pip install -q ")
    assert install in ci
    assert any(ln.startswith(steps[3]) for ln in ci)                # python -m pytest -q [...]
    assert f"{venv(tests)}/" in (ROOT / ".gitignore").read_text().split()
