"""A real S3 API on loopback, shared by the storage tests and ``benchmarks.bench_s3_resume``:
moto's standalone server (``moto[server]``, the test extra).  Not used by a sweep itself.

``configure_env()`` runs before any Ray starts (tests/conftest.py at import, the benchmark at
start), so every process (drivers, Ray workers) sees the standard AWS variables: dummy
credentials and ``AWS_ENDPOINT_URL`` pointing at 127.0.0.1 on a free port -- nothing here can
reach real AWS.  The server itself starts only on ``start()`` (the ``s3_server`` fixture).
"""
from __future__ import annotations

import io
import os
import socket
import subprocess
import sys
import time
import urllib.request
import uuid
from dataclasses import dataclass

import pyarrow as pa
import pyarrow.fs as pafs


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def configure_env() -> None:
    """Point the standard AWS variables at the (future) loopback server."""
    port = _free_port()
    os.environ.update({
        "AWS_ENDPOINT_URL": f"http://127.0.0.1:{port}",
        "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1", "AWS_REGION": "us-east-1",
        "AWS_EC2_METADATA_DISABLED": "true",
    })
    for k in ("AWS_SESSION_TOKEN", "AWS_PROFILE", "AWS_ENDPOINT_URL_S3"):
        os.environ.pop(k, None)


@dataclass
class S3Server:
    endpoint: str
    proc: subprocess.Popen

    def bucket(self, prefix: str = "t") -> str:
        """A new empty bucket; returns its name."""
        import boto3

        name = f"{prefix}-{uuid.uuid4().hex[:12]}"
        boto3.client("s3", endpoint_url=self.endpoint).create_bucket(Bucket=name)
        return name

    def client(self):
        import boto3

        return boto3.client("s3", endpoint_url=self.endpoint)

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()


def start(endpoint: str) -> S3Server:
    """Start ``python -m moto.server`` on the endpoint's loopback port and wait until it answers."""
    port = endpoint.rsplit(":", 1)[1]
    proc = subprocess.Popen([sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", port],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 60
    while True:
        try:
            urllib.request.urlopen(f"{endpoint}/moto-api/", timeout=2)
            return S3Server(endpoint, proc)
        except OSError:
            if proc.poll() is not None or time.monotonic() > deadline:
                proc.kill()
                raise RuntimeError(f"moto server did not start on {endpoint}")
            time.sleep(0.1)


class CountingFS(pafs.FileSystemHandler):
    """Wraps a filesystem and counts the bytes read through it."""

    def __init__(self, fs: pafs.FileSystem) -> None:
        self.fs, self.bytes = fs, 0

    def open_input_file(self, path):
        handler = self
        f = self.fs.open_input_file(path)

        class Reader(io.RawIOBase):
            def readable(self): return True
            def seekable(self): return True
            def seek(self, off, whence=0): return f.seek(off, whence)
            def tell(self): return f.tell()
            def readinto(self, buf):
                data = f.read(len(buf))
                handler.bytes += len(data)
                buf[:len(data)] = data
                return len(data)

        return pa.PythonFile(Reader(), mode="r")

    def get_type_name(self): return "counting"
    def normalize_path(self, p): return self.fs.normalize_path(p)
    def get_file_info(self, paths): return self.fs.get_file_info(paths)
    def get_file_info_selector(self, sel): return self.fs.get_file_info(sel)
    def equals(self, other): return self is other
    def open_input_stream(self, path): return self.fs.open_input_stream(path)
    def create_dir(self, *a): return self.fs.create_dir(*a)
    def delete_dir(self, p): return self.fs.delete_dir(p)
    def delete_dir_contents(self, *a): return self.fs.delete_dir_contents(*a)
    def delete_root_dir_contents(self): raise NotImplementedError
    def delete_file(self, p): return self.fs.delete_file(p)
    def move(self, a, b): return self.fs.move(a, b)
    def copy_file(self, a, b): return self.fs.copy_file(a, b)
    def open_output_stream(self, p, metadata=None): return self.fs.open_output_stream(p)
    def open_append_stream(self, p, metadata=None): raise NotImplementedError
