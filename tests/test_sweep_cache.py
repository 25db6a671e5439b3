"""The KV cache as a sweep setting (docs/design.md §3): ``cache: none | prefix | dual`` per model in
the spec, carried by every batch into ``generate(..., prefix_cache=...)`` and written to every row;
000's paper specs default to the prefix cache that 000 App. B ran LLaDA with."""
from __future__ import annotations

import pytest

from sweeps.reproduce import smoke_spec, table_specs
from sweeps.engine.spec import SamplerSpec, SpecError, SweepSpec, TaskSpec, expand, load_spec, spec_from_dict
from workers.actor import SweepWorker, WorkerSetupError


def _d(**kw) -> dict:
    return {"name": "c", "models": ["tiny"], "tasks": [{"name": "countdown", "limit": 2, "gen_length": 8,
                                                        "block_length": 4}],
            "samplers": ["confidence"], "samples": 2, **kw}


def test_cache_is_set_per_model_or_for_all_and_defaults_to_none():
    assert spec_from_dict(_d()).cache_for("tiny") == "none"
    assert spec_from_dict(_d(cache="prefix")).cache == {"tiny": "prefix"}
    per = spec_from_dict(_d(models=[{"name": "a", "cache": "dual"}, "b"]))
    assert (per.models, per.cache_for("a"), per.cache_for("b")) == (["a", "b"], "dual", "none")
    mixed = spec_from_dict(_d(models=["a", {"name": "b", "cache": "none"}], cache="prefix"))
    assert mixed.cache == {"a": "prefix"}        # a model's own entry wins over the top-level mode
    assert spec_from_dict(_d(models=["a", "b"], cache={"b": "prefix"})).cache == {"b": "prefix"}


@pytest.mark.parametrize("bad, msg", [
    (dict(cache="kv"), "cache of 'tiny' must be one of none, prefix, dual, got 'kv'"),
    (dict(models=[{"name": "tiny", "cache": True}]), "must be one of none, prefix, dual, got True"),
    (dict(cache={"other": "prefix"}), "cache names model 'other', which models does not list"),
    (dict(models=[{"name": "tiny", "kv": "prefix"}]), "unknown key 'kv'"),
])
def test_a_bad_cache_setting_is_one_line(bad, msg):
    with pytest.raises(SpecError, match=msg.replace("(", r"\(").replace(")", r"\)")):
        spec_from_dict(_d(**bad))


def test_batches_carry_the_mode_of_their_model(small_model_dir):
    spec = SweepSpec(name="c", models=[small_model_dir, "tiny"], cache={small_model_dir: "prefix"},
                     tasks=[TaskSpec("countdown", limit=2, gen_length=8, block_length=4)],
                     samplers=[SamplerSpec("confidence")], samples=2)
    plan = expand(spec)
    assert {(b.model, b.cache, b.prefix_cache) for b in plan.batches} == {
        (small_model_dir, "prefix", "prefix"), ("tiny", "none", False)}
    assert all(b.subset(b.job_ids[:1]).cache == b.cache for b in plan.batches)


def test_000_specs_run_llada_with_the_prefix_cache_and_their_smoke_run_keeps_it():
    for table in ("000-table2", "000-fig3-left"):
        for path in table_specs(table):
            spec = load_spec(path)
            if any("wedlm" in m for m in spec.models):   # WeDLM's confirmed-prefix cache is its adapter's own
                assert spec.cache == {}, path
                continue
            assert spec.cache == {"llada-8b-instruct": "prefix"}, table   # 000 App. B
            smoke, _ = smoke_spec(spec)
            assert smoke.cache == {"tiny": "prefix"}
            assert spec.with_models(["dream-7b-instruct"]).cache == {"dream-7b-instruct": "prefix"}
    assert load_spec(table_specs("002-fig6")[0]).cache == {}   # exact decoding where a paper is silent


def _batch(model: str, cache: str):
    spec = SweepSpec(name="c", models=[model], cache={model: cache},
                     tasks=[TaskSpec("countdown", limit=2, gen_length=8, block_length=4)],
                     samplers=[SamplerSpec("threshold", params={"threshold": 0.5, "temperature": 1.0})],
                     samples=2, batch_size=4)   # sampled: two seeds a problem (greedy runs one)
    (b,) = expand(spec, check_models=False).batches
    return b


def test_the_worker_decodes_through_the_cache_and_rows_say_so(small_model_dir, tmp_path, monkeypatch):
    import polars as pl

    from workers.prefix_cache import PrefixCache

    calls = []
    real = PrefixCache.logits
    monkeypatch.setattr(PrefixCache, "logits", lambda self, *a, **k: calls.append(self.mode) or real(self, *a, **k))
    w = SweepWorker(str(tmp_path / "out"), "test")
    res = w.run(_batch(small_model_dir, "prefix"))
    assert calls and set(calls) == {"prefix"}                    # generate got prefix_cache="prefix"
    rows = pl.read_parquet(res.shard)
    assert rows.height == 4 and rows["cache"].to_list() == ["prefix"] * 4 and rows["error"].is_null().all()
    calls.clear()
    plain = pl.read_parquet(w.run(_batch(small_model_dir, "none")).shard)
    assert not calls and plain["cache"].to_list() == ["none"] * 4
    # one layer: the prefix cache is exact (workers/prefix_cache.py), so the samples are the same
    key = ["problem_id", "seed"]
    assert rows.sort(key)["completion"].to_list() == plain.sort(key)["completion"].to_list()


def test_a_cache_the_model_cannot_serve_stops_the_sweep_in_one_line(small_model_dir, tmp_path):
    w = SweepWorker(str(tmp_path / "out"), "test")
    with pytest.raises(WorkerSetupError, match="cannot decode with cache: dual .*set cache: none or prefix"):
        w.run(_batch(small_model_dir, "dual"))     # the tiny model has a prefix cache, no dual one
    assert not list((tmp_path / "out" / "shards").glob("*.parquet"))   # no error rows written
