"""countdown: generation, the train/test split, and the safe chain/expression grader."""
import ast
import itertools
import random
import re
import time
from collections import Counter

import pytest

from workers.tasks import load_task
from workers.tasks import countdown as cd
from workers.tasks.base import in_test_bucket


@pytest.fixture(scope="module")
def task():
    return load_task("countdown")


def oracle_value(expr: str) -> int:
    """Independent evaluator for the tests: Python's own parser, walked with a whitelist."""
    def walk(node):
        if isinstance(node, ast.Expression):
            return walk(node.body)
        if isinstance(node, ast.Constant) and type(node.value) is int:
            return node.value
        if isinstance(node, ast.BinOp) and type(node.op) in (ast.Add, ast.Sub, ast.Mult):
            a, b = walk(node.left), walk(node.right)
            return a + b if isinstance(node.op, ast.Add) else a - b if isinstance(node.op, ast.Sub) else a * b
        raise ValueError("not allowed")
    return walk(ast.parse(expr, mode="eval"))


# -- generation -------------------------------------------------------------------------------
def test_tiers_match_their_definition(task):
    for p in task.problems:
        tier = cd.TIERS[p.difficulty]
        nums, target = p.meta["numbers"], p.meta["target"]
        assert len(nums) == tier.n_numbers
        assert all(tier.number_range[0] <= x <= tier.number_range[1] for x in nums)
        assert tier.target_range[0] <= target <= tier.target_range[1]
        assert target not in nums
        assert p.prompt == f"{' '.join(map(str, nums))} -> {target}\n"
        assert cd.parse_prompt(p.prompt) == (nums, target)
        assert p.reference == p.meta["completion"] and int(p.reference.rsplit("=", 1)[1]) == target
        assert cd.evaluate(p.meta["expression"], nums) == target
        assert p.meta["n_solutions"] >= 1
        # every number exactly once: n - 1 steps, and in the two-digit tiers a fixed width
        assert len(p.reference.split()) == tier.n_numbers - 1
        if p.difficulty == "easy":
            assert len(p.reference) == 17


def test_most_problems_have_several_solutions(task):
    for tier in cd.TIERS:
        sols = [p.meta["n_solutions"] for p in task.by_difficulty(tier)]
        assert sum(s >= 2 for s in sols) / len(sols) > 0.4, tier


def test_solution_count_matches_brute_force():
    """count_solutions against a direct enumeration of expression trees over all the numbers."""
    def trees(nums):
        if len(nums) == 1:
            yield nums[0]
            return
        for r in range(1, len(nums)):
            for left_idx in itertools.combinations(range(len(nums)), r):
                left = [nums[i] for i in left_idx]
                right = [nums[i] for i in range(len(nums)) if i not in left_idx]
                for a in trees(left):
                    for b in trees(right):
                        yield ("+", a, b)
                        yield ("*", a, b)
                        yield ("-", a, b)

    def value(t):
        if isinstance(t, int):
            return t
        a, b = value(t[1]), value(t[2])
        return a + b if t[0] == "+" else a * b if t[0] == "*" else a - b

    def nonneg(t):
        return isinstance(t, int) or (value(t) >= 0 and nonneg(t[1]) and nonneg(t[2]))

    rng = random.Random(5)
    checked = 0
    for _ in range(40):
        nums = [rng.randint(1, 9) for _ in range(rng.choice([3, 4]))]
        target = rng.randint(1, 40)
        ordered = 0.0
        # ordered trees: + and * appear in both orders; count unordered = ordered / 2^(#commutative nodes)
        for t in trees(nums):
            if nonneg(t) and value(t) == target:
                def weight(t):
                    if isinstance(t, int):
                        return 1.0
                    # + and * are counted up to commutativity, and so is a-b with a == b
                    half = t[0] in "+*" or value(t[1]) == value(t[2])
                    return (0.5 if half else 1.0) * weight(t[1]) * weight(t[2])
                ordered += weight(t)
        assert cd.count_solutions(nums, target) == round(ordered), (nums, target)
        checked += ordered > 0
    assert checked >= 10


