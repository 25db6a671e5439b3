"""Clean failure and shutdown: stray files, a full disk, SIGTERM, two drivers.
Each ends with every job present exactly once."""
from __future__ import annotations

import collections
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from sweeps.engine.driver import INJECT_ENV, run_sweep
from sweeps.engine.spec import expand, load_spec

ROOT = Path(__file__).resolve().parent.parent


def _spec(tmp_path: Path, model: str, name: str, limit: int = 4, batch: int = 4) -> Path:
    p = tmp_path / f"{name}.yaml"
    p.write_text(json.dumps({
        "name": name, "models": [model],
        "tasks": [{"name": "countdown", "limit": limit, "gen_length": 8, "block_length": 8}],
        "samplers": [{"name": "confidence", "grid": {"temperature": [0.5, 1.0]}}],
        "samples": 4, "batch_size": batch}))
    return p


def _ids(out: Path) -> collections.Counter:
    files = sorted((out / "shards").glob("shard-*.parquet"))
    return collections.Counter(pl.read_parquet(files, columns=["job_id"])["job_id"].to_list())


def _once(out: Path, spec: Path) -> None:
    ids = _ids(out)
    assert set(ids) == set(expand(load_spec(spec)).job_ids()), "jobs missing or foreign"
    assert max(ids.values()) == 1, "a job was written twice"
    assert not list((out / "shards").glob(".*.tmp")), "a temporary was left behind"


def _cli(spec: Path, out: Path, address: str, *extra: str) -> list[str]:
    return [sys.executable, "-m", "sweeps.run", str(spec), "--out", str(out), "--address", address,
            "--workers", "1", "--no-progress", *extra]


@pytest.mark.slow
def test_stray_files_are_ignored_by_driver_and_analysis_alike(ray_session, small_model_dir, tmp_path):
    from analysis import load_samples

    spec = _spec(tmp_path, small_model_dir, "strays", limit=2)
    out = tmp_path / "out"
    s = load_spec(spec)
    first = run_sweep(s, str(out), workers=1, progress=False, report=False, log=lambda m: None)
    assert first.complete
    real = sorted((out / "shards").glob("shard-*.parquet"))[0]
    shutil.copy(real, out / "shards" / "backup-copy.parquet")                      # a copy of a shard
    pq.write_table(pa.table({"job_id": ["x"], "correct": ["yes"]}), out / "shards" / "wrong.parquet")
    (out / "shards" / "notes.txt").write_text("not Parquet")
    bad_name = "shard-" + "0" * 32 + ".parquet"  # a shard's name on a wrong-schema file: quarantined
    pq.write_table(pa.table({"job_id": ["y"]}), out / "shards" / bad_name)
    logs: list[str] = []
    again = run_sweep(s, str(out), workers=1, progress=False, report=True, log=logs.append)
    assert again.complete and again.ran == 0 and again.report, logs
    assert len(again.quarantined) == 1 and not (out / "shards" / bad_name).exists()
    stray_lines = [m for m in logs if "not result shards" in m]
    assert len(stray_lines) == 1, logs
    assert all(n in stray_lines[0] for n in ("backup-copy.parquet", "wrong.parquet", "notes.txt"))
    with pytest.warns(UserWarning, match="backup-copy.parquet"):
        df = load_samples(out).collect()
    assert df.height == again.total == df["job_id"].n_unique()
    summary = json.loads((out / "report" / "summary.json").read_text())
    assert summary["overview"]["rows"] == again.total
    assert (out / "shards" / "backup-copy.parquet").exists()  # left alone
    _once(out, spec)


@pytest.fixture()
def small_disk(tmp_path):
    """A 2 MiB tmpfs (root only: mount(2) needs CAP_SYS_ADMIN)."""
    if os.geteuid() != 0:
        pytest.skip("mounting a small tmpfs to fill needs root")
    mnt = tmp_path / "disk"
    mnt.mkdir()
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=2m", "tmpfs", str(mnt)], capture_output=True, text=True)
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.strip()}")
    try:
        yield mnt
    finally:
        subprocess.run(["umount", "-l", str(mnt)], capture_output=True)


