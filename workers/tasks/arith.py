"""Arith: multi-step integer arithmetic with a short, rigid chain of thought and a boxed answer.

Prompt      ``"Compute 12+7*3-5\\n"``
Completion  ``"7*3=21 12+21=33 33-5=28 \\boxed{28}"``

The chain of thought performs one operation per step in a fixed order — every ``*`` first, left
to right, then ``+``/``-`` left to right — writing ``a op b=c`` and separating steps with one
space, then ``\\boxed{answer}``.  Graded through the math grading path
(``math_grader.grade_answer``: last ``\\boxed{}`` + equivalence), exactly like MATH500, so only
the final answer counts.

Tiers (``difficulty``): ``2-step``, ``3-step``, ``4-step`` = number of operations.  Operands are
integers 1-20, operators drawn uniformly from ``+ - *``; every intermediate value and the answer
lie in 0-99 (problems breaking that are redrawn), so every number in a completion has at most
two digits and the longest completion is 46 characters.
"""
from __future__ import annotations

import random
from dataclasses import dataclass
from pathlib import Path
from typing import Optional, Sequence, Union

from . import math_grader
from .base import Grade, Problem, Task, in_test_bucket, make_problem_id, read_jsonl

NAME = "arith"
VERSION = "arith-v1"
DATA_FILE = Path(__file__).with_name("data") / f"{VERSION}-test.jsonl"
TEST_PER_TIER = 200
TEST_BUCKET_PER_MILLE = 100


@dataclass(frozen=True)
class Tier:
    n_ops: int
    operand_range: tuple[int, int] = (1, 20)
    value_range: tuple[int, int] = (0, 99)


TIERS: dict[str, Tier] = {
    "2-step": Tier(2),
    "3-step": Tier(3),
    "4-step": Tier(4),
}


def format_prompt(expression: str) -> str:
    return f"Compute {expression}\n"


def solve(operands: Sequence[int], ops: Sequence[str],
          value_range: Optional[tuple[int, int]] = None) -> Optional[tuple[int, list[str]]]:
    """(answer, steps) evaluating ``*`` first then ``+ -`` left to right, one step per
    operation; None if an intermediate leaves ``value_range``."""
    vals = list(operands)
    ops = list(ops)
    steps: list[str] = []
    lo, hi = value_range if value_range else (None, None)

    def apply(i: int) -> bool:
        a, b, op = vals[i], vals[i + 1], ops[i]
        c = a * b if op == "*" else a + b if op == "+" else a - b
        if lo is not None and not lo <= c <= hi:
            return False
        steps.append(f"{a}{op}{b}={c}")
        vals[i:i + 2] = [c]
        del ops[i]
        return True

    while "*" in ops:
        if not apply(ops.index("*")):
            return None
    while ops:
        if not apply(0):
            return None
    return vals[0], steps


def format_completion(answer: int, steps: Sequence[str]) -> str:
    return " ".join(list(steps) + [f"\\boxed{{{answer}}}"])


def _draw(tier: Tier, rng: random.Random) -> tuple[str, int, list[str]]:
    lo, hi = tier.operand_range
    while True:
        operands = [rng.randint(lo, hi) for _ in range(tier.n_ops + 1)]
        ops = ["+-*"[rng.randrange(3)] for _ in range(tier.n_ops)]
        solved = solve(operands, ops, tier.value_range)
        if solved is None:
            continue
        expression = "".join(f"{x}{op}" for x, op in zip(operands, ops)) + str(operands[-1])
        return expression, solved[0], solved[1]


def _make_problem(tier_name: str, expression: str, answer: int, steps: list[str]) -> Problem:
    return Problem(
        problem_id=make_problem_id(NAME, expression),
        prompt=format_prompt(expression),
        reference=str(answer),
        difficulty=tier_name,
        meta={"expression": expression, "steps": len(steps),
              "completion": format_completion(answer, steps)},
    )


def _tier_list(difficulty: Union[None, str, Sequence[str]]) -> list[str]:
    if difficulty is None:
        return list(TIERS)
    tiers = [difficulty] if isinstance(difficulty, str) else list(difficulty)
    bad = [t for t in tiers if t not in TIERS]
    if bad or not tiers:
        raise ValueError(f"arith: unknown difficulty {bad or tiers!r}; known: {', '.join(TIERS)}")
    return tiers


def generate_test_set(per_tier: int = TEST_PER_TIER, version: str = VERSION,
                      tiers: Optional[Sequence[str]] = None) -> list[Problem]:
    """The fixed test set, tiers interleaved (2-step, 3-step, 4-step, 2-step, ...)."""
    tiers = list(tiers or TIERS)
    per: dict[str, list[Problem]] = {}
    for tname in tiers:
        rng = random.Random(f"{version}/test/{tname}")
        seen: set[str] = set()
        out: list[Problem] = []
        while len(out) < per_tier:
            expression, answer, steps = _draw(TIERS[tname], rng)
            if expression in seen or not in_test_bucket(NAME, expression, TEST_BUCKET_PER_MILLE):
                continue
            seen.add(expression)
            out.append(_make_problem(tname, expression, answer, steps))
        per[tname] = out
    return [per[t][i] for i in range(per_tier) for t in tiers]


def generate_train(n: int, seed: int, difficulty: Union[None, str, Sequence[str]] = None,
                   ) -> list[tuple[str, str, int, list[str]]]:
    tiers = _tier_list(difficulty)
    rng = random.Random(seed)
    out = []
    while len(out) < n:
        tname = tiers[rng.randrange(len(tiers))]
        expression, answer, steps = _draw(TIERS[tname], rng)
        if in_test_bucket(NAME, expression, TEST_BUCKET_PER_MILLE):
            continue
        out.append((tname, expression, answer, steps))
    return out


class ArithTask(Task):
    name = NAME
    version = VERSION
    gen_length = 48
    block_length = 16
    tiers = tuple(TIERS)
    charset = "".join(sorted(set("Compute \\boxed{}\n0123456789+-*=")))

    def __init__(self, split: str = "test", path: Optional[str] = None, n: int = 600,
                 seed: int = 0, difficulty: Union[None, str, Sequence[str]] = None):
        if split == "test":
            problems = read_jsonl(path or DATA_FILE)
            if difficulty is not None:
                keep = set(_tier_list(difficulty))
                problems = [p for p in problems if p.difficulty in keep]
        elif split == "train":
            seen: set[str] = set()
            problems = []
            for tname, expression, answer, steps in generate_train(4 * n + 100, seed, difficulty):
                if expression not in seen:
                    seen.add(expression)
                    problems.append(_make_problem(tname, expression, answer, steps))
                if len(problems) == n:
                    break
        else:
            raise ValueError(f"arith: unknown split {split!r}; known: test, train")
        super().__init__(problems, split)

    def _grade(self, problem: Problem, completion: str) -> Grade:
        return math_grader.grade_answer(problem.reference, completion, extract="boxed")

    def train_examples(self, n: int, seed: int,
                       difficulty: Union[None, str, Sequence[str]] = None) -> list[tuple[str, str]]:
        """``n`` (prompt, completion) pairs outside the test bucket, tiers drawn uniformly."""
        return [(format_prompt(expression), format_completion(answer, steps))
                for _, expression, answer, steps in generate_train(n, seed, difficulty)]
