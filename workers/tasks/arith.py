"""Arith: multi-step integer arithmetic with a short, rigid chain of thought and a boxed answer.

Prompt      ``"Compute 7*3+12-5\\n"``
Completion  ``"07*03=21 21+12=33 33-05=28 \\boxed{28}"``

The chain of thought performs one operation per step, left to right, writing ``a op b=c`` with
every number zero-padded to two digits (so each step is exactly 8 characters) and separating
steps with one space, then ``\\boxed{answer}`` (not padded).  A ``*`` may only be the first
operation (both factors 2-9), so left-to-right order is also the usual precedence and every
step depends on the previous result: the chain is order-sensitive.  Graded through the math
grading path (``math_grader.grade_answer``: last ``\\boxed{}`` + equivalence), exactly like
MATH500, so only the final answer counts.

Tiers (``difficulty``): ``2-step``, ``3-step``, ``4-step`` = number of operations.  Operands are
integers 1-20; the first operator is drawn uniformly from ``+ - *``, the others from ``+ -``;
every intermediate value and the answer lie in 0-99 (problems breaking that are redrawn), so
the longest completion is 46 characters.

Why this shape (``arith-v1`` -> ``arith-v2``): v1 allowed ``*`` anywhere (factors 1-20,
evaluated first) and wrote numbers unpadded.  Trained alone on one GPU for 4,500 steps of 64
(1.2M parameters), the unpadded left-to-right chain reached greedy Pass@1 0.06 / 0.00 / 0.02
(2/3/4 steps) and the zero-padded one 0.81 / 0.71 / 0.71 on 48 problems per tier: a masked
diffusion model decodes positions in parallel, and a fixed-width chain gives every position a
fixed role (see ``workers/tinymodel/RECIPE.md``).
"""
from __future__ import annotations

import random
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Optional, Sequence, Union

from . import math_grader
from .base import Grade, Problem, Task, apply_op, format_step, in_test_bucket, make_problem_id
from .base import synthetic_split, tier_list

NAME = "arith"
VERSION = "arith-v2"
DATA_FILE = Path(__file__).with_name("data") / f"{VERSION}-test.jsonl"
TEST_PER_TIER = 200
TEST_BUCKET_PER_MILLE = 100


@dataclass(frozen=True)
class Tier:
    n_ops: int
    operand_range: tuple[int, int] = (1, 20)
    factor_range: tuple[int, int] = (2, 9)  # both factors of a leading '*'
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
        c = apply_op(a, op, b)
        if lo is not None and not lo <= c <= hi:
            return False
        steps.append(format_step(a, op, b, c))  # fixed width: see the module docstring
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
        ops = ["+-*"[rng.randrange(3)]] + ["+-"[rng.randrange(2)] for _ in range(tier.n_ops - 1)]
        if ops[0] == "*":
            operands[0], operands[1] = (rng.randint(*tier.factor_range) for _ in range(2))
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
    return tier_list(NAME, TIERS, difficulty)


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


# Reasoning-as-infilling layout (004 §4.1): [chain, space-filled to 37] + " \\boxed{" + [answer,
# zero-padded to 2 digits] + "}" = 48 characters = gen_length.  The tiny model is trained on a
# share of arith examples in this layout (``infill_completion``) so the infilling sweeps have a
# model that knows where the answer block is.  Spaces, not EOS, fill the slack: a plain decode
# that drifts into this layout still ends in a gradable ``\\boxed{}``.
INFILL_REASONING_LENGTH = 37  # longest chain: 4 steps x 8 characters + 3 spaces = 35
INFILL_DELIMITER = " \\boxed{"
INFILL_ANSWER_LENGTH = 2
INFILL_CLOSING = "}"


def infill_answer_text(answer: int) -> str:
    """The answer as the infilling layout writes it: zero-padded to the answer block."""
    return f"{answer:0{INFILL_ANSWER_LENGTH}d}"


def infill_completion(completion: str) -> str:
    """A completion rewritten in the infilling layout (same chain, same answer value)."""
    reasoning, _, boxed = completion.rpartition(" \\boxed{")
    answer = infill_answer_text(int(boxed.rstrip("}")))
    return reasoning.ljust(INFILL_REASONING_LENGTH) + INFILL_DELIMITER + answer + INFILL_CLOSING


_STEP = re.compile(r"(\d+)([+*-])(\d+)=(\d+)")


def chain_supports(expression: str, reasoning: str, answer: int) -> bool:
    """Whether ``reasoning`` is a correct left-to-right chain for ``expression`` ending in
    ``answer``: every step is the next operation on the running value, computed right.  Used to
    check posterior samples (004 §5.1): a trace that merely sits next to the answer does not count."""
    tokens = re.findall(r"\d+|[+*-]", expression)
    value, rest = int(tokens[0]), list(zip(tokens[1::2], (int(t) for t in tokens[2::2])))
    steps = reasoning.split()
    if len(steps) != len(rest):
        return False
    for step, (op, b) in zip(steps, rest):
        m = _STEP.fullmatch(step)
        if m is None or (int(m[1]), m[2], int(m[3])) != (value, op, b):
            return False
        value = apply_op(value, op, b)
        if int(m[4]) != value:
            return False
    return value == answer


class ArithTask(Task):
    name = NAME
    version = VERSION
    gen_length = 48
    block_length = 16
    tiers = tuple(TIERS)
    charset = "".join(sorted(set("Compute \\boxed{}\n0123456789+-*=")))

    def __init__(self, split: str = "test", path: Optional[str] = None, n: int = 600,
                 seed: int = 0, difficulty: Union[None, str, Sequence[str]] = None):
        draws = lambda: (_make_problem(*d) for d in generate_train(4 * n + 100, seed, difficulty))  # noqa: E731
        problems = synthetic_split(NAME, TIERS, split, DATA_FILE, path, difficulty, draws, n, key=lambda p: p.meta["expression"])
        super().__init__(problems, split)

    def _grade(self, problem: Problem, completion: str) -> Grade:
        return math_grader.grade_answer(problem.reference, completion, extract="boxed")

    def infill_answer(self, problem: Problem) -> str:
        """The answer as the infilling layout writes it (zero-padded to the answer block)."""
        return infill_answer_text(int(problem.reference))

    def reasoning_supports(self, problem: Problem, reasoning: str) -> bool:
        """The chain of thought alone derives the reference answer (see ``chain_supports``)."""
        return chain_supports(problem.meta["expression"], reasoning, int(problem.reference))

    def train_examples(self, n: int, seed: int,
                       difficulty: Union[None, str, Sequence[str]] = None) -> list[tuple[str, str]]:
        """``n`` (prompt, completion) pairs outside the test bucket, tiers drawn uniformly."""
        return [(format_prompt(expression), format_completion(answer, steps))
                for _, expression, answer, steps in generate_train(n, seed, difficulty)]
