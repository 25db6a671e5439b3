"""Countdown: reach a target from a few small numbers, each used exactly once, with + - *.

Prompt      ``"3 5 7 -> 22\\n"`` (the numbers, then the target)
Completion  ``"03*05=15 15+07=22"`` — a chain of steps, each ``a op b=c``, the last reaching
            the target (the Countdown game's own form); a single expression such as
            ``"3*5+7=22"`` or ``"3*5+7"`` is also an answer (a chain of one step).

Rules (what the grader accepts):
- the answer is one or more equations ``expression=value`` separated by whitespace; the last
  may omit ``=value``.  Each equation's value must be what its expression evaluates to, and the
  last value must be the target;
- every given number is used EXACTLY once, and so is every step's value except the last (a
  number given twice is used twice); numbers not available and multi-digit concatenations of
  given digits are refused; zero-padding is fine (``07`` is 7);
- operators ``+ - *`` and parentheses only (no ``/``, no ``**``, no unary minus); spaces inside
  an expression are ignored; intermediate values may be negative;
- the whole completion (stripped of surrounding whitespace) must be the answer: no extra text.

Grades: ``correct`` when the chain is valid and reaches the target.  A completion that breaks
the rules is incorrect, with ``reason`` saying why (syntax, disallowed character, number not
available, used twice or left unused, a step that does not evaluate to its stated value, ...);
``error`` stays None (the grader never fails on input).  ``extracted`` is the chain, spaces
removed inside each equation.

Why exactly once (``countdown-v3``): a reference chain then always has n-1 steps, so in a tier
every answer has the same length and every position a fixed role — the fixed layout that made
``arith`` learnable for the tiny model (``workers/tinymodel/RECIPE.md``).  Under ``countdown-v2``
(each number at most once, 2 to n of them) the model could not tell how many steps to write and
placed the target at the end of a chain of the wrong length (``08+09=17 17-06=17``).

Reference and training completions are chains of binary steps, one per internal node of a
random expression tree in post-order, every number zero-padded to two digits (``08*04=32``).

Default decoding: one block (``block_length = gen_length = 32``).  Countdown is a search: the
first step is only right if some last step then reaches the target.  Blocks of 8 make a sampler
commit the first step before anything after it (forward search only); one block leaves the
order to the sampler, which is what the samplers are meant to differ in.  The cost, measured:
greedy confidence on the first 64 easy problems solves 0.14 with one block and 0.25 with blocks
of 8 on the committed checkpoint (0.11 vs 0.03 on a 4,000-step pilot; ``RECIPE.md``); pass
``block_length`` to compare.
"""
from __future__ import annotations

import random
import re
from collections import Counter, defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Optional, Sequence, Union

from .base import Grade, Problem, Task, apply_op, format_step, in_test_bucket, make_problem_id
from .base import synthetic_split, tier_list

NAME = "countdown"
VERSION = "countdown-v3"
DATA_FILE = Path(__file__).with_name("data") / f"{VERSION}-test.jsonl"
TEST_PER_TIER = 200
TEST_BUCKET_PER_MILLE = 150  # 15% of all problems are reserved for the test split (easy has only ~1,700)

MAX_COMPLETION_CHARS = 120
MAX_NUMBER_DIGITS = 4
MAX_PAREN_DEPTH = 16
GEN_LENGTH = 32  # 3 steps, some with 3-digit values (at most 29 characters), then EOS


@dataclass(frozen=True)
class Tier:
    n_numbers: int
    target_range: tuple[int, int]
    number_range: tuple[int, int] = (1, 9)


TIERS: dict[str, Tier] = {
    "easy": Tier(3, (1, 99)),
    "medium": Tier(4, (10, 99)),
    "hard": Tier(4, (100, 999)),
}


# ---------------------------------------------------------------------------------------------
# formatting
# ---------------------------------------------------------------------------------------------
def format_prompt(numbers: Sequence[int], target: int) -> str:
    return f"{' '.join(str(n) for n in numbers)} -> {target}\n"


def parse_prompt(prompt: str) -> tuple[list[int], int]:
    """Inverse of ``format_prompt``: (numbers, target)."""
    nums, _, target = prompt.partition("->")
    return [int(x) for x in nums.split()], int(target)


def canonical(numbers: Sequence[int], target: int) -> str:
    """Problem identity: the multiset of numbers and the target (order in the prompt is not part
    of the problem)."""
    return f"{','.join(str(n) for n in sorted(numbers))}|{target}"


_PREC = {"+": 1, "-": 1, "*": 2}


