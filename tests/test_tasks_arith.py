"""arith: the chain-of-thought format, tiers, split and grading through the math grader."""
import ast
import re

import pytest

from workers.tasks import load_task
from workers.tasks import arith
from workers.tasks.base import in_test_bucket


@pytest.fixture(scope="module")
def task():
    return load_task("arith")


def oracle(expression: str) -> int:
    def walk(n):
        if isinstance(n, ast.Expression):
            return walk(n.body)
        if isinstance(n, ast.Constant) and type(n.value) is int:
            return n.value
        if isinstance(n, ast.BinOp) and type(n.op) in (ast.Add, ast.Sub, ast.Mult):
            a, b = walk(n.left), walk(n.right)
            return a + b if isinstance(n.op, ast.Add) else a - b if isinstance(n.op, ast.Sub) else a * b
        raise ValueError(n)
    return walk(ast.parse(expression, mode="eval"))


STEP = re.compile(r"^(\d\d)([+*-])(\d\d)=(\d\d)$")  # every number two digits wide


def check_chain(expression: str, completion: str) -> int:
    """Replays the chain of thought on the expression: each step must be the next operation
    left to right (a '*' only ever comes first, so this is also precedence order) and be right."""
    *steps, boxed = completion.split(" ")
    tokens = re.findall(r"\d+|[+*-]", expression)
    vals, ops = [int(t) for t in tokens[::2]], tokens[1::2]
    for step in steps:
        a, op, b, c = STEP.match(step).groups()
        assert (vals[0], ops[0], vals[1]) == (int(a), op, int(b)), (expression, step)
        assert int(c) == oracle(f"{int(a)}{op}{int(b)}")
        vals[:2] = [int(c)]
        del ops[0]
    assert not ops and boxed == f"\\boxed{{{vals[0]}}}"
    return vals[0]


def test_problems_follow_the_format_and_tiers(task):
    for p in task.problems:
        tier = arith.TIERS[p.difficulty]
        expr = p.meta["expression"]
        assert p.prompt == f"Compute {expr}\n"
        assert len(re.findall(r"[+*-]", expr)) == tier.n_ops == p.meta["steps"]
        assert all(1 <= int(x) <= 20 for x in re.findall(r"\d+", expr))
        assert "*" not in expr[expr.find("*") + 1:]               # at most one '*' ...
        if "*" in expr:                                            # ... as the first operation
            a, b = re.match(r"^(\d+)\*(\d+)", expr).groups()
            assert 2 <= int(a) <= 9 and 2 <= int(b) <= 9
        assert check_chain(expr, p.meta["completion"]) == int(p.reference) == oracle(expr)
        assert all(0 <= int(x) <= 99 for x in re.findall(r"\d+", p.meta["completion"]))
        assert len(p.meta["completion"]) <= 46


def test_generators_are_deterministic_and_train_is_disjoint(task):
    assert task.train_examples(500, seed=1) == task.train_examples(500, seed=1)
    assert task.train_examples(500, seed=1) != task.train_examples(500, seed=2)
    test_exprs = {p.meta["expression"] for p in task.problems}
    assert all(in_test_bucket("arith", e, arith.TEST_BUCKET_PER_MILLE) for e in test_exprs)
    for tname, expr, answer, steps in arith.generate_train(20_000, seed=4):
        assert expr not in test_exprs
        assert not in_test_bucket("arith", expr, arith.TEST_BUCKET_PER_MILLE)


def test_train_examples_are_correct_chains(task):
    pairs = task.train_examples(3000, seed=0)
    for prompt, completion in pairs:
        expr = prompt[len("Compute "):-1]
        assert check_chain(expr, completion) == oracle(expr)
    assert {len(re.findall(r"[+*-]", p)) for p, _ in pairs} == {2, 3, 4}
    only = task.train_examples(100, seed=0, difficulty="4-step")
    assert all(len(re.findall(r"[+*-]", p)) == 4 for p, _ in only)


def test_every_reference_completion_is_accepted(task):
    for p in task.problems:
        g = task.grade(p, p.meta["completion"])
        assert g.correct and g.extracted == p.reference and g.error is None


def test_only_the_final_boxed_answer_counts(task):
    p = task.problems[0]
    ans = int(p.reference)
    assert task.grade(p, f"\\boxed{{{ans}}}").correct
    assert task.grade(p, f"I think \\boxed{{{ans + 1}}} no wait \\boxed{{{ans}}}").correct
    assert task.grade(p, f"\\boxed{{{ans:03d}}}").correct           # 025 == 25
    assert task.grade(p, f"\\boxed{{{ans}.0}}").correct
    assert task.grade(p, f"\\boxed{{\\frac{{{2 * ans}}}{{2}}}}").correct


def test_corrupted_completions_are_rejected(task):
    n = 0
    for p in task.problems:
        ref = p.meta["completion"]
        ans = int(p.reference)
        bad = [
            ref.replace(f"\\boxed{{{ans}}}", f"\\boxed{{{ans + 1}}}"),   # wrong answer
            ref.replace(f"\\boxed{{{ans}}}", f"{ans}"),                  # no box
            ref.replace(f"\\boxed{{{ans}}}", f"\\boxed{{{ans}"),         # unclosed box
            ref + f" \\boxed{{{ans + 7}}}",                                # a later, wrong box
            ref[: len(ref) // 2],                                          # truncated
        ]
        for c in bad:
            g = task.grade(p, c)
            assert not g.correct, (p.prompt, c)
            n += 1
    assert n == 3000


def test_infill_layout_puts_the_padded_answer_in_a_fixed_block(task):
    """004 §4.1 layout: chain space-filled to 37, delimiter, 2-digit answer, closing — 48 in all,
    still graded correct, same chain."""
    start = arith.INFILL_REASONING_LENGTH + len(arith.INFILL_DELIMITER)
    for p in task.problems:
        text = arith.infill_completion(p.meta["completion"])
        assert len(text) == task.gen_length
        assert text[arith.INFILL_REASONING_LENGTH:start] == arith.INFILL_DELIMITER
        assert int(text[start:start + arith.INFILL_ANSWER_LENGTH]) == int(p.reference)
        assert text.endswith(arith.INFILL_CLOSING)
        assert text[:arith.INFILL_REASONING_LENGTH].rstrip() == p.meta["completion"].rpartition(" \\boxed{")[0]
        assert task.grade(p, text).correct


def test_chain_supports_accepts_exactly_the_correct_derivations(task):
    for p in task.problems[:200]:
        reasoning = p.meta["completion"].rpartition(" \\boxed{")[0]
        expr, ans = p.meta["expression"], int(p.reference)
        assert task.reasoning_supports(p, reasoning)
        assert arith.chain_supports(expr, reasoning.replace("=0", "="), ans)       # padding is optional
        assert not arith.chain_supports(expr, reasoning, ans + 1)                  # wrong answer
        assert not arith.chain_supports(expr, reasoning.rsplit(" ", 1)[0], ans)    # a step missing
        first = reasoning.split()[0]
        wrong = first[:-2] + f"{(int(first[-2:]) + 1) % 100:02d}"
        assert not arith.chain_supports(expr, reasoning.replace(first, wrong, 1), ans)  # miscomputed
    assert not arith.chain_supports("3+4", "", 7) and not arith.chain_supports("3+4", "03+04=07 junk", 7)
