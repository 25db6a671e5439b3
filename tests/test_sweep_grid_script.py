"""sweeps/engine/grid_script.py: the small experiment scripts' smoke runs go through the one smoke helper
(sweeps.engine.cli.shrink): few problems and seeds, their own name and output directory."""
from __future__ import annotations

from sweeps.engine import grid_script
from sweeps.engine.spec import SamplerSpec


def test_smoke_shrinks_problems_and_seeds_under_its_own_name(monkeypatch):
    seen = {}

    def fake_execute(spec, args):
        seen["spec"], seen["out"] = spec, args.out
        return 0

    monkeypatch.setattr(grid_script, "execute", fake_execute)
    parser = grid_script.grid_parser("x", "demo", name="demo", problems=48, samples=8)
    samplers = [SamplerSpec("imh", grid={"chain_length": [1, 3]}, params={"alpha": 2.0})]
    tables = []
    assert grid_script.run_grid(parser.parse_args(["--smoke"]), samplers, tables.append) == 0
    spec = seen["spec"]
    assert spec.name == "demo-smoke" and seen["out"] == "runs/demo-smoke" and tables == ["runs/demo-smoke"]
    assert spec.samples == 4 and all(t.limit == 3 for t in spec.tasks)
    assert spec.samplers[0].grid == {"chain_length": [1, 3]}          # the script cuts its own grid
    assert grid_script.run_grid(parser.parse_args([]), samplers, tables.append) == 0
    assert seen["spec"].name == "demo" and seen["spec"].samples == 8 and seen["spec"].tasks[0].limit == 48
