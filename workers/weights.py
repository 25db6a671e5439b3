"""Model weights from the sweep's own bucket, fetched once per node into a node-local cache.

A fresh spot node would otherwise download an 8B model (16 GB) from the Hugging Face Hub, with
its rate limits.  Instead, put one copy next to the results, once::

    python -m workers.weights push GSAI-ML/LLaDA-8B-Instruct s3://YOUR-BUCKET/weights

and set ``DLLM_WEIGHTS_URI=s3://YOUR-BUCKET/weights`` where the driver runs (the driver forwards
it, with ``HF_HUB_OFFLINE=1``, to every actor: ``sweeps/engine/pool.py``).  The first actor on a node
that needs the model copies ``<URI>/<model id>/`` into ``DLLM_WEIGHTS_CACHE`` (default
``~/.cache/dllm-sweeps/weights``) through pyarrow's file systems (no CLI); other actors on that
node wait on a file lock and reuse it.  ``load_model`` reads a hub id from there when a complete
copy is present.  A model the prefix does not hold is loaded as before (Hub, or its cache).
"""
from __future__ import annotations

import fcntl
import os
import shutil
import sys
import uuid
from pathlib import Path
from typing import Optional

WEIGHTS_ENV = "DLLM_WEIGHTS_URI"
CACHE_ENV = "DLLM_WEIGHTS_CACHE"
_COMPLETE = ".dllm-complete"  # written last: a copy cut off half-way is never used


def cache_dir() -> Path:
    return Path(os.environ.get(CACHE_ENV) or "~/.cache/dllm-sweeps/weights").expanduser()


def _is_hub_id(model: str) -> bool:
    from workers.models.registry import PRESETS

    return model.lower() not in PRESETS and not Path(model).expanduser().exists() and model.count("/") == 1


def local_copy(model: str) -> Optional[Path]:
    """The node-local copy of hub id ``model`` if a complete one is cached, else None."""
    if not _is_hub_id(model):
        return None
    d = cache_dir() / model
    return d if (d / _COMPLETE).is_file() else None


def fetch_weights(model: str, uri: Optional[str] = None) -> Optional[Path]:
    """Copy ``<uri>/<model>/`` to the node cache unless a complete copy is there; returns the
    local directory, or None (no ``DLLM_WEIGHTS_URI``, not a hub id, or not in the prefix)."""
    uri = uri or os.environ.get(WEIGHTS_ENV)
    if not uri or not _is_hub_id(model):
        return None
    import pyarrow.fs as pafs

    dest = cache_dir() / model
    dest.parent.mkdir(parents=True, exist_ok=True)
    with open(cache_dir() / f".{model.replace('/', '--')}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # one copy per node, however many actors ask
        if (dest / _COMPLETE).is_file():
            return dest
        src = f"{uri.rstrip('/')}/{model}"
        fs, root = pafs.FileSystem.from_uri(src)
        if fs.get_file_info(root).type != pafs.FileType.Directory:
            return None  # not mirrored: loaded from the Hub (or its cache) as usual
        tmp = dest.with_name(f".{dest.name}.{uuid.uuid4().hex}.tmp")
        try:
            tmp.mkdir(parents=True)
            pafs.copy_files(root, str(tmp), source_filesystem=fs,
                            destination_filesystem=pafs.LocalFileSystem(), use_threads=True)
            (tmp / _COMPLETE).write_text(src)
            if dest.exists():
                shutil.rmtree(dest)
            tmp.rename(dest)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
    return dest


def push(model: str, uri: str) -> str:
    """Upload hub id ``model`` (downloaded or from the local Hub cache) to ``<uri>/<model>/``."""
    import pyarrow.fs as pafs
    from huggingface_hub import snapshot_download

    local = snapshot_download(model)
    fs, root = pafs.FileSystem.from_uri(f"{uri.rstrip('/')}/{model}")
    pafs.copy_files(local, root, source_filesystem=pafs.LocalFileSystem(), destination_filesystem=fs,
                    use_threads=True)
    return f"{uri.rstrip('/')}/{model}"


if __name__ == "__main__":
    if len(sys.argv) != 4 or sys.argv[1] != "push":
        sys.exit("usage: python -m workers.weights push MODEL_ID s3://BUCKET/weights")
    print(push(sys.argv[2], sys.argv[3]))
