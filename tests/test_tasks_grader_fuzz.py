"""Fuzzing the graders (issue 26): on hostile or random input no grader call takes over 1 s of
CPU, no exception escapes, and a gold answer written in any of >= 5 equivalent forms is correct.

A small hypothesis run is part of the normal suite; the slow test feeds >= 10,000 inputs from a
seeded generator (same shapes, far cheaper to generate than hypothesis' shrinking strategies).  Math equivalence here stays on the exact fast path (numbers and their renderings);
math-verify's own child process is exercised by tests/test_tasks_math_nearmiss.py."""
from __future__ import annotations

import random
import time
from fractions import Fraction

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from workers.tasks import math_grader as mg
from workers.tasks import plain_data as pd
from workers.tasks.code_grader import same_output
from workers.tasks.mmlu_pro import extract_letter

FAST = 60
CPU_LIMIT_S = 1.0
ALPHABET = "0123456789 #$,.-+/{}()[]\\^_=%~:;abxyABCDIJ\n\t" + "boxed frac sqrt text answer is bmod infty"


def _timed(fn, *args):
    t0 = time.process_time()
    out = fn(*args)
    cpu = time.process_time() - t0
    assert cpu < CPU_LIMIT_S, f"{fn.__name__} took {cpu:.2f} s of CPU"
    return out


# hostile completions: random pieces of the graders' own syntax, runs of whitespace and digits
_piece = st.one_of(st.text(ALPHABET, max_size=40), st.sampled_from(
    ["####", "\\boxed{", "}", "\\boxed ", "answer is", "answer: (", "\\frac{", "1,", "$"]),
    st.builds(lambda c, n: c * n, st.sampled_from([" ", "1", ",", "{", "#", ".", "-", "("]),
              st.integers(0, 3000)))
completions = st.lists(_piece, max_size=12).map("".join)


def _extract_all(text: str) -> None:
    for mode in ("boxed", "gsm8k", "boxed_or_number"):
        ans = _timed(mg.extract_answer, text, mode)
        assert ans is None or isinstance(ans, str)
    letter, why = _timed(extract_letter, text)
    assert (letter is None) != (why is None)


# random plain-data trees a candidate could write, decoded against a random expected value
_leaf = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=True),
                  st.text(max_size=8), st.builds(lambda s: {"i": s}, st.text("0123456789abcdefx-", max_size=30)),
                  st.builds(lambda a, b: {"c": [a, b]}, st.integers(-10**40, 10**40), st.floats()))
trees = st.recursive(_leaf, lambda kids: st.one_of(
    st.builds(lambda t, xs: {t: xs}, st.sampled_from("ltsf"), st.lists(kids, max_size=6)),
    st.builds(lambda kv: {"d": [[k, v] for k, v in kv]}, st.lists(st.tuples(kids, kids), max_size=4)),
    st.dictionaries(st.text(max_size=2), kids, max_size=2)), max_leaves=12)
expected_values = st.recursive(st.one_of(st.integers(-1000, 1000), st.floats(-1e3, 1e3), st.text(max_size=4)),
                               lambda kids: st.one_of(st.lists(kids, max_size=4), st.tuples(kids, kids)),
                               max_leaves=10)


def _decode_and_compare(tree, expected, atol: float) -> None:
    def grade():
        try:
            out = pd.from_json(tree, 0, pd.Budget(expected))
        except pd.NotPlainData:
            return False
        return same_output("humaneval", "f", atol, out, expected, [])
    assert isinstance(_timed(grade), bool)


# gold numbers and five or more renderings of each that a grader must accept
def renderings(v: Fraction) -> list[str]:
    sign = "-" if v < 0 else ""
    a = abs(v)
    forms = [f"\\frac{{{v.numerator}}}{{{v.denominator}}}", f"{v.numerator}/{v.denominator}",
             f"{sign}\\dfrac{{{a.numerator}}}{{{a.denominator}}}",
             f"\\frac{{{2 * v.numerator}}}{{{2 * v.denominator}}}", f"${v.numerator}/{v.denominator}$",
             f"\\tfrac{{{v.numerator}}}{{{v.denominator}}}"]
    if v.denominator == 1:
        n = v.numerator
        forms += [str(n), f"{n}.0", f"{n}.00", f"\\text{{{n}}}", f"{n}^\\circ", f"{n}\\%", f"x={n}",
                  f"{n:,}", f"{n:,}".replace(",", "\\,"), f"0{n}" if n >= 0 else str(n)]
    elif 10**6 % v.denominator == 0:
        forms.append(f"{sign}{a.numerator // a.denominator}.{str(a.numerator * 10**6 // a.denominator % 10**6).zfill(6).rstrip('0') or '0'}")
    return forms