@pytest.mark.slow
def test_a_full_disk_stops_the_sweep_in_one_line_then_resume_completes(ray_address, small_model_dir, small_disk, tmp_path):
    spec = _spec(tmp_path, small_model_dir, "diskfull", limit=6, batch=2)
    out = small_disk / "out"
    filler = small_disk / "filler"
    with open(filler, "wb") as f:  # leave ~40 KB: the spec, the lock and a few shards fit
        f.write(b"\0" * (2 * 2**20 - 40 * 2**10))
    env = {**os.environ, INJECT_ENV: json.dumps({"sleep": 0.05})}
    done = subprocess.run(_cli(spec, out, ray_address, "--no-report"), cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=300)
    err = done.stderr.strip().splitlines()
    assert done.returncode == 1, done.stdout + done.stderr
    assert "Traceback" not in done.stderr and len(err) == 1, done.stderr
    assert err[0].startswith("error: cannot write ") and str(out) in err[0], err
    assert "no space left on device" in err[0] and "rerun" in err[0], err
    print(err[0])
    if (out / "shards").exists():  # nothing half-written is a result, nor left as a temporary
        assert not list((out / "shards").glob(".*.tmp"))
        for f in (out / "shards").glob("shard-*.parquet"):
            pq.read_table(f)
    filler.unlink()
    again = subprocess.run(_cli(spec, out, ray_address, "--no-report"), cwd=ROOT, env=env,
                           capture_output=True, text=True, timeout=300)
    assert again.returncode == 0, again.stdout + again.stderr
    _once(out, spec)


def _ray_procs(marker: str) -> list[str]:
    out = []
    for pid in os.listdir("/proc"):
        if pid.isdigit():
            try:
                cmd = open(f"/proc/{pid}/cmdline", "rb").read().replace(b"\0", b" ").decode(errors="replace")
            except OSError:
                continue
            if marker in cmd:
                out.append(f"{pid}: {cmd[:120]}")
    return out


@pytest.mark.slow
def test_sigterm_is_like_ctrl_c_then_resume(ray_address, small_model_dir, tmp_path):
    """SIGTERM mid-sweep: one line, exit 143, finished shards kept, no Ray process of this
    run left (the driver started its own Ray here); a rerun completes every job once."""
    spec = _spec(tmp_path, small_model_dir, "sigterm", limit=6, batch=2)
    out = tmp_path / "out"
    ray_tmp = tempfile.mkdtemp(prefix="rtT", dir="/tmp")
    env = {**os.environ, INJECT_ENV: json.dumps({"sleep": 0.4}), "RAY_TMPDIR": ray_tmp}
    cmd = [sys.executable, "-m", "sweeps.run", str(spec), "--out", str(out), "--workers", "1",
           "--no-progress", "--no-report"]
    p = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        t_end = time.monotonic() + 240
        while p.poll() is None and not list((out / "shards").glob("shard-*.parquet")) and time.monotonic() < t_end:
            time.sleep(0.1)
        assert p.poll() is None, p.communicate()
        assert _ray_procs(ray_tmp), "the driver's own Ray should be running"
        p.send_signal(signal.SIGTERM)
        stdout, stderr = p.communicate(timeout=60)
        assert p.returncode == 143, stdout + stderr
        assert stderr.strip().splitlines()[-1].startswith("interrupted (SIGTERM)"), stderr
        assert "Traceback" not in stderr and "Aborted" not in stderr, stderr
        deadline = time.monotonic() + 15
        while _ray_procs(ray_tmp) and time.monotonic() < deadline:
            time.sleep(0.5)
        assert not _ray_procs(ray_tmp), _ray_procs(ray_tmp)
        status = json.loads((out / "status.json").read_text())
        assert status["state"] == "interrupted" and not (out / "driver.lock").exists()
        kept = len(_ids(out))
        assert kept > 0
        again = subprocess.run(_cli(spec, out, ray_address, "--no-report"), cwd=ROOT, env=env | {"RAY_TMPDIR": os.environ["RAY_TMPDIR"]},
                               capture_output=True, text=True, timeout=300)
        assert again.returncode == 0 and f"{kept} already present" in again.stdout, again.stdout + again.stderr
        _once(out, spec)
    finally:
        if p.poll() is None:
            p.kill()
        shutil.rmtree(ray_tmp, ignore_errors=True)


