"""Math benchmarks (MATH-500, AIME 2024/2025, GSM8K): loaders, prompts, defaults, grading table,
pathological answers and bad input.  Fixtures in tests/fixtures; the real files in ../shared/data
are used when that folder exists (DLLM_SHARED_DATA overrides its location) and skipped otherwise."""
from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from workers.tasks import TASKS, load_task
from workers.tasks import math_grader as mg
from workers.tasks.hub import DatasetUnavailable
from workers.tasks.math500 import MATH_INSTRUCTION

FIX = Path(__file__).resolve().parent / "fixtures"
REPO = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("DLLM_SHARED_DATA", REPO.parent / "shared" / "data"))


def shared(name: str) -> Path:
    f = SHARED / name / "test.jsonl"
    if not f.is_file():
        pytest.skip(f"{f} not present (real benchmark files are optional)")
    return f


# -- registry and paper defaults ---------------------------------------------------------------
@pytest.mark.parametrize("name, gen_length", [("math500", 128), ("aime24", 512), ("aime25", 512),
                                               ("gsm8k", 256), ("humaneval", 256), ("mbpp", 256)])
def test_registered_with_the_papers_generation_lengths(name, gen_length):
    """000 App. B Table 4 (GSM8K: 256, the length 002 uses); block length 32 throughout."""
    assert name in TASKS
    mod = {"math500": "math500", "aime24": "aime", "aime25": "aime", "gsm8k": "gsm8k",
           "humaneval": "humaneval", "mbpp": "mbpp"}[name]
    module = __import__(f"workers.tasks.{mod}", fromlist=["x"])
    cls = next(v for v in vars(module).values()
               if isinstance(v, type) and getattr(v, "name", None) == name and "Task" in v.__name__)
    assert cls.gen_length == gen_length and cls.block_length == 32
    assert cls.gen_length % cls.block_length == 0 and cls.version.startswith(name + "-v")


# -- loaders on fixtures ------------------------------------------------------------------------
def test_math500_fixture():
    task = load_task("math500", path=str(FIX / "math500_mini.jsonl"))
    assert [p.problem_id for p in task.problems] == [
        "fixture/prealgebra/1.json", "fixture/algebra/2.json", "fixture/geometry/3.json",
        "fixture/number_theory/4.json"]
    assert [p.difficulty for p in task.problems] == ["1", "3", "5", "5"]
    assert task.tiers == ("1", "2", "3", "4", "5")
    p = task.problems[0]
    assert p.prompt == "What is $\\frac{1}{2} + \\frac{1}{4}$?\n" + MATH_INSTRUCTION
    assert "\\boxed{}" in p.prompt and p.reference == "\\frac{3}{4}" and p.meta["subject"] == "Prealgebra"
    for q in task.problems:
        assert task.grade(q, f"Thinking... so the answer is $\\boxed{{{q.reference}}}$.").correct
    assert task.grade(p, "\\boxed{0.75}").correct
    assert task.grade(task.problems[1], "\\boxed{(2,5]}").correct
    assert not task.grade(task.problems[1], "\\boxed{[2,5]}").correct
    assert task.grade(task.problems[3], "\\boxed{Tuesday}").correct
    assert [p.difficulty for p in load_task("math500", path=str(FIX / "math500_mini.jsonl"),
                                            difficulty="5").problems] == ["5", "5"]
    assert len(load_task("math500", path=str(FIX / "math500_mini.jsonl"), difficulty=[1, "3"]).problems) == 2


@pytest.mark.parametrize("name", ["aime24", "aime25"])
def test_aime_fixture_and_leading_zero_answers(name):
    task = load_task(name, path=str(FIX / "aime_mini.jsonl"))
    assert [p.problem_id for p in task.problems] == [f"{name}-1", f"{name}-2"]
    p, q = task.problems
    assert p.reference == "25" and p.meta["answer_raw"] == "025"  # "025" and 25 are one answer
    assert q.prompt.startswith("Find the remainder")  # "question" accepted for "problem"
    for ans in ("25", "025", "25.0"):
        assert task.grade(p, f"so \\boxed{{{ans}}}").correct, ans
    assert not task.grade(p, "\\boxed{24}").correct
    assert task.gen_length == 512


