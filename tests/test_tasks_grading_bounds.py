"""Grading untrusted output is bounded in time and exact in its verdicts (issue 26 items 2, 5, 6).

A candidate controls the records on its result channel: whatever it writes there is a plain fail
(``correct`` False, ``error`` None, the why in ``reason``), decoded under size limits proportional
to the expected output and a CPU-time limit."""
from __future__ import annotations

import time

import pytest

from workers.sandbox import SandboxResult
from workers.tasks import plain_data as pd
from workers.tasks.code_grader import CodeTests, Oracle, same_output, verdict

P61 = (1 << 61) - 1  # CPython hashes an int n > 0 to n mod 2**61 - 1: these all hash to 5


def _stream(records: list[str]) -> SandboxResult:
    return SandboxResult(0, "", "", False, 0.1, "namespaces", channel="".join(records).encode())


def _one(expected, out_json: str, atol: float = 0.0):
    tests = CodeTests(dataset="humaneval", entry_point="f", code_prompt="")
    orc = Oracle([pd.encode([1])], [[1]], [expected], [("base", 0, 1)], atol)
    return verdict(tests, orc, _stream([f'{{"i":0,"o":{out_json}}}\n']), 1.0)


def test_a_hash_collision_set_filling_the_channel_fails_in_well_under_two_cpu_seconds():
    items = [f'{{"i":"{hex(5 + k * P61)}"}}' for k in range(1, 300_000)]
    while sum(map(len, items)) + len(items) > (8 << 20) - 64:   # the channel's cap: 8 MiB
        del items[-5000:]
    assert len(items) > 200_000
    t0 = time.process_time()
    g = _one({1, 2, 3}, '{"s":[' + ",".join(items) + "]}")
    cpu = time.process_time() - t0
    assert not g.correct and g.error is None and "grader's limits" in g.reason
    assert cpu < 2.0, f"{cpu:.2f} s of grader CPU"


def test_equal_hash_items_are_refused_even_when_the_expected_set_is_large():
    """Size limits alone allow 4x a large expected set; the hash check still stops the flood."""
    budget = pd.Budget(set(range(20_000)))
    tree = {"s": [{"i": hex(5 + k * P61)} if 5 + k * P61 >= 1 << 63 else 5 + k * P61 for k in range(20_000)]}
    t0 = time.process_time()
    with pytest.raises(pd.OverBudget, match="share one hash"):
        pd.from_json(tree, 0, budget)
    assert time.process_time() - t0 < 1.0
    assert pd.from_json({"s": list(range(20_000))}, 0, pd.Budget(set(range(20_000)))) == set(range(20_000))


def test_size_limits_follow_the_expected_output():
    small = pd.Budget([1, 2, 3])
    with pytest.raises(pd.OverBudget, match="larger than expected"):
        pd.from_json({"l": list(range(1000))}, 0, small)
    with pytest.raises(pd.OverBudget, match="deeper"):
        pd.from_json({"l": [{"l": [{"l": [{"l": [1]}]}]}]}, 0, pd.Budget([1]))
    with pytest.raises(pd.OverBudget, match="integer"):
        pd.from_json({"i": "f" * 2000}, 0, pd.Budget(7))
    assert pd.from_json({"i": "f" * 2000}, 0, pd.Budget(int("f" * 2000, 16))) == int("f" * 2000, 16)


def test_cpu_time_limit_is_checked_while_decoding():
    ticks = iter(range(10**9))
    budget = pd.Budget(list(range(100_000)), cpu_s=300, clock=lambda: next(ticks))  # 1 "s" a call
    with pytest.raises(pd.OverBudget, match="CPU time"):
        pd.from_json({"l": list(range(100_000))}, 0, budget)


def test_a_complex_with_a_4000_digit_real_part_is_a_plain_fail_not_a_grader_error():
    huge = "9" * 4000
    with pytest.raises(pd.NotPlainData):           # never OverflowError, even without a budget
        pd.from_json({"c": [int(huge), 0]})
    g = _one(1j, '{"c":[' + huge + ",0]}")
    assert not g.correct and g.error is None and g.reason


def test_tolerance_compares_numbers_only_as_evalplus_does():
    # numpy's allclose refuses string arrays: EvalPlus fails these tests; float("3") must not pass
    assert not same_output("humaneval", "f", 1e-3, [3, 4], ["3", "4"], [])
    assert not same_output("humaneval", "f", 1e-3, "3", "3.0000001", [])
    assert not same_output("humaneval", "f", 1e-3, [None], [None, None], [])
    g = _one(["3", "4"], '{"l":[3,4]}', atol=1e-3)
    assert not g.correct and g.error is None
    # numbers within tolerance still pass, and the exact match of anything
    assert same_output("humaneval", "f", 1e-3, [3.0004, 4], [3, 4.0], [])
    assert same_output("humaneval", "f", 0.0, [0.1 + 0.2], [0.3], [])       # is_floats: 1e-6
    assert same_output("humaneval", "f", 1e-3, ["3", "4"], ["3", "4"], [])
    assert not same_output("humaneval", "f", 1e-3, [2 ** 70], [2 ** 70 + 1], [])  # object array
