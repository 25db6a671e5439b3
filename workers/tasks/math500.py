"""MATH-500 (the 500-problem test split of MATH used by Lightman et al. 2023), hub
``HuggingFaceH4/MATH-500`` (split ``test``).

000 §5 and App. B: LLaDA-8B-Instruct; answers are extracted from the last ``\\boxed{}`` and compared
symbolically (here: ``math_grader`` — normalisation, exact rationals, then math-verify in a child
process with a hard timeout); maximum generation length 128 (Table 4), block length 32.
``difficulty`` is the MATH level ``"1"``..``"5"`` (000 Fig. 3 middle stratifies Pass@32 by it).

Prompt: the problem, then "Please reason step by step, and put your final answer within
\\boxed{}." (the usual instruction for LLaDA/Qwen-style math evaluation); the model adapter applies
the chat template.  problem_id: the dataset's ``unique_id`` (``test/precalculus/807.json``).

Local data (``path=``): JSONL in MATH-500's own format — problem, solution, answer, subject,
level, unique_id.  ``difficulty=`` keeps only the given level(s).
"""
from __future__ import annotations

import re
from typing import Optional, Sequence, Union

from . import math_grader
from .base import Grade, Problem, Task
from .hub import load_records, require_fields

NAME = "math500"
VERSION = "math500-v2"  # v2: \bmod, spaced digits, indeterminate forms, mixed numbers (issue 26)
HUB_ID = "HuggingFaceH4/MATH-500"

MATH_INSTRUCTION = "Please reason step by step, and put your final answer within \\boxed{}."


def math_prompt(problem: str) -> str:
    """The math prompt shared by MATH-500, AIME and GSM8K."""
    return f"{problem.strip()}\n{MATH_INSTRUCTION}"


def check_split(name: str, split: str) -> None:
    if split != "test":
        raise ValueError(f"{name}: only the test split exists; got split={split!r}")


def check_timeout(name: str, timeout: Optional[float]) -> float:
    if timeout is None:
        return math_grader.DEFAULT_TIMEOUT
    if not (isinstance(timeout, (int, float)) and timeout > 0):
        raise ValueError(f"{name}: timeout must be a positive number of seconds, got {timeout!r}")
    return float(timeout)


class BoxedMathTask(Task):
    """A benchmark whose ``reference`` is the gold final answer: grade = extract the model's answer
    (``extract`` mode of ``math_grader.extract_answer``) and test equivalence (gold first)."""

    extract = "boxed"
    grade_timeout = math_grader.DEFAULT_TIMEOUT

    def _grade(self, problem: Problem, completion: str) -> Grade:
        return math_grader.grade_answer(problem.reference, completion, extract=self.extract,
                                        timeout=self.grade_timeout)


def _level(value: object) -> Optional[str]:
    """``3``, ``"3"`` or ``"Level 3"`` -> ``"3"``."""
    m = re.search(r"[1-5]", str(value)) if value is not None else None
    return m.group(0) if m else None


class Math500Task(BoxedMathTask):
    name = NAME
    version = VERSION
    gen_length = 128
    block_length = 32
    tiers = ("1", "2", "3", "4", "5")

    def __init__(self, split: str = "test", path: Optional[str] = None,
                 difficulty: Union[None, str, int, Sequence[Union[str, int]]] = None,
                 timeout: Optional[float] = None):
        check_split(NAME, split)
        self.grade_timeout = check_timeout(NAME, timeout)
        records = load_records(NAME, HUB_ID, "test", path=path)
        source = str(path) if path is not None else HUB_ID
        require_fields(NAME, records, ["problem", "answer", "level", "unique_id"], source)
        problems = []
        for r in records:
            problems.append(Problem(
                problem_id=str(r["unique_id"]), prompt=math_prompt(str(r["problem"])),
                reference=str(r["answer"]).strip(), difficulty=_level(r["level"]),
                meta={"subject": r.get("subject"), "solution": r.get("solution")}))
        if difficulty is not None:
            wanted = [difficulty] if isinstance(difficulty, (str, int)) else list(difficulty)
            keep = {_level(d) for d in wanted}
            if None in keep or not wanted:
                raise ValueError(f"{NAME}: difficulty must be among {', '.join(self.tiers)}, got {difficulty!r}")
            problems = [p for p in problems if p.difficulty in keep]
        super().__init__(problems, split)