def _combine(left: tuple[int, str, int], right: tuple[int, str, int], op: str) -> tuple[int, str, int]:
    """(value, text, precedence) of ``left op right`` with minimal parentheses."""
    lv, ls, lp = left
    rv, rs, rp = right
    p = _PREC[op]
    if lp < p:
        ls = f"({ls})"
    if rp < p or (op == "-" and rp == 1):
        rs = f"({rs})"
    return apply_op(lv, op, rv), f"{ls}{op}{rs}", p


def random_expression(numbers: Sequence[int], rng: random.Random) -> tuple[int, str]:
    """A random expression tree using each of ``numbers`` exactly once, in the given order
    (shuffle first if wanted).  Subtractions are oriented so no intermediate is negative."""
    value, text, _ = random_solution(numbers, rng)
    return value, text


def random_solution(numbers: Sequence[int], rng: random.Random) -> tuple[int, str, list[str]]:
    """(value, expression, chain steps) of a random expression tree over ``numbers`` (each
    exactly once, in the given order); the steps are the tree's internal nodes in post-order."""
    steps: list[str] = []

    def build(nums: Sequence[int]) -> tuple[int, str, int]:
        if len(nums) == 1:
            return nums[0], str(nums[0]), 3
        split = rng.randrange(1, len(nums))
        left, right = build(nums[:split]), build(nums[split:])
        op = "+-*"[rng.randrange(3)]
        if op == "-" and left[0] < right[0]:
            left, right = right, left
        node = _combine(left, right, op)
        steps.append(format_step(left[0], op, right[0], node[0]))
        return node

    value, text, _ = build(list(numbers))
    return value, text, steps


def format_chain(steps: Sequence[str]) -> str:
    return " ".join(steps)


# ---------------------------------------------------------------------------------------------
# generation
# ---------------------------------------------------------------------------------------------
def _draw(tier: Tier, rng: random.Random) -> tuple[list[int], int, str, list[str]]:
    """One (numbers, target, solution expression, solution steps) for a tier, by rejection."""
    lo_n, hi_n = tier.number_range
    lo_t, hi_t = tier.target_range
    while True:
        numbers = [rng.randint(lo_n, hi_n) for _ in range(tier.n_numbers)]
        value, expr, steps = random_solution(rng.sample(numbers, len(numbers)), rng)
        if lo_t <= value <= hi_t and value not in numbers and len(format_chain(steps)) < GEN_LENGTH:
            return numbers, value, expr, steps


def _make_problem(tier_name: str, numbers: list[int], target: int, expr: str, steps: list[str]) -> Problem:
    canon = canonical(numbers, target)
    chain = format_chain(steps)
    meta = {"numbers": list(numbers), "target": target, "completion": chain, "expression": expr,
            "n_solutions": count_solutions(numbers, target)}
    return Problem(
        problem_id=make_problem_id(NAME, canon),
        prompt=format_prompt(numbers, target),
        reference=chain,
        difficulty=tier_name,
        meta=meta,
    )


def generate_test_set(per_tier: int = TEST_PER_TIER, version: str = VERSION,
                      tiers: Optional[Sequence[str]] = None) -> list[Problem]:
    """The fixed test set: ``per_tier`` problems from the test bucket for each tier, interleaved
    (easy, medium, hard, easy, ...) so any prefix is balanced across tiers.  Deterministic."""
    tiers = list(tiers or TIERS)
    per: dict[str, list[Problem]] = {}
    for tname in tiers:
        rng = random.Random(f"{version}/test/{tname}")
        seen: set[str] = set()
        out: list[Problem] = []
        while len(out) < per_tier:
            numbers, target, expr, steps = _draw(TIERS[tname], rng)
            canon = canonical(numbers, target)
            if canon in seen or not in_test_bucket(NAME, canon, TEST_BUCKET_PER_MILLE):
                continue
            seen.add(canon)
            out.append(_make_problem(tname, numbers, target, expr, steps))
        per[tname] = out
    return [per[t][i] for i in range(per_tier) for t in tiers]


def generate_train(n: int, seed: int, difficulty: Union[None, str, Sequence[str]] = None,
                   ) -> list[tuple[str, list[int], int, str, list[str]]]:
    """``n`` training draws (tier, numbers, target, expression, steps) outside the test bucket."""
    tiers = _tier_list(difficulty)
    rng = random.Random(seed)
    out = []
    while len(out) < n:
        tname = tiers[rng.randrange(len(tiers))]
        numbers, target, expr, steps = _draw(TIERS[tname], rng)
        if in_test_bucket(NAME, canonical(numbers, target), TEST_BUCKET_PER_MILLE):
            continue
        out.append((tname, numbers, target, expr, steps))
    return out


