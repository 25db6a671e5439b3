"""Published numbers (analysis/data/published.csv): the file round-trips and validates, every value
is found again in the paper's text at its table (a second reading), every row belongs to a
configuration its table's spec runs, and the comparison says inside/outside correctly on a
synthetic sweep whose measured values are known."""
from __future__ import annotations

import csv
import json
import re
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from analysis.paper_compare import COLUMNS, MODEL_ALIASES, PUBLISHED_CSV, compare, load_published, markdown
from analysis.synthetic import Config, synthetic_rows

PAPERS = Path("/work/shared/papers")
NUM = re.compile(r"\d+(?:\.\d+)?")


@pytest.fixture(scope="module")
def pub() -> pl.DataFrame:
    return load_published()


def test_round_trip(pub, tmp_path):
    out = tmp_path / "p.csv"
    pub.drop("value_f").write_csv(out)
    again = load_published(out)
    assert again.equals(pub)
    assert pub.height == 265 and tuple(pub.columns[:len(COLUMNS)]) == COLUMNS
    # cells per table, counted on the printed tables (000 Table 2: 56 WeDLM-8B + 50 LLaDA cells)
    counts = dict(pub.group_by("table").len().iter_rows())
    assert counts == {"000-table2": 106, "000-table3": 17, "004-table1": 24, "004-table7": 38,
                      "004-table6": 40, "004-table2": 40}


@pytest.mark.parametrize("field,bad,msg", [
    ("value", "0.4x", "is not a number"), ("value", "1.5", "out of range"), ("metric", "bleu", "unknown metric"),
    ("unit", "ratio", "unit must be"), ("config", "{sampler: x}", "not JSON"), ("paper", "001", "paper must be"),
])
def test_validator_rejects_bad_rows(tmp_path, field, bad, msg):
    rows = list(csv.DictReader(PUBLISHED_CSV.open(encoding="utf-8")))
    rows[0][field] = bad
    p = tmp_path / "bad.csv"
    with p.open("w", newline="", encoding="utf-8") as f:
        w = csv.DictWriter(f, fieldnames=COLUMNS)
        w.writeheader()
        w.writerows(rows)
    with pytest.raises(ValueError, match=msg):
        load_published(p)


def test_validator_rejects_duplicates(tmp_path):
    lines = PUBLISHED_CSV.read_text(encoding="utf-8").splitlines()
    p = tmp_path / "dup.csv"
    p.write_text("\n".join(lines + [lines[1]]) + "\n", encoding="utf-8")
    with pytest.raises(ValueError, match="duplicate cell"):
        load_published(p)


# ------------------------------------------------------------------------- second reading
# Where each table sits in the extracted text: (paper file prefix, first line, line after it).
WINDOWS = {
    "000-table2": ("000", r"^WeDLM-8B$", r"^† Default decoding"),
    "000-table3": ("000", r"^Table 3: MCMC dynamics", r"^First, to assess"),
    "004-table1": ("004", r"^Parallel Tokens\tGSM8K", r"^Table 1: MDLMs"),
    "004-table7": ("004", r"^Decoding order\tGSM8K", r"^Table 7: "),
    "004-table6": ("004", r"Dataset\tSampler\tModel\tAccuracy", r"^Table 6: "),
    "004-table2": ("004", r"358 Model\t359 Sampler", r"378 \*\*Table 2"),
}
# Which cells one printed line holds, in print order (the CSV keeps that order within a group).
LINE_GROUP = {"000-table2": ["model", "method", "metric"], "000-table3": ["method"], "004-table1": ["method"],
              "004-table7": ["method"], "004-table6": ["benchmark", "model", "method"], "004-table2": ["model", "method"]}


