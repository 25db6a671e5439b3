"""Regenerate the bundled test sets: ``python -m workers.tasks.build_data [--check]``.

The files under ``workers/tasks/data/`` are the fixed, versioned test sets; they are a pure
function of the generator code and the version string in each task module.  ``--check`` only
verifies that the committed files equal a fresh generation (exit status 1 if not).  Changing a
generator means bumping that task's ``VERSION`` (a new file name), never rewriting a released
file in place.
"""
from __future__ import annotations

import argparse
import sys

from . import arith, countdown, sudoku
from .base import read_jsonl, write_jsonl

MODULES = (countdown, arith, sudoku)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--check", action="store_true", help="compare only; write nothing")
    args = ap.parse_args(argv)
    status = 0
    for mod in MODULES:
        problems = mod.generate_test_set()
        if args.check:
            same = mod.DATA_FILE.exists() and read_jsonl(mod.DATA_FILE) == problems
            print(f"{mod.DATA_FILE.name}: {'ok' if same else 'DIFFERS'}")
            status |= 0 if same else 1
        else:
            write_jsonl(mod.DATA_FILE, problems)
            print(f"wrote {mod.DATA_FILE} ({len(problems)} problems)")
    return status


if __name__ == "__main__":
    sys.exit(main())