def test_gsm8k_fixture_and_extraction():
    task = load_task("gsm8k", path=str(FIX / "gsm8k_mini.jsonl"))
    p, q = task.problems
    assert p.reference == "1234" and q.reference == "18"
    assert p.problem_id.startswith("gsm8k-") and p.meta["index"] == 0
    for text in ("#### 1234", "The total is \\boxed{1,234}.", "1200 + 34 = 1234 pens", "#### 1,234"):
        assert task.grade(p, text).correct, text
    assert not task.grade(p, "#### 1235").correct
    assert not task.grade(q, "no number here").correct


# -- the real files, when present ---------------------------------------------------------------
def test_math500_real_file():
    task = load_task("math500", path=str(shared("math500")))
    assert len(task.problems) == 500
    counts = {t: len(task.by_difficulty(t)) for t in task.tiers}
    assert sum(counts.values()) == 500 and all(counts.values())
    assert len({p.meta["subject"] for p in task.problems}) == 7
    # every gold answer, boxed, is graded correct (a sample through the symbolic path too)
    wrong = [p.problem_id for p in task.problems[::5] if not task.grade(p, f"\\boxed{{{p.reference}}}").correct]
    assert wrong == []


@pytest.mark.parametrize("name", ["aime24", "aime25"])
def test_aime_real_files(name):
    task = load_task(name, path=str(shared(name)))
    assert len(task.problems) == 30
    assert all(p.reference.isdigit() and 0 <= int(p.reference) <= 999 for p in task.problems)
    assert all(task.grade(p, f"\\boxed{{{p.meta['answer_raw']}}}").correct for p in task.problems)


def test_gsm8k_real_file():
    task = load_task("gsm8k", path=str(shared("gsm8k")))
    assert len(task.problems) == 1319 and len({p.problem_id for p in task.problems}) == 1319
    assert all(task.grade(p, p.meta["solution"]).correct for p in task.problems[::10])


# -- the grading table ----------------------------------------------------------------------
# (gold, model answer, equivalent?) — all judged through the full path: \boxed{} extraction, then
# normalisation / exact rationals / math-verify in the hard-timeout child.
TABLE = [
    # fractions and decimals
    ("\\frac{1}{2}", "0.5", True), ("\\dfrac{3}{4}", "\\frac{3}{4}", True), ("\\frac{3}{4}", "0.75", True),
    ("\\frac{2}{3}", "0.67", False), ("\\frac{1}{3}", "\\frac{2}{6}", True), ("-\\frac{1}{2}", "\\frac{-1}{2}", True),
    ("\\frac{1}{2}", "-\\frac{1}{2}", False), ("\\frac{9}{2}", "4.5", True), ("\\frac{14}{3}", "4\\frac{2}{3}", True),
    ("0.1", "0.10", True), ("2.5", "2.50001", False), ("1/3", "0.3333333", False), ("\\tfrac{1}{4}", "0.25", True),
    # percent
    ("50\\%", "50", True), ("12.5\\%", "12.5", True), ("50\\%", "0.5", False), ("5\\%", "6\\%", False),
    # radicals
    ("2\\sqrt{2}", "\\sqrt{8}", True), ("\\frac{\\sqrt{3}}{3}", "\\frac{1}{\\sqrt{3}}", True),
    ("\\sqrt{3}", "\\sqrt{2}", False), ("11\\sqrt2", "11\\sqrt{2}", True), ("\\sqrt{2}", "1.414", False),
    ("3\\sqrt{13}", "\\sqrt{117}", True),
    # intervals
    ("(-\\infty, 2]", "(-\\infty,2]", True), ("(-\\infty, 2]", "(-\\infty, 2)", False), ("(1,5)", "[1,5]", False),
    ("(-\\infty,-1)\\cup(1,\\infty)", "(-\\infty, -1) \\cup (1, \\infty)", True), ("[1, 5)", "x \\in [1,5)", True),
    # tuples / \left( \right)
    ("(3, \\frac{\\pi}{2})", "\\left( 3, \\frac{\\pi}{2} \\right)", True), ("(1,2)", "(2,1)", False),
    ("(1, -2)", "\\left(1,-2\\right)", True), ("\\left( -1, 4 \\right)", "(-1,5)", False),
    # degrees
    ("30^\\circ", "30", True), ("30^{\\circ}", "30^\\circ", True), ("90^\\circ", "45^\\circ", False),
    # text answers
    ("\\text{Evelyn}", "Evelyn", True), ("\\text{(C)}", "C", True), ("\\text{Evelyn}", "Anna", False),
    ("\\text{yes}", "\\text{no}", False), ("\\textbf{(D)}", "D", True),
    # integers, leading zeros, separators, expressions, sets, matrices
    ("25", "025", True), ("25", "24", False), ("1,000", "1000", True), ("\\$32,348", "32348", True),
    ("x^2+2x+1", "(x+1)^2", True), ("x+1", "x-1", False), ("\\{1,2,3\\}", "\\{3,2,1\\}", True),
    ("\\pi", "3.14", False), ("y = 2x + 3", "2x+3", True), ("10^{10}", "10000000000", True),
    ("\\begin{pmatrix} 1 \\\\ 2 \\end{pmatrix}", "\\begin{pmatrix}1\\\\2\\end{pmatrix}", True),
]


