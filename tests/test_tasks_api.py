"""The task contract every sweep and notebook codes against (docs/design.md §3)."""
import dataclasses

import pytest

from workers.tasks import TASKS, Grade, Problem, Task, load_task
from workers.tasks import arith, countdown, sudoku
from workers.tasks.base import read_jsonl


@pytest.mark.parametrize("name", ["countdown", "arith", "sudoku"])
def test_registered_task_has_the_contract_fields(name):
    task = load_task(name)
    assert isinstance(task, Task)
    assert task.name == name and name in TASKS
    assert task.version.startswith(name + "-v")
    assert task.gen_length % task.block_length == 0
    assert len(task.problems) == 600
    assert set(p.difficulty for p in task.problems) == set(task.tiers)
    for p in task.problems:
        assert isinstance(p, Problem)
        assert p.problem_id.startswith(name + "-")
        assert p.prompt.isascii() and p.prompt.endswith("\n")
        assert p.meta["completion"].isascii()
        # every reference completion fits, leaving room for at least one EOS (sudoku's is the
        # fixed 16 cells: gen_length is exactly the grid)
        assert len(p.meta["completion"]) <= task.gen_length - (name != "sudoku")
    assert len({p.problem_id for p in task.problems}) == len(task.problems)


@pytest.mark.parametrize("name", ["countdown", "arith", "sudoku"])
def test_tiers_have_equal_counts_and_are_interleaved(name):
    task = load_task(name)
    tiers = list(task.tiers)
    assert [p.difficulty for p in task.problems[: len(tiers)]] == tiers
    for t in tiers:
        assert len(task.by_difficulty(t)) == 200
    assert [p.difficulty for p in load_task(name, difficulty=tiers[0]).problems] == [tiers[0]] * 200


def test_unknown_task_is_a_one_line_value_error_listing_known_names():
    with pytest.raises(ValueError) as e:
        load_task("countdwn")
    msg = str(e.value)
    assert "\n" not in msg and "countdwn" in msg
    for known in TASKS:
        assert known in msg


@pytest.mark.parametrize("name", ["countdown", "arith", "sudoku"])
def test_bad_split_or_difficulty_is_a_one_line_value_error(name):
    for kw in ({"split": "validation"}, {"difficulty": "impossible"}):
        with pytest.raises(ValueError) as e:
            load_task(name, **kw)
        assert "\n" not in str(e.value)


def test_problem_and_grade_are_frozen_and_hashable():
    p = load_task("countdown").problems[0]
    with pytest.raises(dataclasses.FrozenInstanceError):
        p.prompt = "x"
    g = Grade(True, "1", None)
    with pytest.raises(dataclasses.FrozenInstanceError):
        g.correct = False
    assert hash(p) == hash(Problem.from_dict(dataclasses.asdict(p)))
    # reason is informational: it takes no part in equality
    assert len({g, Grade(True, "1", None), Grade(True, "1", None, "why")}) == 1


@pytest.mark.parametrize("name", ["countdown", "arith", "sudoku"])
def test_grade_never_raises(name):
    task = load_task(name)
    p = task.problems[0]
    for junk in ["", " ", "\x00", "\n\n", "é", "\\boxed{", "}" * 50, "(" * 5000, "9" * 100_000]:
        g = task.grade(p, junk)
        assert isinstance(g, Grade) and g.correct is False
        assert g.error is None and g.reason  # bad output is a wrong answer, not a grading error
    for not_text in [None, 42, b"1"]:
        g = task.grade(p, not_text)
        assert g.correct is False and g.error  # a caller bug is reported as an error


@pytest.mark.parametrize("mod", [countdown, arith, sudoku])
def test_bundled_test_set_is_the_deterministic_generation_of_its_version(mod):
    assert mod.DATA_FILE.name == f"{mod.VERSION}-test.jsonl"
    assert read_jsonl(mod.DATA_FILE) == mod.generate_test_set()


@pytest.mark.parametrize("name", ["countdown", "arith", "sudoku"])
def test_path_override_reads_a_local_jsonl(name, tmp_path):
    task = load_task(name)
    f = tmp_path / "few.jsonl"
    f.write_text("".join(p.to_json() + "\n" for p in task.problems[:5]))
    small = load_task(name, path=str(f))
    assert small.problems == task.problems[:5]


@pytest.mark.parametrize("name", ["countdown", "arith", "sudoku"])
def test_train_split_problems_are_graded_and_disjoint_from_test(name):
    test_ids = {p.problem_id for p in load_task(name).problems}
    train = load_task(name, split="train", n=300, seed=1)
    assert len(train.problems) == 300
    assert not test_ids & {p.problem_id for p in train.problems}
    assert all(train.grade(p, p.meta["completion"]).correct for p in train.problems)


@pytest.mark.parametrize("name", ["countdown", "arith", "sudoku"])
def test_charset_covers_every_prompt_and_completion(name):
    task = load_task(name)
    cs = set(task.charset)
    assert task.charset.isascii() and all(c.isprintable() or c == "\n" for c in cs)
    assert all(set(p.prompt + p.meta["completion"]) <= cs for p in task.problems)
    assert all(set(p + c) <= cs for p, c in task.train_examples(2000, seed=0))
