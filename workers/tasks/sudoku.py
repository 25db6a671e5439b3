"""Sudoku (4×4): fill a 4×4 grid so every row, column and 2×2 box holds 1-4 (004's "Sudoku (4)").

Prompt      ``"Sudoku 1.3./..2./4.../...1\\n"`` (rows separated by ``/``, ``.`` = empty cell)
Completion  ``"1234341221434321"`` — the 16 cells of the solved grid, row by row, no separators,
            so completion position i is cell (i // 4, i % 4) and every position has a fixed role.

004 (Table 7, Table 1) uses Sudoku as the one task where any-order decoding beats left-to-right:
the cells a puzzle's givens pin down are not the leftmost ones, so a sampler that commits the
most certain cell first follows the constraint propagation, while left-to-right must guess the
first empty cell of the top row before the cells that decide it are filled.

Tiers (``difficulty``) by number of givens: ``easy`` 10, ``medium`` 8, ``hard`` 6.  Every
puzzle (test and training) has exactly one solution, checked by enumerating the 288 valid 4×4
grids.  The grader accepts any completion that is a valid grid agreeing with the givens (with a
unique solution that is the reference); whitespace and ``/`` inside the completion are ignored.
"""
from __future__ import annotations

import itertools
import random
from functools import lru_cache
from pathlib import Path
from typing import Optional, Sequence, Union

from .base import Grade, Problem, Task, in_test_bucket, make_problem_id
from .base import synthetic_split, tier_list

NAME = "sudoku"
VERSION = "sudoku-v1"
DATA_FILE = Path(__file__).with_name("data") / f"{VERSION}-test.jsonl"
TEST_PER_TIER = 200
TEST_BUCKET_PER_MILLE = 100
N = 4  # grid side; boxes are 2×2
CELLS = N * N
TIERS: dict[str, int] = {"easy": 10, "medium": 8, "hard": 6}  # tier -> givens
PREFIX = "Sudoku "


def _units() -> list[tuple[int, ...]]:
    rows = [tuple(r * N + c for c in range(N)) for r in range(N)]
    cols = [tuple(r * N + c for r in range(N)) for c in range(N)]
    boxes = [tuple((br + r) * N + bc + c for r in range(2) for c in range(2))
             for br in (0, 2) for bc in (0, 2)]
    return rows + cols + boxes


UNITS = _units()


def is_valid_grid(cells: Sequence[int]) -> bool:
    """Every row, column and 2×2 box holds 1..4 exactly once."""
    return len(cells) == CELLS and all(sorted(cells[i] for i in u) == [1, 2, 3, 4] for u in UNITS)


@lru_cache(maxsize=1)
def all_grids() -> tuple[tuple[int, ...], ...]:
    """The 288 valid 4×4 grids, in lexicographic order."""
    perms = list(itertools.permutations(range(1, N + 1)))
    out = []
    for rows in itertools.product(perms, repeat=N):
        cells = tuple(v for r in rows for v in r)
        if is_valid_grid(cells):
            out.append(cells)
    return tuple(out)


def solutions(puzzle: str) -> list[tuple[int, ...]]:
    """All valid grids agreeing with ``puzzle`` (16 chars, digits or ``.``)."""
    fixed = [(i, int(ch)) for i, ch in enumerate(puzzle) if ch != "."]
    return [g for g in all_grids() if all(g[i] == v for i, v in fixed)]


def format_prompt(puzzle: str) -> str:
    return PREFIX + "/".join(puzzle[r * N:(r + 1) * N] for r in range(N)) + "\n"


def format_completion(grid: Sequence[int]) -> str:
    return "".join(str(v) for v in grid)


def _draw(givens: int, rng: random.Random) -> tuple[str, tuple[int, ...]]:
    """A uniquely solvable puzzle with ``givens`` givens: a random grid, a random cell subset."""
    grids = all_grids()
    while True:
        grid = grids[rng.randrange(len(grids))]
        keep = set(rng.sample(range(CELLS), givens))
        puzzle = "".join(str(grid[i]) if i in keep else "." for i in range(CELLS))
        if len(solutions(puzzle)) == 1:
            return puzzle, grid


