"""The program name in usage lines: the console script's when the user ran one.

Each script's parser names how to run it from a checkout (``python sweeps/pareto.py``); run as
its console script (``dllm-pareto``, pyproject.toml ``[project.scripts]``) the usage line shows
that name instead.  Standard library only: the analysis (torch-free) uses it too.
"""
from __future__ import annotations

import os
import sys

CONSOLE_PREFIX = "dllm-"


def prog(how: str) -> str:
    """``how`` unless this process is a ``dllm-*`` console script; then the name typed."""
    name = os.path.basename(sys.argv[0]) if sys.argv and sys.argv[0] else ""
    return name if name.startswith(CONSOLE_PREFIX) else how
