"""The layout shows the design (docs/design.md §2): the engine in ``sweeps/engine/``, entry
scripts at ``sweeps/*.py``, the old engine import paths kept for one release with a warning."""
from __future__ import annotations

import importlib
import subprocess
import sys
import warnings
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
MOVED = ["driver", "spec", "cli", "dry_run", "grid_script", "infill_common"]


@pytest.mark.parametrize("name", MOVED)
def test_old_engine_path_is_the_same_module_and_warns(name):
    """A fresh interpreter (the warning fires once per process, at first import)."""
    code = (f"import warnings; warnings.simplefilter('error', DeprecationWarning)\n"
            f"import sweeps.engine.{name} as new\n"
            f"try:\n    import sweeps.{name}\nexcept DeprecationWarning as w:\n    print(w)\n"
            f"warnings.simplefilter('ignore')\nimport sweeps.{name} as old\nassert old is new")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert r.returncode == 0, r.stderr[-800:]
    assert f"sweeps.{name} moved to sweeps.engine.{name}" in r.stdout


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