def _tier_list(difficulty: Union[None, str, Sequence[str]]) -> list[str]:
    return tier_list(NAME, TIERS, difficulty)


def count_solutions(numbers: Sequence[int], target: int) -> int:
    """Number of expression trees over all of ``numbers`` (each exactly once) reaching ``target``.

    + - * with non-negative intermediates, counted up to commutativity of + and * (a number
    given twice counts as two numbers)."""
    n = len(numbers)
    vals: list[dict[int, int]] = [dict() for _ in range(1 << n)]
    for i, x in enumerate(numbers):
        vals[1 << i] = {x: 1}
    for mask in sorted(range(1, 1 << n), key=lambda m: bin(m).count("1")):
        if mask & (mask - 1) == 0:
            continue
        acc: dict[int, int] = defaultdict(int)
        a = (mask - 1) & mask
        while a:
            b = mask ^ a
            if a < b:
                for va, ca in vals[a].items():
                    for vb, cb in vals[b].items():
                        c = ca * cb
                        acc[va + vb] += c
                        acc[va * vb] += c
                        acc[abs(va - vb)] += c
            a = (a - 1) & mask
        vals[mask] = dict(acc)
    return vals[(1 << n) - 1].get(target, 0)


# ---------------------------------------------------------------------------------------------
# safe evaluation (a recursive-descent parser over a whitelisted token set; never eval)
# ---------------------------------------------------------------------------------------------
class Refused(ValueError):
    """The completion is not a well-formed countdown answer."""


_DIGITS = frozenset("0123456789")
_ALLOWED = _DIGITS | set("+-*()= ")


def tokenize(expr: str) -> list[str]:
    tokens: list[str] = []
    i, n = 0, len(expr)
    while i < n:
        ch = expr[i]
        if ch == " ":
            i += 1
        elif ch in _DIGITS:
            j = i
            while j < n and expr[j] in _DIGITS:
                j += 1
            lit = expr[i:j]
            if len(lit) > MAX_NUMBER_DIGITS:
                raise Refused(f"number too long: {lit[:12]}")
            tokens.append(lit)
            i = j
        elif ch in "+-*()":
            if ch == "*" and i + 1 < n and expr[i + 1] == "*":
                raise Refused("exponentiation (**) is not allowed")
            tokens.append(ch)
            i += 1
        else:
            raise Refused(f"character {ch!r} is not allowed")
    return tokens


class _Parser:
    """expr := term (('+'|'-') term)* ; term := factor ('*' factor)* ;
    factor := NUMBER | '(' expr ')'"""

    def __init__(self, tokens: list[str]):
        self.toks = tokens
        self.i = 0
        self.depth = 0

    def peek(self) -> Optional[str]:
        return self.toks[self.i] if self.i < len(self.toks) else None

    def parse(self) -> int:
        if not self.toks:
            raise Refused("empty expression")
        value = self.expr()
        if self.i != len(self.toks):
            raise Refused(f"unexpected {self.toks[self.i]!r} at token {self.i + 1}")
        return value

    def expr(self) -> int:
        value = self.term()
        while self.peek() in ("+", "-"):
            op = self.toks[self.i]
            self.i += 1
            rhs = self.term()
            value = value + rhs if op == "+" else value - rhs
        return value

    def term(self) -> int:
        value = self.factor()
        while self.peek() == "*":
            self.i += 1
            value *= self.factor()
        return value

    def factor(self) -> int:
        tok = self.peek()
        if tok is None:
            raise Refused("expression ends too early")
        if tok == "(":
            self.depth += 1
            if self.depth > MAX_PAREN_DEPTH:
                raise Refused("parentheses nested too deeply")
            self.i += 1
            value = self.expr()
            if self.peek() != ")":
                raise Refused("unbalanced parentheses")
            self.i += 1
            self.depth -= 1
            return value
        if tok.isdigit():
            self.i += 1
            return int(tok)
        raise Refused(f"unexpected {tok!r} at token {self.i + 1}")


def evaluate(expr: str, numbers: Sequence[int]) -> int:
    """Value of ``expr`` if it is a legal countdown expression over ``numbers`` (each at most
    once); raises ``Refused`` otherwise."""
    return _evaluate(expr, Counter(numbers))[0]


def _evaluate(expr: str, have: Counter) -> tuple[int, Counter]:
    """(value, numbers used) of ``expr`` over the available multiset ``have``.  Bounded work:
    length, digits and nesting are capped and the multiset is checked before evaluating."""
    if len(expr) > MAX_COMPLETION_CHARS:
        raise Refused(f"expression longer than {MAX_COMPLETION_CHARS} characters")
    tokens = tokenize(expr)
    used = Counter(int(t) for t in tokens if t.isdigit())
    for num, cnt in sorted(used.items()):
        if num not in have:
            raise Refused(f"number {num} is not available (not given, or not yet computed by a step)")
        if cnt > have[num]:
            raise Refused(f"number {num} used {cnt} times but available {have[num]} time(s)")
    return _Parser(tokens).parse(), used


