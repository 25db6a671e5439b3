"""The math grading path: extraction, equivalence, and the hard timeout around math-verify."""
import threading
import time

import pytest

from workers.tasks import math_grader as mg
from workers.tasks.hard_timeout import CallTimeout, ChildError, ChildFailed, HardTimeoutRunner


# -- extraction -------------------------------------------------------------------------------
@pytest.mark.parametrize("text, expected", [
    ("so \\boxed{42}.", "42"),
    ("\\boxed{1} then \\boxed{2}", "2"),
    ("\\boxed{\\frac{1}{2}}", "\\frac{1}{2}"),
    ("\\boxed{\\frac{\\sqrt{3}}{2}} done", "\\frac{\\sqrt{3}}{2}"),
    ("\\boxed{{a}{b}{\\{c\\}}}", "{a}{b}{\\{c\\}}"),
    ("\\boxed{\\{1,2\\}}", "\\{1,2\\}"),
    ("\\boxed { 7 }", "7"),
    ("\\boxed 5 apples", "5"),
    ("$\\boxed 5$", "5"),
    ("\\fbox{3}", "3"),
    ("\\boxed{\\left( 1, \\frac{2}{3} \\right)}", "\\left( 1, \\frac{2}{3} \\right)"),
    ("\\boxed{1} \\boxed{2", None),        # the last box is unclosed: truncated generation
    ("no box here 12", None),
    ("\\boxedfoo{3}", None),
    ("", None),
])
def test_last_boxed(text, expected):
    assert mg.last_boxed(text) == expected


@pytest.mark.parametrize("text, expected", [
    ("She has 3 apples.\n#### 18", "18"),
    ("#### 1,234", "1234"),
    ("#### -5", "-5"),
    ("#### $12", "12"),
    ("first #### 3 then #### 4", "4"),
    ("the total is 7 dollars, or 8.50 with tax.", "8.5"),
    ("answer: 1,000,000.", "1000000"),
    ("x = -0.25", "-0.25"),
    ("nothing numeric", None),
])
def test_gsm8k_answer(text, expected):
    assert mg.gsm8k_answer(text) == expected


def test_extraction_modes():
    assert mg.extract_answer("#### 5 \\boxed{6}", "gsm8k") == "5"
    assert mg.extract_answer("so \\boxed{6} and 7", "gsm8k") == "6"
    assert mg.extract_answer("so 6 and 7", "gsm8k") == "7"
    assert mg.extract_answer("so 6 and 7", "boxed") is None
    assert mg.extract_answer("so 6 and 7", "boxed_or_number") == "7"
    with pytest.raises(ValueError):
        mg.extract_answer("x", "nope")


# -- equivalence ------------------------------------------------------------------------------
FAST_EQUIVALENT = [
    ("25", "025"), ("1/2", "0.5"), ("\\frac{1}{2}", "0.5"), ("\\frac{1}{2}", "\\dfrac{1}{2}"),
    ("\\frac12", "\\frac{1}{2}"), ("-\\frac{3}{4}", "-0.75"), ("0.5", ".5"), ("5", "5.00"),
    ("1000", "1,000"), ("10", "10\\%"), ("90", "90^\\circ"), ("90^{\\circ}", "90"),
    ("\\text{Monday}", "Monday"), ("x=3", "3"), ("3", "$3$"), ("\\$5", "5"),
    ("\\left(1,2\\right)", "(1, 2)"), ("7", "7."), ("2", "\\tfrac{4}{2}"),
]
FAST_DIFFERENT = [("25", "26"), ("1/2", "0.51"), ("\\frac{1}{3}", "0.333"), ("3", "-3"),
                  ("100", "1000"), ("0", "")]


@pytest.mark.parametrize("gold, pred", FAST_EQUIVALENT)
def test_fast_path_equivalent(gold, pred):
    assert mg._fast_verdict(gold, pred) is True


@pytest.mark.parametrize("gold, pred", FAST_DIFFERENT)
def test_fast_path_different(gold, pred):
    assert mg._fast_verdict(gold, pred) is False


def test_fast_path_needs_no_child(monkeypatch):
    def boom():
        raise AssertionError("child process used for a trivial comparison")
    monkeypatch.setattr(mg, "get_runner", boom)
    for gold, pred in FAST_EQUIVALENT + FAST_DIFFERENT:
        mg.is_equivalent(gold, pred)
    assert mg.grade_answer("28", "7*3=21 12+21=33 33-5=28 \\boxed{28}").correct


# Needs math-verify (the child): symbolic cases.
SYMBOLIC = [
    ("\\frac{\\sqrt{2}}{2}", "\\frac{1}{\\sqrt{2}}", True),
    ("2\\sqrt{3}", "\\sqrt{12}", True),
    ("x^2+2x+1", "(x+1)^2", True),
    ("\\{1,2\\}", "\\{2,1\\}", True),
    ("[0,1)", "[0, 1)", True),
    ("(0,1)", "[0,1]", False),
    ("\\pi", "3.14159", False),
    ("3\\sqrt{2}", "\\sqrt{17}", False),
]


def test_symbolic_equivalence_through_math_verify():
    for gold, pred, same in SYMBOLIC:
        g = mg.grade_answer(gold, f"The answer is \\boxed{{{pred}}}.")
        assert g.correct is same and g.error is None, (gold, pred, g)


def test_pathological_answer_times_out_and_counts_as_wrong():
    t0 = time.monotonic()
    g = mg.grade_answer("1", "\\boxed{9^{9^{9^{9}}}}", timeout=1.0)
    assert not g.correct and "timed out" in g.error
    assert time.monotonic() - t0 < 10
    # the grader recovers: the next check starts a fresh child
    assert mg.grade_answer("\\frac{\\sqrt{2}}{2}", "\\boxed{\\frac{1}{\\sqrt{2}}}").correct


def test_long_junk_is_refused_quickly():
    t0 = time.monotonic()
    g = mg.grade_answer("3", "\\boxed{" + "(x+" * 4000 + "}")
    assert not g.correct and g.reason and g.error is None
    g = mg.grade_answer("3", "x" * 500_000)
    assert not g.correct and g.reason == "no \\boxed{} answer found" and g.error is None
    assert time.monotonic() - t0 < 1


def test_grading_works_from_a_thread():
    """math-verify's signal-based timeouts would raise outside the main thread; ours do not."""
    results = []
    t = threading.Thread(target=lambda: results.append(
        mg.grade_answer("\\frac{\\sqrt{2}}{2}", "\\boxed{\\frac{1}{\\sqrt{2}}}")))
    t.start()
    t.join(60)
    assert results and results[0].correct and results[0].error is None


# -- the child-process runner -----------------------------------------------------------------
def test_runner_timeout_kill_restart_and_errors():
    r = HardTimeoutRunner()
    try:
        assert r.call(divmod, 17, 5, timeout=30) == (3, 2)
        first = r.pid
        t0 = time.monotonic()
        with pytest.raises(CallTimeout):
            r.call(time.sleep, 60, timeout=0.5)
        assert time.monotonic() - t0 < 5
        assert r.pid is None  # killed
        assert r.call(divmod, 9, 2, timeout=30) == (4, 1)  # fresh child
        assert r.pid != first
        with pytest.raises(ChildError, match="ZeroDivisionError"):
            r.call(divmod, 1, 0, timeout=30)
        import os
        with pytest.raises(ChildFailed):
            r.call(os._exit, 3, timeout=30)  # the child dies mid-call
        assert r.call(abs, -2, timeout=30) == 2
    finally:
        r.close()