@pytest.mark.slow
def test_a_second_driver_is_refused_or_shares_on_purpose(ray_address, small_model_dir, tmp_path):
    spec = _spec(tmp_path, small_model_dir, "twodrivers", limit=6, batch=2)
    out = tmp_path / "out"
    env = {**os.environ, INJECT_ENV: json.dumps({"sleep": 0.3})}
    first = subprocess.Popen(_cli(spec, out, ray_address, "--no-report"), cwd=ROOT, env=env,
                             stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        t_end = time.monotonic() + 120
        while first.poll() is None and not (out / "status.json").exists() and time.monotonic() < t_end:
            time.sleep(0.05)
        second = subprocess.run(_cli(spec, out, ray_address, "--no-report"), cwd=ROOT, env=env,
                                capture_output=True, text=True, timeout=120)
        assert first.poll() is None, "the first driver ended before the second started"
        assert second.returncode == 2, second.stdout + second.stderr
        line = second.stderr.strip()
        assert "\n" not in line and f"pid {first.pid}" in line and "--force-lock" in line, line
        # a deliberate second driver on the same directory: both finish, rows stay unique
        shared = subprocess.run(_cli(spec, out, ray_address, "--no-report", "--force-lock"), cwd=ROOT,
                                env=env, capture_output=True, text=True, timeout=300)
        assert shared.returncode == 0, shared.stdout + shared.stderr
        log, _ = first.communicate(timeout=300)
        assert first.returncode == 0, log
    finally:
        if first.poll() is None:
            first.kill()
    _once(out, spec)
    assert not (out / "driver.lock").exists()


@pytest.mark.slow
def test_after_a_sigkill_the_next_run_neither_attaches_nor_trips(ray_address, small_model_dir, tmp_path):
    """SIGKILL of a driver that started its own Ray: that Ray dies with it (Ray's fate sharing),
    its lock is left behind naming a dead pid, and the next run takes the lock over, cleans the
    temporaries and completes every job once."""
    spec = _spec(tmp_path, small_model_dir, "sigkill", limit=6, batch=2)
    out = tmp_path / "out"
    ray_tmp = tempfile.mkdtemp(prefix="rtK", dir="/tmp")
    env = {**os.environ, INJECT_ENV: json.dumps({"sleep": 0.4}), "RAY_TMPDIR": ray_tmp}
    cmd = [sys.executable, "-m", "sweeps.run", str(spec), "--out", str(out), "--workers", "1",
           "--no-progress", "--no-report"]
    p = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        t_end = time.monotonic() + 240
        while p.poll() is None and not list((out / "shards").glob("shard-*.parquet")) and time.monotonic() < t_end:
            time.sleep(0.1)
        assert p.poll() is None
        p.kill()
        p.wait()
        deadline = time.monotonic() + 20
        while _ray_procs(ray_tmp) and time.monotonic() < deadline:
            time.sleep(0.5)
        assert not _ray_procs(ray_tmp), _ray_procs(ray_tmp)
        lock = json.loads((out / "driver.lock").read_text())
        assert lock["pid"] == p.pid
        (out / "shards" / ".shard-leftover.parquet.0a1b.tmp").write_bytes(b"PAR1 half")  # a cut-off write
        again = subprocess.run(_cli(spec, out, ray_address, "--no-report"), cwd=ROOT,
                               env={**env, "RAY_TMPDIR": os.environ["RAY_TMPDIR"]},
                               capture_output=True, text=True, timeout=300)
        assert again.returncode == 0, again.stdout + again.stderr
        assert f"pid {p.pid}" in again.stdout and "taking over" in again.stdout, again.stdout
        _once(out, spec)
    finally:
        if p.poll() is None:
            p.kill()
        shutil.rmtree(ray_tmp, ignore_errors=True)
