"""IMH's base sampler (000 §4.3): the analysis pairs each IMH configuration with the
baseline it equals at α = 1, so a report can draw the α-curve next to the base's τ-curve."""
from __future__ import annotations

import json

import polars as pl
import pytest

from analysis.configs import IMH_BASE_SAMPLERS, base_sampler_of, imh_base_configs


def test_the_analysis_table_is_the_samplers_table():
    from workers.samplers.imh import BASE_SAMPLERS, POSITION_RULES

    assert IMH_BASE_SAMPLERS == BASE_SAMPLERS and set(BASE_SAMPLERS) == set(POSITION_RULES)


def test_base_sampler_of_reads_the_position_and_defaults_to_max_prob():
    assert base_sampler_of("imh", json.dumps({"alpha": 2.0, "position": "margin"})) == "margin"
    assert base_sampler_of("imh", {"alpha": 2.0}) == "max_prob"
    assert base_sampler_of("confidence", {"temperature": 1.0}) is None


def test_imh_configs_pair_with_their_base_configs_only():
    p = lambda **kw: json.dumps(kw, sort_keys=True)  # noqa: E731
    configs = pl.DataFrame({
        "task": ["t"] * 7 + ["u"],
        "sampler": ["imh", "imh", "max_prob", "max_prob", "confidence", "entropy", "imh", "max_prob"],
        "params": [p(alpha=2.0, position="confidence"), p(alpha=1.0, position="entropy"),
                   p(temperature=0.5), p(temperature=1.0), p(temperature=1.0), p(temperature=1.0),
                   p(alpha=4.0, position="confidence"), p(temperature=1.0)],
        "base_sampler": ["max_prob", None, None, None, None, None, None, None],
    })
    out = imh_base_configs(configs)
    assert out.select(["task", "alpha", "base_sampler", "base_temperature"]).rows() == [
        ("t", 1.0, "entropy", 1.0),
        ("t", 2.0, "max_prob", 0.5), ("t", 2.0, "max_prob", 1.0),
        ("t", 4.0, "max_prob", 0.5), ("t", 4.0, "max_prob", 1.0),
    ]   # never confidence, never another task's configs
    with pytest.raises(ValueError, match="sampler.*params"):
        imh_base_configs(configs.drop("params"))
