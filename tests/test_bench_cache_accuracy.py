"""benchmarks/bench_cache_accuracy.py: the paired comparison of a cache against no cache on the
same problems and seeds.  On a one-layer model the prefix cache is exact (workers/prefix_cache.py),
so every token agrees and every paired difference is exactly zero."""
from __future__ import annotations

from benchmarks.bench_cache_accuracy import cache_cost


def test_an_exact_cache_costs_nothing(small_model_dir, monkeypatch):
    from workers.models import load_model
    from workers.prefix_cache import PrefixCache
    from workers.tasks import load_task

    served = []
    real = PrefixCache.logits
    monkeypatch.setattr(PrefixCache, "logits", lambda self, *a, **k: served.append(1) or real(self, *a, **k))

    model, task = load_model(small_model_dir), load_task("arith")
    (r,) = cache_cost(model, task, task.problems[:3], "threshold", {"threshold": 0.5, "temperature": 1.0},
                      ["prefix"], samples=2, k=2, gen_length=8, block_length=4, batch=4, n_boot=50)
    assert served                                  # the cached run did go through the cache
    assert (r.cache, r.tokens_identical, r.samples_identical) == ("prefix", 1.0, 1.0)
    assert r.pass1[0] == r.pass1[1] and r.d_pass1 == (0.0, 0.0, 0.0) and r.d_passk == (0.0, 0.0, 0.0)
