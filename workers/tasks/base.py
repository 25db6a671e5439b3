"""The task contract (docs/design.md §3): problems, grades, and the ``Task`` base class.

A task is a fixed, versioned list of test problems plus an exact grader.  Synthetic tasks
(``countdown``, ``arith``, ``sudoku``) also generate training data that never shares a problem with the
test set: every problem has a canonical content string, its ``problem_id`` is a hash of that
string, and a second hash of the same string puts it in the *test bucket* or not.  Test sets
are drawn only from the test bucket, training data only from outside it.
"""
from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Callable, Hashable, Iterable, Optional, Sequence, Union


@dataclass(frozen=True)
class Problem:
    """One problem.  ``reference`` is what the grader compares against (for ``countdown`` a
    valid answer, for math tasks the gold final answer); ``meta`` holds task-specific extras
    (``meta["completion"]``: a reference completion in the task's training format, when the
    task has one)."""

    problem_id: str
    prompt: str
    reference: str
    difficulty: Optional[str] = None
    meta: dict = field(default_factory=dict, hash=False)

    def to_json(self) -> str:
        return json.dumps(asdict(self), sort_keys=True, separators=(",", ":"))

    @classmethod
    def from_dict(cls, d: dict) -> "Problem":
        return cls(
            problem_id=str(d["problem_id"]),
            prompt=str(d["prompt"]),
            reference=str(d["reference"]),
            difficulty=d.get("difficulty"),
            meta=dict(d.get("meta") or {}),
        )


@dataclass(frozen=True)
class Grade:
    """The grader's verdict.

    ``correct``: the completion solves the problem.  ``extracted``: the answer the grader read
    from it (None if it found none).  ``error``: set only when grading itself failed — the
    equivalence check timed out or crashed, the grader hit a bug, the completion was not a
    string; such a row counts as incorrect, and ``error`` is what sweeps report as errors.
    ``reason`` (informational, not part of equality or the Parquet contract): why a graded
    completion is incorrect when that is more than "wrong value" — malformed, no answer found,
    a number used twice, too long.  A model's bad output is a wrong answer, not an error."""

    correct: bool
    extracted: Optional[str] = None
    error: Optional[str] = None
    reason: Optional[str] = field(default=None, compare=False)
    #: the task's own per-sample metric (row column ``score``) where it has one beyond right/wrong
    #: (lm_eval: tasks); informational like ``reason``
    score: Optional[float] = field(default=None, compare=False)


def content_hash(task_name: str, canonical: str) -> str:
    """Stable hex digest of a problem's canonical content (independent of Python's hash seed)."""
    return hashlib.sha256(f"{task_name}\x1f{canonical}".encode("utf-8")).hexdigest()


def make_problem_id(task_name: str, canonical: str) -> str:
    return f"{task_name}-{content_hash(task_name, canonical)[:12]}"


def in_test_bucket(task_name: str, canonical: str, per_mille: int) -> bool:
    """True when the problem is reserved for the test split (``per_mille`` of all problems).

    Uses a different slice of the digest than the problem id, so the split does not correlate
    with id prefixes."""
    digest = hashlib.sha256(f"split\x1f{task_name}\x1f{canonical}".encode("utf-8")).hexdigest()
    return int(digest[:8], 16) % 1000 < per_mille


def apply_op(a: int, op: str, b: int) -> int:
    """``a op b`` for the synthetic tasks' operators ``+ - *``."""
    return a * b if op == "*" else a + b if op == "+" else a - b


def format_step(a: int, op: str, b: int, c: int) -> str:
    """One chain step as arith and countdown write it, numbers zero-padded to two digits:
    ``08*04=32`` (fixed width, so every position has a fixed role; see tinymodel/RECIPE.md)."""
    return f"{a:02d}{op}{b:02d}={c:02d}"


def read_jsonl(path: str | Path) -> list[Problem]:
    path = Path(path)
    problems = []
    with path.open("r", encoding="utf-8") as f:
        for lineno, line in enumerate(f, 1):
            line = line.strip()
            if not line:
                continue
            try:
                problems.append(Problem.from_dict(json.loads(line)))
            except (ValueError, KeyError, TypeError) as e:
                raise ValueError(f"{path}:{lineno}: not a problem record ({e})") from None
    return problems


def write_jsonl(path: str | Path, problems: Iterable[Problem]) -> None:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    with tmp.open("w", encoding="utf-8", newline="\n") as f:
        for p in problems:
            f.write(p.to_json() + "\n")
    tmp.replace(path)


