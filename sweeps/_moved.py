"""Old import paths of the engine modules, kept for one release (0.1 -> 0.2).

The engine moved from ``sweeps/X.py`` to ``sweeps/engine/X.py`` (docs/design.md §2).  Each old
module is a two-line file that calls :func:`alias`: it warns once (``DeprecationWarning``, shown
where notebooks and ``-W default`` look) and makes the old name *the same module object* as the
new one, so ``monkeypatch.setattr("sweeps.driver.X", ...)`` and ``sweeps.driver is
sweeps.engine.driver`` keep behaving as before.
"""
from __future__ import annotations

import importlib
import sys
import warnings


def alias(old: str, new: str) -> None:
    """Replace module ``old`` (being imported) by module ``new`` in ``sys.modules``, warning."""
    # stacklevel 3: alias -> the old module's body -> the importer (importlib frames are skipped)
    warnings.warn(f"{old} moved to {new}; import it from there ({old} goes away in the next release)",
                  DeprecationWarning, stacklevel=3)
    sys.modules[old] = importlib.import_module(new)