golds = st.one_of(st.integers(-10**9, 10**9).map(Fraction),
                  st.builds(Fraction, st.integers(-10**4, 10**4), st.sampled_from([2, 4, 5, 8, 3, 7, 16, 125])))


def _gold_forms_correct(v: Fraction) -> None:
    gold = str(v.numerator) if v.denominator == 1 else f"\\frac{{{v.numerator}}}{{{v.denominator}}}"
    forms = renderings(v)
    assert len(forms) >= 5
    for form in forms:
        g = _timed(mg.grade_answer, gold, f"The answer is \\boxed{{{form}}}.")
        assert g.correct and g.error is None, (gold, form, g)
        assert _timed(mg.grade_answer, gold, f"so the total is #### {form}", "gsm8k").error is None


def _cfg(n: int):
    return settings(max_examples=n, deadline=None, database=None, derandomize=True,
                    suppress_health_check=list(HealthCheck))


@_cfg(FAST)
@given(completions)
def test_extraction_is_fast_and_never_raises(text):
    _extract_all(text)


@_cfg(FAST)
@given(trees, expected_values, st.sampled_from([0.0, 1e-6, 1e-3]))
def test_candidate_outputs_decode_and_compare_without_escaping(tree, expected, atol):
    _decode_and_compare(tree, expected, atol)


@_cfg(FAST // 3)
@given(golds)
def test_gold_answers_in_five_forms_are_correct(v):
    _gold_forms_correct(v)


def _random_text(rng: random.Random) -> str:
    parts = []
    for _ in range(rng.randrange(12)):
        kind = rng.randrange(3)
        if kind == 0:
            parts.append("".join(rng.choice(ALPHABET) for _ in range(rng.randrange(40))))
        elif kind == 1:
            parts.append(rng.choice(["####", "\\boxed{", "}", "\\boxed ", "answer is", "answer: (", "\\frac{", "1,", "$"]))
        else:
            parts.append(rng.choice(" 1,{#.-(") * rng.randrange(3000))
    return "".join(parts)


def _random_tree(rng: random.Random, depth: int = 0):
    kind = rng.randrange(10 if depth < 4 else 6)
    if kind == 0:
        return rng.choice([None, True, False, float("nan"), float("inf"), -0.0, "", "x"])
    if kind == 1:
        return rng.choice([rng.randrange(-10**6, 10**6), 5 + rng.randrange(1, 10**4) * ((1 << 61) - 1),
                           rng.random() * 10 ** rng.randrange(-5, 300)])
    if kind == 2:
        return {"i": "".join(rng.choice("0123456789abcdefx-") for _ in range(rng.randrange(1, 40)))}
    if kind == 3:
        return {"c": [rng.choice([1.5, 10**rng.randrange(1, 400)]), rng.random()]}
    if kind in (4, 5):
        return {"b": rng.choice(["", "aGk=", "!!", "aGk"])} if kind == 4 else rng.choice(["s", 7, [1]])
    items = [_random_tree(rng, depth + 1) for _ in range(rng.randrange(6))]
    if kind == 6:
        return {"d": [[items[i], items[i - 1]] for i in range(len(items))]}
    return {rng.choice("ltsf"): items}


def _random_expected(rng: random.Random, depth: int = 0):
    k = rng.randrange(5 if depth < 2 else 3)
    if k == 0:
        return rng.randrange(-1000, 1000)
    if k == 1:
        return rng.uniform(-1e3, 1e3)
    if k == 2:
        return rng.choice(["3", "", "ab"])
    items = [_random_expected(rng, depth + 1) for _ in range(rng.randrange(4))]
    return items if k == 3 else tuple(items)


@pytest.mark.slow
def test_graders_on_ten_thousand_seeded_inputs():
    rng = random.Random(26)
    n = 0
    for _ in range(4000):
        _extract_all(_random_text(rng))
        n += 1
    for _ in range(4000):
        _decode_and_compare(_random_tree(rng), _random_expected(rng), rng.choice([0.0, 1e-6, 1e-3]))
        n += 1
    for _ in range(2000):
        v = Fraction(rng.randrange(-10**9, 10**9)) if rng.random() < 0.5 else \
            Fraction(rng.randrange(-10**4, 10**4), rng.choice([2, 4, 5, 8, 3, 7, 16, 125]))
        _gold_forms_correct(v)
        n += 1
    assert n >= 10_000