def tier_list(task: str, tiers: Sequence[str], difficulty: Union[None, str, Sequence[str]]) -> list[str]:
    """``difficulty`` (None = every tier, a tier name, or several) as a checked list of tiers."""
    if difficulty is None:
        return list(tiers)
    picked = [difficulty] if isinstance(difficulty, str) else list(difficulty)
    bad = [t for t in picked if t not in tiers]
    if bad or not picked:
        raise ValueError(f"{task}: unknown difficulty {bad or picked!r}; known: {', '.join(tiers)}")
    return picked


def synthetic_split(task: str, tiers: Sequence[str], split: str, data_file: str | Path,
                    path: Optional[str], difficulty: Union[None, str, Sequence[str]],
                    train_draws: Callable[[], Iterable[Problem]], n: int,
                    key: Callable[[Problem], Hashable] = lambda p: p.problem_id) -> list[Problem]:
    """The problems of a synthetic task's split.

    test: the committed JSONL (or ``path``), optionally only some tiers; train: the first ``n``
    distinct problems (by ``key``) of ``train_draws()``, which draws outside the test bucket.
    """
    if split == "test":
        problems = read_jsonl(path or data_file)
        if difficulty is not None:
            keep = set(tier_list(task, tiers, difficulty))
            problems = [p for p in problems if p.difficulty in keep]
        return problems
    if split == "train":
        seen: set[Hashable] = set()
        problems = []
        for p in train_draws():
            if key(p) not in seen:
                seen.add(key(p))
                problems.append(p)
            if len(problems) == n:
                break
        return problems
    raise ValueError(f"{task}: unknown split {split!r}; known: test, train")


class Task:
    """Base class.  Subclasses set ``name``, ``version``, ``gen_length``, ``block_length``,
    ``tiers`` and fill ``self.problems``; they implement ``_grade`` (may raise — ``grade``
    turns any exception into an error grade) and, for synthetic tasks, ``train_examples``."""

    name: str = "task"
    version: str = "0"
    gen_length: int = 64
    block_length: int = 32
    tiers: tuple[str, ...] = ()
    #: every character a prompt or reference completion can contain (synthetic tasks; "" when
    #: open-ended) — what a character-level tokenizer must cover
    charset: str = ""

    def __init__(self, problems: Sequence[Problem], split: str = "test"):
        self.split = split
        self.problems: list[Problem] = list(problems)
        self._by_id = {p.problem_id: p for p in self.problems}
        if len(self._by_id) != len(self.problems):
            raise ValueError(f"task {self.name}: duplicate problem ids in the {split} split")

    # -- lookup ---------------------------------------------------------------------------
    def __len__(self) -> int:
        return len(self.problems)

    def __repr__(self) -> str:
        return (f"<{type(self).__name__} {self.name} {self.version} split={self.split} "
                f"problems={len(self.problems)} gen_length={self.gen_length} "
                f"block_length={self.block_length}>")

    def get(self, problem_id: str) -> Problem:
        try:
            return self._by_id[problem_id]
        except KeyError:
            raise KeyError(f"task {self.name}: no problem {problem_id!r}") from None

    def by_difficulty(self, difficulty: str) -> list[Problem]:
        return [p for p in self.problems if p.difficulty == difficulty]

    # -- prompting ------------------------------------------------------------------------
    def encode(self, model: Any, problem: Problem) -> list[int]:
        """The prompt's token ids for ``model``: its chat template over the problem's prompt as a user
        turn (``encode_prompt``).  Tasks whose prompts are already complete texts (lm_eval:) override."""
        return model.encode_prompt(problem.prompt)

    # -- grading --------------------------------------------------------------------------
    def grade(self, problem: Problem, completion: str) -> Grade:
        """Grade one completion.  Never raises: a malformed completion is graded incorrect (with a
        ``reason``); a failure of the grader itself gives ``error``."""
        if not isinstance(completion, str):
            return Grade(False, None, f"completion is {type(completion).__name__}, not str")
        try:
            return self._grade(problem, completion)
        except Exception as e:  # a grader bug must not kill a sweep worker
            msg = str(e).splitlines()[0] if str(e) else ""
            return Grade(False, None, f"grader error: {type(e).__name__}: {msg}"[:300])

    def _grade(self, problem: Problem, completion: str) -> Grade:
        raise NotImplementedError

    # -- training data --------------------------------------------------------------------
    def train_examples(self, n: int, seed: int, **kw: Any) -> list[tuple[str, str]]:
        raise NotImplementedError(f"task {self.name} has no training-data generator")