def test_table_is_big_and_balanced():
    assert len(TABLE) >= 40
    assert sum(same for _, _, same in TABLE) >= 15 and sum(not same for _, _, same in TABLE) >= 15


@pytest.mark.parametrize("gold, pred, same", TABLE)
def test_grading_table(gold, pred, same):
    g = mg.grade_answer(gold, f"Let us compute. Therefore the answer is $\\boxed{{{pred}}}$.")
    assert g.correct is same, (gold, pred, g)
    assert g.error is None and g.extracted == pred


# -- pathological answers -------------------------------------------------------------------
def test_pathological_answers_finish_within_the_timeout_and_are_wrong():
    task = load_task("math500", path=str(FIX / "math500_mini.jsonl"), timeout=2.0)
    p = task.problems[2]  # gold 12
    alphabet = "()[]{}^_\\+-*/0123456789abcxyz "
    junk = "".join(alphabet[(i * 7919) % len(alphabet)] for i in range(10_000))
    cases = ["\\boxed{9^{9^{9^{9}}}}", junk, "\\boxed{" + junk.replace("{", "(").replace("}", ")") + "}",
             "\\boxed{" + "\\frac{1}{" * 300 + "}" * 301, "\\boxed{" + "(x+" * 3000 + "}", "x" * 100_000]
    for text in cases:
        t0 = time.monotonic()
        g = task.grade(p, text)
        assert not g.correct, text[:40]
        assert time.monotonic() - t0 < 2.0 + 5.0, text[:40]  # the timeout, plus a child restart
    assert task.grade(p, "\\boxed{12}").correct  # the grader recovers


# -- bad input --------------------------------------------------------------------------------
def test_unknown_benchmark_is_one_line_listing_the_real_ones():
    with pytest.raises(ValueError) as e:
        load_task("math-500")
    msg = str(e.value)
    assert "\n" not in msg and "math-500" in msg
    for name in ("math500", "aime24", "aime25", "gsm8k", "humaneval", "mbpp"):
        assert name in msg