def test_train_examples_are_deterministic_for_a_seed():
    t = load_task("countdown")
    assert t.train_examples(300, seed=7) == t.train_examples(300, seed=7)
    assert t.train_examples(300, seed=7) != t.train_examples(300, seed=8)


def test_train_never_shares_a_problem_with_test(task):
    test_keys = {cd.canonical(p.meta["numbers"], p.meta["target"]) for p in task.problems}
    for tname, nums, target, expr, steps in cd.generate_train(20_000, seed=3):
        key = cd.canonical(nums, target)
        assert key not in test_keys
        assert not in_test_bucket("countdown", key, cd.TEST_BUCKET_PER_MILLE)
    for p in task.problems:
        assert in_test_bucket("countdown", cd.canonical(p.meta["numbers"], p.meta["target"]),
                              cd.TEST_BUCKET_PER_MILLE)


def test_train_examples_are_valid_and_vary_the_solution(task):
    pairs = task.train_examples(4000, seed=0)
    by_prompt: dict[str, set] = {}
    for prompt, completion in pairs:
        nums, target = cd.parse_prompt(prompt)
        assert cd.grade_countdown(nums, target, completion).correct, (prompt, completion)
        assert len(completion.split()) == len(nums) - 1
        assert len(completion) <= cd.GEN_LENGTH
        # a chain of fixed-width binary steps (numbers zero-padded to two digits)
        assert all(re.fullmatch(r"\d{2,3}[-+*]\d{2,3}=\d{2,3}", step) for step in completion.split()), completion
        by_prompt.setdefault(cd.canonical(nums, target), set()).add(completion)
    # the same problem drawn twice usually comes with a different solution
    assert sum(len(s) > 1 for s in by_prompt.values()) > 20
    sizes = Counter(len(cd.parse_prompt(p)[0]) for p, _ in pairs)  # tiers drawn uniformly
    assert set(sizes) == {3, 4} and 1100 < sizes[3] < 1600


def test_solution_steps_replay_the_expression_tree():
    rng = random.Random(13)
    for _ in range(2000):
        nums = [rng.randint(1, 9) for _ in range(rng.randint(2, 5))]
        value, text, steps = cd.random_solution(nums, rng)
        assert len(steps) == len(nums) - 1 and int(steps[-1].split("=")[1]) == value
        if value >= 10 ** cd.MAX_NUMBER_DIGITS:
            continue  # beyond the grader's cap on numbers (and far beyond any tier's targets)
        assert cd.grade_countdown(nums, value, cd.format_chain(steps)).correct, (nums, steps)
        assert cd.evaluate(text, nums) == value


def test_expression_printer_round_trips_through_the_parser():
    rng = random.Random(11)
    for _ in range(2000):
        nums = [rng.randint(1, 12) for _ in range(rng.randint(1, 5))]
        value, text = cd.random_expression(nums, rng)
        assert cd.evaluate(text, nums) == value == oracle_value(text)
        assert sorted(int(t) for t in cd.tokenize(text) if t.isdigit()) == sorted(nums)


def test_parser_agrees_with_an_independent_evaluator_on_random_strings():
    rng = random.Random(12)
    alphabet = "123456789+-*()"
    checked = 0
    for _ in range(5000):
        s = "".join(rng.choice(alphabet) for _ in range(rng.randint(1, 12)))
        if any(len(run) > cd.MAX_NUMBER_DIGITS for run in re.findall(r"[0-9]+", s)):
            continue  # refused by design (number too long); python would accept it
        try:
            nums = [int(t) for t in cd.tokenize(s) if t.isdigit()]
            mine = cd.evaluate(s, nums)
        except cd.Refused:
            mine = None
        try:
            theirs = oracle_value(s)
            # python accepts unary minus/plus and "2(3)"-like calls; our grammar does not
            if any(isinstance(n, ast.UnaryOp) for n in ast.walk(ast.parse(s, mode="eval"))):
                continue
        except (SyntaxError, ValueError):
            theirs = None
        assert mine == theirs, s
        checked += mine is not None
    assert checked > 300