def _window(table: str) -> list[str]:
    prefix, start, end = WINDOWS[table]
    files = sorted(PAPERS.glob(f"{prefix}_*.txt"))
    if not files:
        pytest.skip(f"paper {prefix} text not present under {PAPERS}")
    lines = files[0].read_text(encoding="utf-8").splitlines()
    i = next(n for n, line in enumerate(lines) if re.search(start, line))
    j = next(n for n in range(i + 1, len(lines)) if re.search(end, lines[n]))
    return lines[i:j]


def _is_subsequence(needle: list[str], hay: list[str]) -> bool:
    it = iter(hay)
    return all(any(h == x for h in it) for x in needle)


@pytest.mark.parametrize("table", sorted(WINDOWS))
def test_values_are_read_again_from_the_paper(pub, table):
    """Each printed line of the table holds one group of cells (a row of the paper's table); the
    group's values, as printed, must appear in order among that line's numbers."""
    window = _window(table)
    numbers = [NUM.findall(line) for line in window]
    rows = pub.filter(pl.col("table") == table)
    groups = rows.group_by(LINE_GROUP[table], maintain_order=True).agg(pl.col("value"))
    assert groups.height > 0
    for g in groups.iter_rows(named=True):
        values = g["value"]
        assert any(_is_subsequence(values, nums) for nums in numbers), \
            f"{table} {[g[k] for k in LINE_GROUP[table]]}: {values} not found on one line of the table"


def test_second_reading_catches_a_swapped_value(pub):
    """The check above is not vacuous: swapping two cells of a row breaks it."""
    window = _window("004-table1")
    numbers = [NUM.findall(line) for line in window]
    vals = pub.filter((pl.col("table") == "004-table1") & (pl.col("method") == "2 parallel tokens"))["value"].to_list()
    assert any(_is_subsequence(vals, n) for n in numbers)
    vals[0], vals[1] = vals[1], vals[0]
    assert not any(_is_subsequence(vals, n) for n in numbers)


# ------------------------------------------------------------------------- rows vs specs
def test_every_row_is_a_configuration_of_its_tables_spec(pub):
    from sweeps.reproduce import table_specs
    from sweeps.engine.spec import load_spec, sampler_configs

    specs = {t: [load_spec(p) for p in table_specs(t)] for t in pub["table"].unique().to_list()}
    for r in pub.iter_rows(named=True):
        cfg = json.loads(r["config"])
        if cfg.get("template"):   # 004 Table 2's infilling rows: sweeps/early_exit.py, said in the note
            assert r["table"] == "004-table2" and "early_exit" in r["note"]
            continue
        ok = False
        for spec in specs[r["table"]]:
            if not set(a.lower() for a in MODEL_ALIASES[r["model"]]) & {m.lower() for m in spec.models}:
                continue      # another part of the table (000 Table 2: LLaDA and WeDLM specs)
            for t in spec.tasks:
                if t.name != r["task"] or t.gen_length != cfg["gen_length"]:
                    continue
                if "block_length" in cfg and t.block_length != cfg["block_length"]:
                    continue
                for s in spec.samplers:
                    if s.name != cfg["sampler"]:
                        continue
                    for _, full in sampler_configs(s):
                        if all(full.get(k) == v for k, v in cfg.items() if k not in ("sampler", "gen_length", "block_length")):
                            ok = True
        assert ok, f"{r['table']} {r['model']} {r['benchmark']} {r['method']}: no spec configuration {cfg}"
    assert "WeDLM" in pub.filter(pl.col("table") == "000-table3")["note"][0]


# ------------------------------------------------------------------------- comparison
def _sweep(accuracy: dict[str, np.ndarray], n: int = 4, task: str = "math500", gen: int = 128) -> pl.DataFrame:
    """Rows of 000 Table 2's configs (τ = 0.5, block 32) with chosen per-problem accuracy."""
    cfgs = [Config(name, {"temperature": 0.5}) for name in accuracy]
    p = len(next(iter(accuracy.values())))
    df = synthetic_rows(p, n, cfgs, model="llada-8b-instruct", task=task, gen_length=gen, block_length=32)
    # correct for the first round(acc * n) seeds of each problem
    want = pl.DataFrame({"sampler": [c.sampler for c in cfgs for _ in range(p)],
                         "problem_id": [f"p{i}" for _ in cfgs for i in range(p)],
                         "_k": np.concatenate([np.round(accuracy[c.sampler] * n) for c in cfgs])})
    return (df.join(want, on=["sampler", "problem_id"]).with_columns(correct=pl.col("seed") < pl.col("_k"))
            .drop("_k"))


