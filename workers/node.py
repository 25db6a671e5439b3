"""What a worker checks on its node before taking work: that it can reach the sweep's storage.

A worker node that cannot reach the storage (no instance profile, a wrong endpoint, a network
rule) would fail every batch; it is caught once, when the actor starts, and the driver stops the
sweep with the storage error in one line instead of retrying for many minutes.
"""
from __future__ import annotations

import threading
from typing import Optional

from workers.shards import StorageError, SweepDir, storage_error

#: pyarrow's S3 client retries a refused connection for ~12 s; a black-holed endpoint would hang.
STORAGE_TIMEOUT_S = 40.0


def reach_storage(d: SweepDir, timeout_s: float = STORAGE_TIMEOUT_S) -> Optional[StorageError]:
    """Create the sweep's shard directory (idempotent) within ``timeout_s``; the error if not."""
    box: list[BaseException] = []

    def attempt() -> None:
        try:
            d.create()
        except BaseException as e:  # noqa: BLE001 - handed to the caller
            box.append(e)

    t = threading.Thread(target=attempt, daemon=True)
    t.start()
    t.join(timeout_s)
    if t.is_alive():
        return StorageError(f"cannot reach {d.uri}: no answer in {timeout_s:.0f} s; check the node's "
                            "network, endpoint (AWS_ENDPOINT_URL) and credentials / instance profile")
    if box:
        e = box[0]
        return e if isinstance(e, StorageError) else storage_error(d.uri, e)
    return None
