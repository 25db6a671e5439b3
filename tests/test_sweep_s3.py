"""Sweeps against a real S3 API (moto's server on loopback, through pyarrow's S3FileSystem as a
cluster uses it; endpoint and credentials from the standard AWS variables)."""
from __future__ import annotations

import collections
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pyarrow as pa
import pyarrow.fs as pafs
import pytest

from sweeps.engine.driver import INJECT_ENV
from sweeps.engine.spec import expand, load_spec
from workers.jobs import job_id
from workers.testing import CountingFS
from workers.shards import SweepDir, shard_filename

ROOT = Path(__file__).resolve().parent.parent


def _shard_table(n: int, completion_bytes: int = 10):
    from test_sweep_shards import batch, table

    b = batch(n)
    t = table(b)
    big = pa.array(["x" * completion_bytes] * n, pa.string())
    return b, t.set_column(t.schema.get_field_index("completion"), "completion", big)


def test_an_upload_that_never_completed_is_not_a_result(s3_server, tmp_path):
    """S3 has no rename: a shard is published by its upload completing.  A multipart upload
    left open (its writer killed) and a writer killed mid-stream leave nothing counted."""
    bucket = s3_server.bucket("killed")
    d = SweepDir(f"s3://{bucket}/sw")
    d.create()
    b, t = _shard_table(4)
    key = f"sw/shards/{shard_filename(b.job_ids)}"
    # 1. an open multipart upload with a part already uploaded
    c = s3_server.client()
    up = c.create_multipart_upload(Bucket=bucket, Key=key)
    c.upload_part(Bucket=bucket, Key=key, UploadId=up["UploadId"], PartNumber=1, Body=b"PAR1" + b"\0" * 5 * 2**20)
    assert c.list_multipart_uploads(Bucket=bucket).get("Uploads")
    # 2. a pyarrow writer killed after streaming 12 MB (pyarrow has uploaded parts by then)
    code = ("import os, pyarrow.fs as f; fs, p = f.FileSystem.from_uri(os.environ['URI']); "
            "o = fs.open_output_stream(p); [o.write(b'\\0' * 2**20) for _ in range(12)]; "
            "print('written', flush=True); os._exit(9)")
    other = f"s3://{bucket}/sw/shards/{shard_filename([job_id('s', 'm', 't', 'p', 'x', {}, 0)])}"
    done = subprocess.run([sys.executable, "-c", code], env={**os.environ, "URI": other},
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 9 and "written" in done.stdout, done.stderr
    scan = d.scan(full=False)
    assert scan.ids == set() and not scan.corrupt and d.list_shards() == []
    # the same batch completed later is the one and only result
    d.write(t)
    assert d.scan(full=False).ids == set(b.job_ids)


def test_the_resume_scan_on_s3_reads_only_the_job_id_column(s3_server):
    bucket = s3_server.bucket("scan")
    d = SweepDir(f"s3://{bucket}/sw")
    assert d.atomic_put  # the driver's resume scan uses full=False on object stores
    d.create()
    b, t = _shard_table(8)
    t = t.set_column(t.schema.get_field_index("completion"), "completion",  # ~2 MB compressed
                     pa.array([os.urandom(250_000).hex() for _ in range(8)], pa.string()))
    path = d.write(t)
    size = d.fs.get_file_info(path).size
    counting = CountingFS(d.fs)
    d.fs = pafs.PyFileSystem(counting)
    scan = d.scan(full=False)
    assert scan.ids == set(b.job_ids)
    # footer + job_id pages (pyarrow reads the last 64 KiB at once to find the footer)
    assert counting.bytes < 0.06 * size, (counting.bytes, size)
    counting.bytes = 0
    d.scan(full=True)  # the deep check reads everything: the counter does see column data
    assert counting.bytes > 0.9 * size


def _spec(tmp_path: Path, model: str) -> Path:
    p = tmp_path / "spec.yaml"
    p.write_text(json.dumps({
        "name": "s3resume", "models": [model],
        "tasks": [{"name": "countdown", "limit": 6, "gen_length": 8, "block_length": 8}],
        "samplers": [{"name": "confidence", "grid": {"temperature": [0.5, 1.0]}}],
        "samples": 4, "batch_size": 4}))
    return p


@pytest.mark.slow
def test_sweep_on_s3_killed_resumed_reported(s3_server, ray_address, small_model_dir, tmp_path):
    """Kill -9 mid-sweep, read the partial sweep (status, report), resume: every job once."""
    import polars as pl

    from analysis import load_samples

    bucket = s3_server.bucket("sweep")
    out = f"s3://{bucket}/runs/s3resume"
    spec = _spec(tmp_path, small_model_dir)
    plan = expand(load_spec(spec))
    d = SweepDir(out)
    cmd = [sys.executable, "-m", "sweeps.run", str(spec), "--out", out, "--address", ray_address,
           "--workers", "2", "--no-progress"]
    env = {**os.environ, INJECT_ENV: json.dumps({"sleep": 0.5})}
    p = subprocess.Popen(cmd + ["--no-report"], cwd=ROOT, env=env, stdout=subprocess.PIPE,
                         stderr=subprocess.STDOUT, text=True)
    t_end = time.monotonic() + 120
    while p.poll() is None and len(d.list_shards()) < 2 and time.monotonic() < t_end:
        time.sleep(0.1)
    assert p.poll() is None, p.communicate()[0]
    os.kill(p.pid, signal.SIGKILL)
    p.wait()
    # The actors outlive their driver for a moment (Ray reaps them asynchronously) and may still
    # publish the batches they hold (two each): read the partial sweep once no shard has appeared
    # for 3 s, so status and scan below see the same shards.
    seen, quiet_since, t_end = len(d.list_shards()), time.monotonic(), time.monotonic() + 60
    while time.monotonic() - quiet_since < 3.0 and time.monotonic() < t_end:
        time.sleep(0.2)
        now = len(d.list_shards())
        if now != seen:
            seen, quiet_since = now, time.monotonic()
    partial = d.scan(full=False)
    assert 0 < len(partial.ids) < plan.total

    # a sweep still "running" (its driver gone) can be watched and analysed: what is done
    st = subprocess.run([sys.executable, "-m", "sweeps.status", out, "--scan"], cwd=ROOT,
                        capture_output=True, text=True, timeout=60)
    assert st.returncode == 0 and "running" in st.stdout and f"/{plan.total} done" in st.stdout, st.stdout + st.stderr
    assert f"on disk: {len(partial.ids)} job(s)" in st.stdout, st.stdout
    assert load_samples(out).collect().height == len(partial.ids)
    rep = subprocess.run([sys.executable, "-m", "analysis.report", out, "--n-boot", "20"], cwd=tmp_path,
                         capture_output=True, text=True, timeout=300)
    assert rep.returncode == 0, rep.stdout + rep.stderr

    # resume: only the missing jobs run; then analysis over s3:// sees every job exactly once
    final = subprocess.run(cmd, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600)
    assert final.returncode == 0, final.stdout + final.stderr
    assert f"{len(partial.ids)} already present" in final.stdout, final.stdout
    df = load_samples(out).collect()
    ids = collections.Counter(df["job_id"].to_list())
    assert set(ids) == set(plan.job_ids()) and max(ids.values()) == 1
    assert df.filter(pl.col("error").is_not_null()).height == 0
    fs, root = pafs.FileSystem.from_uri(out)
    assert fs.get_file_info(f"{root}/report/report.md").type == pafs.FileType.File
    assert json.loads(d.read_small("status.json"))["state"] == "done"
    assert fs.get_file_info(f"{root}/driver.lock").type == pafs.FileType.NotFound
