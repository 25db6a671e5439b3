"""GSM8K test split (Cobbe et al. 2021), hub ``openai/gsm8k`` (config ``main``, split ``test``).

Used by 002 §5 (bits-to-rounds, ETE) and 004 §4-5 (MED, early exit) with LLaDA-8B-Instruct.
Generation length 256 (000 Table 4 has no GSM8K row; 256 is the length 002 uses), block length 32.
Same prompt as MATH-500 (``math_prompt``); grading extracts the answer in ``gsm8k`` mode of
``math_grader`` (the number after ``####``, else the last ``\\boxed{}``, else the last number)
and compares it with the gold number exactly.

Local data (``path=``): GSM8K's own JSONL — question, answer (reasoning ending in ``#### N``).
The reference is N without thousands separators.  problem_id: ``gsm8k-<hash of the question>``
(stable under subsetting and reordering); ``meta["index"]`` is the row number.
"""
from __future__ import annotations

from typing import Optional

from . import math_grader
from .base import Problem, make_problem_id
from .hub import load_records, require_fields
from .math500 import BoxedMathTask, check_split, check_timeout, math_prompt

NAME = "gsm8k"
VERSION = "gsm8k-v2"  # v2: linear extraction; \bmod, spaced digits, indeterminate forms (issue 26)
HUB_ID = "openai/gsm8k"


class Gsm8kTask(BoxedMathTask):
    name = NAME
    version = VERSION
    gen_length = 256
    block_length = 32
    tiers = ()
    extract = "gsm8k"

    def __init__(self, split: str = "test", path: Optional[str] = None, timeout: Optional[float] = None):
        check_split(NAME, split)
        self.grade_timeout = check_timeout(NAME, timeout)
        records = load_records(NAME, HUB_ID, "test", config="main", path=path)
        source = str(path) if path is not None else HUB_ID
        require_fields(NAME, records, ["question", "answer"], source)
        problems = []
        for i, r in enumerate(records):
            answer = str(r["answer"])
            if "####" not in answer:
                raise ValueError(f"task {NAME}: record {i} of {source}: answer has no '#### N' line")
            gold = math_grader.gsm8k_answer(answer)
            question = str(r["question"])
            problems.append(Problem(make_problem_id(NAME, question), math_prompt(question), gold, None,
                                    {"index": i, "solution": answer}))
        super().__init__(problems, split)
