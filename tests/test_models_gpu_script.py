"""The GPU benchmark script (benchmarks/bench_gpu_native.py) runs end to end on a scaled-down
shape on CPU, so it is ready when a GPU is lent."""
from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parent.parent / "benchmarks" / "bench_gpu_native.py"


@pytest.mark.slow
def test_gpu_script_runs_every_sampler_cache_and_batch_on_a_small_shape(capsys, tmp_path):
    spec = importlib.util.spec_from_file_location("bench_gpu_native", SCRIPT)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    rows = mod.main(["--small", "--device", "cpu", "--batches", "1,2", "--gen-length", "8",
                     "--block-length", "4", "--prompt-length", "6", "--json", str(tmp_path / "cells.json")])
    assert len(rows) == len(mod.SAMPLERS) * 2 * len(mod.CACHES)
    assert {(r["sampler"], r["batch"], r["cache"]) for r in rows} == {
        (s, b, c) for s in mod.SAMPLERS for b in (1, 2) for c in mod.CACHES}
    assert all(r["tokens_s"] > 0 and r["nfe_s"] > 0 for r in rows)
    assert all(r["identical"] == 1.0 and r["speedup"] == 1.0 for r in rows if r["cache"] == "off")
    from sweeps.engine.dry_run import load_throughput   # the cells --dry-run --throughput-from prices with

    cells = load_throughput(str(tmp_path / "cells.json"))
    assert len(cells) == len(rows) and {c["cache_mode"] for c in cells} == {"none", "prefix", "dual"}
    assert all(c["model_shape"] == "llada-small" and c["dtype"] == "float32" for c in cells)
    table = capsys.readouterr().out
    assert "| imh T=4 | 2 | dual |" in table and "tokens/s" in table