@pytest.mark.parametrize("name", ["math500", "aime24", "aime25", "gsm8k"])
def test_missing_file_malformed_line_and_missing_fields(name, tmp_path):
    with pytest.raises(DatasetUnavailable) as e:
        load_task(name, path=str(tmp_path / "nope.jsonl"))
    assert "\n" not in str(e.value) and "nope.jsonl" in str(e.value)
    assert isinstance(e.value, FileNotFoundError)  # what sweep specs catch as bad input
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"problem": "x"}\n{not json\n')
    with pytest.raises(ValueError) as e:
        load_task(name, path=str(bad))
    assert "\n" not in str(e.value) and "bad.jsonl" in str(e.value)
    bad.write_text('{"unrelated": 1}\n')
    with pytest.raises(ValueError) as e:
        load_task(name, path=str(bad))
    assert "\n" not in str(e.value) and "lacks" in str(e.value)


@pytest.mark.parametrize("name, kw", [("math500", {"split": "train"}), ("math500", {"difficulty": "6"}),
                                      ("gsm8k", {"split": "validation"}), ("aime24", {"timeout": -1}),
                                      ("math500", {"nonsense": 1})])
def test_bad_arguments(name, kw):
    with pytest.raises((ValueError, TypeError)) as e:
        load_task(name, path=str(FIX / ("gsm8k_mini.jsonl" if name == "gsm8k" else
                                        "aime_mini.jsonl" if name == "aime24" else "math500_mini.jsonl")), **kw)
    assert "\n" not in str(e.value)


def test_gsm8k_answer_without_final_line(tmp_path):
    f = tmp_path / "g.jsonl"
    f.write_text('{"question": "q", "answer": "no final line"}\n')
    with pytest.raises(ValueError, match="####"):
        load_task("gsm8k", path=str(f))


def test_hub_ids_configs_and_splits(monkeypatch):
    """The hub path, with ``datasets.load_dataset`` replaced by a stub returning each hub's own
    field names: which dataset, config and split every benchmark asks for."""
    import types

    calls = []
    rows = {
        ("HuggingFaceH4/MATH-500", None, "test"): [
            {"problem": "1+1?", "solution": "\\boxed{2}", "answer": "2", "subject": "Algebra",
             "level": 2, "unique_id": "test/algebra/1.json"}],
        ("HuggingFaceH4/aime_2024", None, "train"): [
            {"id": 60, "problem": "p", "solution": "s", "answer": "204", "url": "u", "year": "2024"}],
        ("opencompass/AIME2025", "AIME2025-I", "test"): [{"question": "a", "answer": "70"},
                                                         {"question": "b", "answer": "588"}],
        ("opencompass/AIME2025", "AIME2025-II", "test"): [{"question": "c", "answer": "243"}],
        ("openai/gsm8k", "main", "test"): [{"question": "q", "answer": "r\n#### 7"}],
    }

    def load_dataset(name, config=None, split=None):
        calls.append((name, config, split))
        return rows[(name, config, split)]

    monkeypatch.setitem(sys.modules, "datasets", types.SimpleNamespace(load_dataset=load_dataset))
    assert load_task("math500").problems[0].difficulty == "2"
    assert [p.problem_id for p in load_task("aime24").problems] == ["aime24-60"]
    a25 = load_task("aime25")
    assert [p.problem_id for p in a25.problems] == ["aime25-I-1", "aime25-I-2", "aime25-II-1"]
    assert [p.reference for p in a25.problems] == ["70", "588", "243"]
    assert load_task("gsm8k").problems[0].reference == "7"
    assert calls == list(rows)


def test_hub_without_datasets_package_names_the_override(monkeypatch):
    import builtins

    real_import = builtins.__import__

    def no_datasets(name, *a, **kw):
        if name == "datasets" or name.startswith("datasets."):
            raise ImportError("No module named 'datasets'")
        return real_import(name, *a, **kw)

    monkeypatch.setattr(builtins, "__import__", no_datasets)
    with pytest.raises(DatasetUnavailable) as e:
        load_task("math500")
    msg = str(e.value)
    assert "\n" not in msg and "pip install datasets" in msg and "path=" in msg


def test_dataset_not_found_offline_is_one_line_naming_the_override(tmp_path):
    pytest.importorskip("datasets")
    env = dict(os.environ, HF_HUB_OFFLINE="1", HF_DATASETS_OFFLINE="1", HF_HOME=str(tmp_path / "hf"),
               PYTHONPATH=str(REPO))
    code = ("from workers.tasks import load_task\n"
            "try:\n    load_task('aime25')\nexcept Exception as e:\n"
            "    print(type(e).__name__ + '|' + str(e))\n")
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120)
    lines = out.stdout.strip().splitlines()
    assert len(lines) == 1, (out.stdout, out.stderr[-2000:])
    kind, msg = lines[0].split("|", 1)
    assert kind == "DatasetUnavailable"
    assert "opencompass/AIME2025" in msg and "load_task('aime25', path=" in msg