def test_comparison_inside_and_outside_on_a_known_sweep(pub):
    p = 40
    ent = np.array([1.0] * 12 + [0.0] * (p - 12))        # mean 0.3: the published 0.294 is inside
    conf = np.ones(p)                                     # mean 1.0, CI [1, 1]: 0.349 is outside (below)
    margin = np.zeros(p)                                  # mean 0, CI [0, 0]: 0.286 is outside (above)
    rows = _sweep({"entropy": ent, "confidence": conf, "margin": margin})
    df = compare(rows, pub, table="000-table2")
    got = {(r["method"], r["metric"]): r for r in df.iter_rows(named=True)}
    assert set(got) == {("Entropy", "pass@1"), ("Confidence", "pass@1"), ("Margin", "pass@1")}  # n = 4 < 16: no pass@16
    m = got[("Margin", "pass@1")]
    assert m["measured"] == 0.0 and m["hi"] == 0.0 and m["inside"] is False
    e, c = got[("Entropy", "pass@1")], got[("Confidence", "pass@1")]
    assert e["measured"] == pytest.approx(0.3) and e["published"] == pytest.approx(0.294)
    assert e["lo"] < 0.294 < e["hi"] and e["inside"] is True and e["problems"] == p and e["samples"] == 4 * p
    assert c["measured"] == 1.0 and (c["lo"], c["hi"]) == (1.0, 1.0) and c["inside"] is False
    text = markdown(df)
    assert "| 0.294 | 0.300 [" in text and "1 of 3 published values lie inside" in text
    # another model, not a stand-in: nothing is compared
    assert compare(rows.with_columns(model=pl.lit("tiny")), pub, table="000-table2").height == 0
    assert compare(rows.with_columns(model=pl.lit("tiny")), pub, table="000-table2",
                   model_map={"LLaDA-8B-Instruct": "tiny"}).height == 3


def test_code_tasks_base_tests_and_plus_tests(pub):
    """HumanEval is base tests (Grade.extracted), HumanEval+ is the row's `correct` (base and plus)."""
    rows = _sweep({"random": np.ones(6)}, task="humaneval", gen=256)
    rows = rows.with_columns(extracted=pl.lit("base:pass plus:fail"), correct=pl.lit(False))
    got = {r["benchmark"]: r["measured"] for r in compare(rows, pub, table="000-table2").iter_rows(named=True)}
    assert got == {"HumanEval": 1.0, "HumanEval+": 0.0}
    assert compare(rows.drop("extracted"), pub, table="000-table2")["benchmark"].to_list() == ["HumanEval+"]


def test_report_gets_the_section(tmp_path, pub):
    from analysis.report import write_report
    from workers.layout import shard_name

    rows = _sweep({"entropy": np.array([1.0] * 3 + [0.0] * 7), "confidence": np.ones(10)})
    (tmp_path / "shards").mkdir()
    rows.write_parquet(tmp_path / "shards" / shard_name("0" * 32))
    rdir = write_report(tmp_path, n_boot=200)
    md = (rdir / "report.md").read_text()
    assert "## Paper vs measured" in md and "| 000-table2 | LLaDA-8B-Instruct | MATH500 | Entropy | pass@1 | 0.294 |" in md
    assert json.loads((rdir / "summary.json").read_text())["paper_vs_measured"][0]["table"] == "000-table2"
    from analysis.paper_compare import main

    assert main([str(tmp_path), "--table", "000-table2"]) == 0
    assert main([str(tmp_path / "missing")]) == 2