# -- grading ----------------------------------------------------------------------------------
def test_every_reference_answer_is_accepted(task):
    for p in task.problems:
        g = task.grade(p, p.reference)
        assert g == cd.Grade(True, p.reference, None) and g.reason is None
        # one expression is a chain of one step; its "=target" is optional
        expr = p.meta["expression"]
        assert task.grade(p, expr).correct and task.grade(p, f"{expr}={p.meta['target']}").correct
        # surrounding whitespace is ignored, and so is the width of the gaps between steps
        assert task.grade(p, "  " + p.reference.replace(" ", "   ") + "\n").correct


def test_accepts_other_valid_solutions_and_spaces():
    nums, target = [3, 5, 7], 22
    for ans in ["3*5+7", "7+5*3", "(5*3)+7", "7+3*5=22", "3 * 5 + 7 = 22", "((3*5)+7)", "5*3+7",
                "03*05=15 15+07=22", "3*5=15 7+15=22", "03*05+07=22", "3*5=15 15+7", "3*5+07",
                "05*03=15 15+07=22 22"]:
        assert cd.grade_countdown(nums, target, ans).correct, ans
    # a number given twice is used twice
    assert cd.grade_countdown([4, 4, 9], 25, "4*4+9").correct
    assert cd.grade_countdown([4, 4, 9], 25, "04*04=16 16+09=25").correct
    # negative intermediates are allowed
    assert cd.grade_countdown([3, 5, 9], 7, "3-5+9=7").correct
    assert cd.grade_countdown([3, 5, 9], 7, "03-05=-2 -2+9=7").correct is False  # no unary minus
    assert cd.grade_countdown([3, 5, 9], 7, "09-05=04 04+03=07").correct
    # a step's value is used once, like a given number
    assert cd.grade_countdown([2, 3, 4], 12, "02+02=04 03*04=12").correct is False  # 2 given once
    assert cd.grade_countdown([2, 3, 4], 12, "02*03=06 03*04=12").correct is False  # 3 reused
    assert cd.grade_countdown([2, 3, 4], 12, "02+03=05 03*04=12").correct is False  # 3 reused
    assert cd.grade_countdown([2, 3, 4], 12, "02+04=06 02*06=12").correct is False  # 2 reused
    assert cd.grade_countdown([2, 3, 4], 12, "02+04=06 03*04=12").correct is False  # 4 reused
    assert cd.grade_countdown([2, 3, 4, 6], 12, "02+04=06 02*06=12").correct is False
    assert cd.grade_countdown([2, 3, 4, 6], 108, "02+04=06 06*06=36 36*03=108").correct
    assert cd.grade_countdown([3, 5, 7, 1], 22, "07*01=07 03*05=15 15+07=22").correct


@pytest.mark.parametrize("nums, target, answer, left", [
    ([4, 4, 9], 16, "4*4=16", "9"),                    # a given number left out
    ([4, 4, 9], 8, "4+4", "9"),
    ([2, 3, 4, 6], 36, "02+04=06 06*06=36", "3"),
    ([3, 5, 7], 22, "03*05=15 02+01=03 15+07=22", None),  # 2 and 1 are not given
    ([3, 5, 7, 1], 22, "01*01=01 03*05=15 15+07=22", None),
    ([3, 5, 7, 2], 22, "02*01=02 03*05=15 15+07=22", None),
    ([3, 5, 7, 2], 22, "02+05=07 03*05=15 15+07=22", None),  # 5 used twice
    ([3, 5, 7, 7, 2], 22, "03*05=15 07*02=14 15+07=22", "14"),  # a step's value left unused
])
def test_every_number_is_used_exactly_once(nums, target, answer, left):
    g = cd.grade_countdown(nums, target, answer)
    assert not g.correct and g.error is None
    if left is not None:
        assert g.reason == f"left unused: {left} (each number is used exactly once)"