def _make_problem(tier: str, puzzle: str, grid: Sequence[int]) -> Problem:
    completion = format_completion(grid)
    return Problem(problem_id=make_problem_id(NAME, puzzle), prompt=format_prompt(puzzle),
                   reference=completion, difficulty=tier,
                   meta={"puzzle": puzzle, "givens": CELLS - puzzle.count("."), "completion": completion})


def _tier_list(difficulty: Union[None, str, Sequence[str]]) -> list[str]:
    return tier_list(NAME, TIERS, difficulty)


def generate_test_set(per_tier: int = TEST_PER_TIER, version: str = VERSION) -> list[Problem]:
    """The fixed test set, tiers interleaved (easy, medium, hard, easy, ...)."""
    per: dict[str, list[Problem]] = {}
    for tier, givens in TIERS.items():
        rng = random.Random(f"{version}/test/{tier}")
        seen: set[str] = set()
        out: list[Problem] = []
        while len(out) < per_tier:
            puzzle, grid = _draw(givens, rng)
            if puzzle in seen or not in_test_bucket(NAME, puzzle, TEST_BUCKET_PER_MILLE):
                continue
            seen.add(puzzle)
            out.append(_make_problem(tier, puzzle, grid))
        per[tier] = out
    return [per[t][i] for i in range(per_tier) for t in TIERS]


def generate_train(n: int, seed: int, difficulty: Union[None, str, Sequence[str]] = None,
                   ) -> list[tuple[str, str, tuple[int, ...]]]:
    """``n`` (tier, puzzle, solution) triples outside the test bucket, tiers drawn uniformly."""
    tiers = _tier_list(difficulty)
    rng = random.Random(seed)
    out = []
    while len(out) < n:
        tier = tiers[rng.randrange(len(tiers))]
        puzzle, grid = _draw(TIERS[tier], rng)
        if not in_test_bucket(NAME, puzzle, TEST_BUCKET_PER_MILLE):
            out.append((tier, puzzle, grid))
    return out


def grade_sudoku(puzzle: str, completion: str) -> Grade:
    """Correct iff the completion (whitespace and ``/`` ignored) is 16 digits forming a valid grid
    that keeps every given."""
    text = "".join(ch for ch in completion if not ch.isspace() and ch != "/")
    if len(text) < CELLS:
        return Grade(False, text or None, reason=f"too short: {len(text)} of {CELLS} cells")
    if len(text) > CELLS:
        return Grade(False, text, reason=f"extra text after the {CELLS} cells")
    if any(ch not in "1234" for ch in text):
        return Grade(False, text, reason="a cell is not a digit 1-4")
    cells = [int(ch) for ch in text]
    if any(ch != "." and int(ch) != v for ch, v in zip(puzzle, cells)):
        return Grade(False, text, reason="a given cell was changed")
    if not is_valid_grid(cells):
        return Grade(False, text, reason="a row, column or box repeats a digit")
    return Grade(True, text)


class SudokuTask(Task):
    name = NAME
    version = VERSION
    gen_length = CELLS
    block_length = CELLS  # one block: the order is the sampler's (004 Table 7's any-order row)
    tiers = tuple(TIERS)
    charset = "".join(sorted(set(PREFIX + "./\n1234")))

    def __init__(self, split: str = "test", path: Optional[str] = None, n: int = 600,
                 seed: int = 0, difficulty: Union[None, str, Sequence[str]] = None):
        draws = lambda: (_make_problem(*d) for d in generate_train(4 * n + 100, seed, difficulty))  # noqa: E731
        problems = synthetic_split(NAME, TIERS, split, DATA_FILE, path, difficulty, draws, n, key=lambda p: p.meta["puzzle"])
        super().__init__(problems, split)

    def _grade(self, problem: Problem, completion: str) -> Grade:
        return grade_sudoku(problem.meta["puzzle"], completion)

    def train_examples(self, n: int, seed: int,
                       difficulty: Union[None, str, Sequence[str]] = None) -> list[tuple[str, str]]:
        """``n`` (prompt, completion) pairs, none from the test bucket; tiers drawn uniformly."""
        return [(format_prompt(puzzle), format_completion(grid))
                for _, puzzle, grid in generate_train(n, seed, difficulty)]
