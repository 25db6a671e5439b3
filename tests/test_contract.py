"""The row contract and knob registry (workers/contract.py) are the one place a knob is declared:
the row schema, spec validation and the analysis' dials, column types and symbols derive from it."""
from __future__ import annotations

import polars as pl
import pyarrow as pa

from workers import contract


def test_every_column_knob_is_a_nullable_row_column_of_its_dtype():
    for k in contract.KNOB_REGISTRY:
        if not k.column:
            assert k.name not in contract.SCHEMA.names
            continue
        f = contract.SCHEMA.field(k.name)
        assert f.nullable and f.type == (pa.float64() if k.dtype == "float" else pa.int64())


def test_the_other_layers_read_the_registry():
    from analysis.aggregate import KNOB_COLUMNS
    from analysis.configs import KNOBS, knob_of
    from analysis.load import CONTRACT
    from analysis.plots import KNOB_SYMBOLS
    from sweeps.engine.spec import NONNEGATIVE_KNOBS
    from workers.rows import SCHEMA

    assert SCHEMA is contract.SCHEMA and list(CONTRACT) == contract.SCHEMA.names
    assert CONTRACT["alpha"] == pl.Float64 and CONTRACT["chain_length"] == pl.Int64
    assert KNOB_COLUMNS == tuple(k.name for k in contract.KNOB_REGISTRY if k.column)
    assert set(NONNEGATIVE_KNOBS) == {k.name for k in contract.KNOB_REGISTRY}
    assert KNOBS == {"imh": "alpha", "threshold": "threshold", "ete": "threshold", "factor": "factor",
                     "med": "lam", "eb": "gamma"}
    assert knob_of("confidence") == "temperature" and KNOB_SYMBOLS["threshold"] == "θ"


def test_added_columns_are_nullable():
    for name in contract.ADDED_COLUMNS:
        assert contract.SCHEMA.field(name).nullable
