"""--dry-run --throughput-from FILE (sweeps/dry_run.py): GPU-hours priced with the measured cells of
benchmarks/bench_gpu_native.py --json, the closest cell per sampler, named in the printout."""
from __future__ import annotations

import json

import pytest

from sweeps.engine.dry_run import estimate, format_estimate, load_throughput, pick_cell
from sweeps.engine.spec import SamplerSpec, SpecError, SweepSpec, TaskSpec


def _cell(sampler, cache, batch, rate, shape="llada-8b", dtype="bfloat16"):
    return {"sampler": sampler, "sampler_name": sampler, "cache_mode": cache, "batch": batch, "model_shape": shape,
            "dtype": dtype, "device": "H100", "fwd_tokens_s": rate}


CELLS = [_cell("confidence", "none", 32, 1000.0), _cell("confidence", "prefix", 32, 4000.0),
         _cell("confidence", "prefix", 1, 100.0), _cell("threshold", "prefix", 32, 3000.0),
         _cell("confidence", "prefix", 32, 9999.0, shape="dream-7b")]


def _spec(cache):
    return SweepSpec(name="p", models=["llada-8b-instruct"], cache={"llada-8b-instruct": cache} if cache else {},
                     tasks=[TaskSpec("countdown", limit=5, gen_length=32, block_length=8)],
                     samplers=[SamplerSpec("entropy"), SamplerSpec("threshold")], samples=4, batch_size=32)


def test_each_line_is_priced_with_its_closest_cell_and_the_cell_is_named(tmp_path):
    path = tmp_path / "cells.json"
    path.write_text(json.dumps(CELLS))
    cells = load_throughput(str(path))
    est = estimate(_spec("prefix"))
    ent, thr = est.lines
    assert pick_cell(cells, ent) is cells[1]      # one-token rule: the one-token cell, same cache and batch
    assert pick_cell(cells, thr) is cells[3]
    text = format_estimate([est], throughput=cells)
    hours = ent.total_tokens / 4000.0 / 3600 + thr.total_tokens / 3000.0 / 3600
    assert f"GPU-hours: {hours:,.1f} measured" in text
    assert "llada-8b confidence cache prefix batch 32 bfloat16 on H100: 4,000 fwd tokens/s  <- entropy/prefix" in text
    # without the cache, the uncached cell prices it
    assert pick_cell(cells, estimate(_spec(None)).lines[0]) is cells[0]


def test_a_bad_cell_file_is_one_line(tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps([{"sampler": "x"}]))
    with pytest.raises(SpecError, match="cannot read it|not a cell list"):
        load_throughput(str(bad))