CORRUPTIONS = {
    "wrong result": ["3*5+7=23", "3*5-7=22", "3+5+7=22", "3*5*7", "3*5", "7"],
    "reused number": ["3*5+7+7-7=22", "3*3*3-5=22", "5*5-3=22"],
    "unknown number": ["2*11=22", "22", "22=22", "3*5+8-1", "35-13=22", "37-15"],
    "malformed": ["3*5+", "*3*5+7", "3*5++7", "(3*5+7", "3*5+7)", "3*5+7)(", "()", "3(5+7)",
                  "3*5+7==22", "=22", "3*5+7=", "3*5+7=22=22", "3*5+7=x", "3,5,7", "3*5+7 ok",
                  "-3+5*5", "+3*5+7", "3*5+7\n3*5+7", "3x5+7", "0022", "",
                  "03*05=1515+07=22", "03*05=15+07=22", "03*05=15 =22", "03*05=15 15+07=22 =22"],
    "bad chain": ["03*05=15 15+07=23", "03*05=16 16+06=22", "03*05=15 15+15=30", "15+07=22",
                  "03*05=15 15+07=22 03*05=15", "05+07=12 12+03=15 15+07=22", "03*05=15 15+07=22 22-07=15",
                  "03*05=15 22", "03*05=15 15+07=22 22+22=44"],
    "disallowed operator": ["3*5+7/1", "3**2+13", "3^2+13", "15//1+7", "3*5+7%8", "3*5+7.0",
                            "abs(3)", "__import__('os')", "3*5+7;", "3*5+7\x00", "３*5+7"],
}


@pytest.mark.parametrize("kind", sorted(CORRUPTIONS))
def test_corrupted_answers_are_rejected(kind):
    for ans in CORRUPTIONS[kind]:
        g = cd.grade_countdown([3, 5, 7], 22, ans)
        assert not g.correct and g.reason, ans   # incorrect, and the grader says why
        assert g.error is None, ans              # a bad answer is not a grading failure


def test_systematic_corruptions_of_every_reference(task):
    rng = random.Random(0)
    count = 0
    for p in task.problems:
        nums, target = p.meta["numbers"], p.meta["target"]
        expr = p.meta["expression"]
        digits = [t for t in cd.tokenize(expr) if t.isdigit()]
        steps = p.reference.split()
        last_expr, last_value = steps[-1].split("=")
        unknown = next(x for x in range(1, 30) if x not in nums)
        cases = [
            f"{expr}={target + 1}",                        # states a wrong result
            f"{expr}+1={target}" if 1 not in nums else f"{expr}*2+1={target}",  # wrong or unknown
            f"{expr}+{unknown}-{unknown}={target}",      # unknown number (value unchanged!)
            f"{expr}{f'+{digits[0]}-{digits[0]}' * len(nums)}={target}",  # a number reused
            expr.replace(digits[0], f"({digits[0]}", 1) + f"={target}",      # unbalanced
            expr[: rng.randrange(1, len(expr))] + "**" + expr[-1] + f"={target}",
            f"{expr}/1={target}",
            f"{expr}={target}\nThe answer is {target}",
            " ".join(steps[:-1] + [f"{last_expr}={int(last_value) + 1}"]),  # last step miscomputed
            " ".join(steps).replace("=", "=0", 1) + "0",           # a value off by a factor of ten
        ]
        if len(steps) > 1 and int(steps[-2].split("=")[1]) != target:
            cases.append(" ".join(steps[:-1]))                  # stops one step short
        for c in cases:
            assert not cd.grade_countdown(nums, target, c).correct, (p.prompt, c)
            count += 1
    assert count >= 4000


def test_refusals_are_fast_even_for_hostile_input():
    nums, target = [3, 5, 7, 9, 9], 100
    hostile = [
        "9" * 1_000_000,
        "(" * 100_000 + "3" + ")" * 100_000,
        "(" * 60 + "3" + ")" * 60,
        "9*" * 50_000 + "9",
        "99999999999999999999*99999999999999999999",
        "9**9**9**9",
        "9^9^9^9",
        "3" + "+3" * 59,
        "((((((((((((((((((3))))))))))))))))))",
    ]
    for h in hostile:
        t0 = time.perf_counter()
        g = cd.grade_countdown(nums, target, h)
        assert time.perf_counter() - t0 < 0.05, h[:20]
        assert not g.correct and g.reason and g.error is None, h[:20]


def test_moderate_nesting_within_limits_is_fine():
    assert cd.grade_countdown([3, 5, 7], 22, "(((3*5)))+((7))=22").correct