_STATED = re.compile(r"\s*([0-9]+)")


def split_equations(text: str) -> list[tuple[str, Optional[str]]]:
    """``"03*05=15 15+07=22"`` -> [("03*05", "15"), ("15+07", "22")]; the last equation may omit
    ``=value`` (then its value is None).  Raises ``Refused`` on a malformed chain."""
    items: list[tuple[str, Optional[str]]] = []
    rest = text
    while rest.strip():
        expr, eq, after = rest.partition("=")
        if not eq:
            items.append((expr.strip(), None))
            break
        m = _STATED.match(after)
        if not m:
            raise Refused("'=' must be followed by a number")
        if len(m.group(1)) > MAX_NUMBER_DIGITS:
            raise Refused(f"number too long: {m.group(1)[:12]}")
        rest = after[m.end():]
        if rest and not rest[0].isspace():
            raise Refused(f"a step must end after its value: {m.group(1)}{rest[:1]!r}")
        items.append((expr.strip(), m.group(1)))
    return items


def grade_countdown(numbers: Sequence[int], target: int, completion: str) -> Grade:
    text = completion.strip()
    if not text:
        return Grade(False, None, None, "empty completion")
    if len(text) > MAX_COMPLETION_CHARS:
        return Grade(False, None, None, f"completion longer than {MAX_COMPLETION_CHARS} characters")
    bad = next((c for c in text if c not in _ALLOWED), None)
    if bad is not None:
        what = "a line break" if bad in "\r\n" else repr(bad)
        return Grade(False, None, None, f"character {what} is not allowed in an answer")
    try:
        equations = split_equations(text)
    except Refused as e:
        return Grade(False, None, None, str(e))
    extracted = " ".join(e.replace(" ", "") + ("" if v is None else f"={v}") for e, v in equations)
    pool = Counter(numbers)  # what the next step may use: given numbers, then step values
    value = None
    for i, (expr, stated) in enumerate(equations):
        where = f"step {i + 1}: " if len(equations) > 1 else ""
        try:
            value, used = _evaluate(expr, pool)
        except Refused as e:
            return Grade(False, extracted, None, where + str(e))
        except RecursionError:
            return Grade(False, extracted, None, where + "expression nested too deeply")
        if stated is not None and int(stated) != value:
            return Grade(False, extracted, None, f"{where}{expr.replace(' ', '')} evaluates to {value}, not {stated}")
        pool -= used
        pool[value] += 1
    if value != target:
        return Grade(False, extracted, None, f"reaches {value}, not the target {target}")
    pool[value] -= 1
    if +pool:
        left = ", ".join(str(x) for x in sorted((+pool).elements()))
        return Grade(False, extracted, None, f"left unused: {left} (each number is used exactly once)")
    return Grade(True, extracted, None)


# ---------------------------------------------------------------------------------------------
# the task
# ---------------------------------------------------------------------------------------------
class CountdownTask(Task):
    name = NAME
    version = VERSION
    gen_length = GEN_LENGTH
    block_length = GEN_LENGTH  # one block: see the module docstring
    tiers = tuple(TIERS)
    charset = "".join(sorted(set(" ->\n0123456789+*()=")))

    def __init__(self, split: str = "test", path: Optional[str] = None, n: int = 600,
                 seed: int = 0, difficulty: Union[None, str, Sequence[str]] = None):
        draws = lambda: (_make_problem(*d) for d in generate_train(4 * n + 100, seed, difficulty))  # noqa: E731
        problems = synthetic_split(NAME, TIERS, split, DATA_FILE, path, difficulty, draws, n)
        super().__init__(problems, split)

    def _grade(self, problem: Problem, completion: str) -> Grade:
        meta = problem.meta
        return grade_countdown(meta["numbers"], int(meta["target"]), completion)

    def train_examples(self, n: int, seed: int,
                       difficulty: Union[None, str, Sequence[str]] = None) -> list[tuple[str, str]]:
        """``n`` (prompt, completion) pairs, none from the test bucket; tiers drawn uniformly
        (or only ``difficulty``); each completion is a freshly drawn random solution's chain."""
        return [(format_prompt(numbers, target), format_chain(steps))
                for _, numbers, target, _, steps in generate_train(n, seed, difficulty)]
