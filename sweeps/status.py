"""Progress of a sweep, running or finished: ``python -m sweeps.status OUT`` (``dllm-status``).

    python -m sweeps.status OUT          # one paragraph: done/total, rate, ETA, failures
    python -m sweeps.status OUT --json   # the status file itself
    python -m sweeps.status OUT --scan   # also count the result shards on disk (ground truth)

Exit status as every script's: 0 shown, 2 bad input (OUT missing, or not a sweep directory:
no status file), 1 OUT cannot be read, or it has shards but no status file (``--scan``).
The engine (status file, driver lock) is ``sweeps.engine.status``; importing those names from
here still works for one release, with a ``DeprecationWarning``.
"""
from __future__ import annotations

import argparse
import json
import sys
import warnings
from typing import Any, Optional, Sequence

from sweeps.engine import status as _engine
from workers.progname import prog


def main(argv: Optional[Sequence[str]] = None) -> int:
    import pyarrow.fs as pafs

    from workers.shards import SweepDir

    p = argparse.ArgumentParser(prog=prog("python -m sweeps.status"),
                                description="Show the progress of a sweep (running or finished).")
    p.add_argument("out", help="the sweep directory (local path or s3://… URI)")
    p.add_argument("--json", action="store_true", help="print the status file as JSON")
    p.add_argument("--scan", action="store_true",
                   help="also count the jobs in the result shards (reads only their job ids)")
    args = p.parse_args(argv)
    try:
        d = SweepDir(args.out)
        if d.fs.get_file_info(d.root).type == pafs.FileType.NotFound:
            print(f"error: no sweep directory {args.out}", file=sys.stderr)
            return 2
        st = _engine.read_status(d)
        scan = d.scan(full=False) if args.scan else None
    except OSError as e:
        print(f"error: cannot read {args.out}: {str(e).splitlines()[0] if str(e) else e}", file=sys.stderr)
        return 1
    if st is None:
        print(f"error: no status file in {args.out} (not a sweep directory, or no driver ran there yet)",
              file=sys.stderr)
        if scan is None or not scan.shard_ids:
            return 2
    elif args.json:
        print(json.dumps(st, indent=1))
    else:
        print(_engine.describe(st))
    if scan is not None:
        print(f"on disk: {len(scan.ids)} job(s) in {len(scan.shard_ids)} shard(s); "
              f"{len(scan.corrupt)} unreadable, {len(scan.strays)} stray file(s)")
    return 0 if st is not None else 1


def __getattr__(name: str) -> Any:  # PEP 562: only names this entry module does not define
    value = getattr(_engine, name)  # AttributeError as usual for unknown names
    warnings.warn(f"sweeps.status.{name} moved to sweeps.engine.status.{name} "
                  "(the old name goes in the next release)", DeprecationWarning, stacklevel=2)
    return value


if __name__ == "__main__":
    raise SystemExit(main())
