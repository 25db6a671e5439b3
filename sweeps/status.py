"""Progress of a sweep, running or finished: ``python -m sweeps.status OUT`` (``dllm-status``).

The engine (status file, driver lock) is ``sweeps.engine.status``; importing those names from
here still works for one release, with a ``DeprecationWarning``.
"""
from __future__ import annotations

import warnings
from typing import Any

from sweeps.engine import status as _engine
from sweeps.engine.status import main


def __getattr__(name: str) -> Any:  # PEP 562: only names this entry module does not define
    value = getattr(_engine, name)  # AttributeError as usual for unknown names
    warnings.warn(f"sweeps.status.{name} moved to sweeps.engine.status.{name} "
                  "(the old name goes in the next release)", DeprecationWarning, stacklevel=2)
    return value


if __name__ == "__main__":
    raise SystemExit(main())
