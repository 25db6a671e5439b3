"""The 4×4 Sudoku task (004's "Sudoku (4)"): generator, uniqueness, grader."""
import itertools

import pytest

from workers.tasks import load_task
from workers.tasks import sudoku


def _solve_all(puzzle: str) -> list[str]:
    """Independent backtracking solver: every completion of ``puzzle`` (row/column/box rules)."""
    cells = [0 if ch == "." else int(ch) for ch in puzzle]
    out: list[str] = []

    def ok(i: int, v: int) -> bool:
        r, c = divmod(i, 4)
        br, bc = r - r % 2, c - c % 2
        peers = ({r * 4 + j for j in range(4)} | {j * 4 + c for j in range(4)}
                 | {(br + a) * 4 + bc + b for a in range(2) for b in range(2)}) - {i}
        return all(cells[j] != v for j in peers)

    def go(i: int) -> None:
        if i == 16:
            out.append("".join(map(str, cells)))
            return
        if cells[i]:
            if ok(i, cells[i]):
                go(i + 1)
            return
        for v in range(1, 5):
            if ok(i, v):
                cells[i] = v
                go(i + 1)
                cells[i] = 0

    go(0)
    return out


def test_there_are_288_grids_and_each_is_valid():
    grids = sudoku.all_grids()
    assert len(grids) == 288 and len(set(grids)) == 288
    assert all(sudoku.is_valid_grid(g) for g in grids)
    assert len(_solve_all("." * 16)) == 288


def test_every_test_puzzle_has_exactly_one_solution_the_reference():
    task = load_task("sudoku")
    for p in task.problems[::7]:  # every seventh: the independent solver is slow-ish in Python
        assert _solve_all(p.meta["puzzle"]) == [p.reference]
    for p in task.problems:
        assert p.meta["givens"] == sudoku.TIERS[p.difficulty] == 16 - p.meta["puzzle"].count(".")
        assert task.grade(p, p.reference).correct


def test_grader_accepts_valid_fills_and_refuses_each_broken_rule():
    p = load_task("sudoku").problems[0]
    ref, puzzle = p.reference, p.meta["puzzle"]
    task = load_task("sudoku")
    spaced = " / ".join(ref[i:i + 4] for i in range(0, 16, 4))
    assert task.grade(p, spaced).correct and task.grade(p, ref + "\n").correct
    assert task.grade(p, ref).extracted == ref
    empty = puzzle.index(".")
    given = next(i for i, ch in enumerate(puzzle) if ch != ".")
    swapped = ref[:empty] + str(ref[empty] == "1" and 2 or 1) + ref[empty + 1:]
    cases = {
        "too short": ref[:15],
        "extra text": ref + "1",
        "not a digit 1-4": ref[:-1] + "5",
        "repeats": swapped,
    }
    for why, text in cases.items():
        g = task.grade(p, text)
        assert not g.correct and why in g.reason and g.error is None, (why, g)
    # a valid grid that changes a given is refused even though every unit is fine
    other = next("".join(map(str, g)) for g in sudoku.all_grids() if str(g[given]) != puzzle[given])
    g = task.grade(p, other)
    assert not g.correct and "given" in g.reason


def test_tiers_and_train_data_are_outside_the_test_bucket():
    test = {p.meta["puzzle"] for p in load_task("sudoku").problems}
    for tier, puzzle, grid in sudoku.generate_train(300, seed=3):
        assert puzzle not in test and len(sudoku.solutions(puzzle)) == 1
        assert puzzle.count(".") == 16 - sudoku.TIERS[tier]
    pairs = load_task("sudoku").train_examples(5, seed=0)
    assert all(prompt.startswith("Sudoku ") and len(c) == 16 for prompt, c in pairs)
    with pytest.raises(ValueError):
        sudoku.generate_train(1, seed=0, difficulty="expert")


def test_prompt_layout_is_rows_separated_by_slashes():
    assert sudoku.format_prompt("1234" + "." * 12) == "Sudoku 1234/..../..../....\n"
    assert list(itertools.islice(sudoku.UNITS, 1)) == [(0, 1, 2, 3)]


def test_the_trainer_knows_sudoku():
    from workers.tinymodel.tokenizer import build_tokenizer
    from workers.tinymodel.train import TaskStream, parse_mix

    assert parse_mix("sudoku=1") == {"sudoku": 1.0}
    tok = build_tokenizer()
    x, resp, attn = TaskStream("sudoku", 0, tok, chunk=20).batch(4)
    assert resp.sum(1).tolist() == [16] * 4  # the 16 cells, no EOS fill
    cells = tok.decode(x[0][resp[0]].tolist())
    assert len(cells) == 16 and sudoku.is_valid_grid([int(c) for c in cells])
