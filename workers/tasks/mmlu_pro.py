"""MMLU-Pro (Wang et al. 2024), hub ``TIGER-Lab/MMLU-Pro`` (split ``test``, 12,032 questions, up to
ten options A–J).

002 §5.4 evaluates LLaDA-8B-Instruct on "a uniform subset of 1000 samples" of MMLU-Pro.  The paper
does not give the subset's seed or ids, so this task fixes its own and records it: the subset is
``random.Random(SUBSET_SEED).sample(sorted question_ids, 1000)`` (``subset_ids``), kept in
question_id order.  Everyone with the same dataset therefore gets the same 1000; ``subset=None``
keeps every question, ``subset_seed=`` draws another.  002's generation and block lengths for
MMLU-Pro were lost in the text extraction; 256 / 32 are the task's defaults (the lengths 002 and
000 use for GSM8K / HumanEval with LLaDA; a spec may override them).

Prompt: MMLU-Pro's own chain-of-thought format (its ``evaluate_from_local`` script, zero-shot):
the category header, ``Question:``, ``Options:`` lettered ``A. ...``, then
``Answer: Let's think step by step.``  Grading (``extract_letter``): the last
``answer is (X)``, else ``Answer: X``, else ``\\boxed{X}``, else the last standalone letter
among the question's options — the fallbacks of MMLU-Pro's script, plus ``\\boxed{}``.  A final
statement naming several different letters (``the answer is (A) or (C)``) is ambiguous and graded
incorrect.  ``difficulty`` is the category (so ``limit`` spreads over subjects).

Local data (``path=``): JSONL (or a JSON array) in the dataset's own format — question_id,
question, options, answer (a letter), answer_index, cot_content, category, src.
"""
from __future__ import annotations

import random
import re
import string
from typing import Optional, Sequence

from .base import Grade, Problem, Task
from .hub import load_records, require_fields
from .math500 import check_split

NAME = "mmlu_pro"
VERSION = "mmlu_pro-v1"
HUB_ID = "TIGER-Lab/MMLU-Pro"
SUBSET_SIZE = 1000   # 002 §5.4
SUBSET_SEED = 0      # ours: 002 does not state one
LETTERS = string.ascii_uppercase[:10]  # A..J

_ANSWER_IS = re.compile(r"answer is:?\s*+(?:\(\s*+)?([A-J])\s*\)?(?![A-Za-z])", re.IGNORECASE)
_ANSWER_COLON = re.compile(r"answer:\s*+(?:\(\s*+)?([A-J])\s*\)?(?![A-Za-z])", re.IGNORECASE)
_BOXED = re.compile(r"\\boxed\{\s*+(?:\(\s*+)?([A-J])\s*+(?:\)\s*+)?\}")
_LETTER = re.compile(r"(?<![A-Za-z])\(?([A-J])\)?(?![A-Za-z])")
# "I think", "A cell": the pronoun / article, not an option letter (a bare word before lowercase).
_WORD = re.compile(r"(?<![A-Za-z(])([AI])\s++[a-z]")
# Letters right after the final "answer is" statement: "(A) or (C)", "A, C", "A and C".
# Possessive whitespace runs, never two optional runs side by side: every pattern is linear.
_MORE = re.compile(r"^\s*+(?:,|or|and|/|&)\s*+(?:\(\s*+)?([A-J])\s*\)?(?![A-Za-z])", re.IGNORECASE)


def mmlu_pro_prompt(question: str, options: Sequence[str], category: str) -> str:
    """MMLU-Pro's CoT prompt (zero-shot form of the benchmark's own evaluation script)."""
    head = (f"The following are multiple choice questions (with answers) about {category}. Think step by "
            "step and then finish your answer with \"the answer is (X)\" where X is the correct letter choice.")
    opts = "\n".join(f"{LETTERS[i]}. {str(o).strip()}" for i, o in enumerate(options))
    return f"{head}\n\nQuestion: {question.strip()}\nOptions:\n{opts}\nAnswer: Let's think step by step."


def extract_letter(text: str, n_options: int = 10) -> tuple[Optional[str], Optional[str]]:
    """(letter, reason): the answer letter with the usual fallbacks, or (None, why not)."""
    valid = LETTERS[:n_options]
    for pattern in (_ANSWER_IS, _ANSWER_COLON, _BOXED):
        hits = list(pattern.finditer(text))
        if hits:
            last = hits[-1]
            letters = {last.group(1).upper()}
            rest = text[last.end():]
            while (m := _MORE.match(rest)):     # several letters in the final statement
                letters.add(m.group(1).upper())
                rest = rest[m.end():]
            if len(letters) > 1:
                return None, f"several letters in the final answer: {', '.join(sorted(letters))}"
            letter = letters.pop()
            return (letter, None) if letter in valid else (None, f"letter {letter} is not an option")
    words = {m.start(1) for m in _WORD.finditer(text)}
    singles = [m.group(1) for m in _LETTER.finditer(text) if m.group(1) in valid and m.start(1) not in words]
    if singles:  # MMLU-Pro's last resort: the last standalone option letter
        return singles[-1], None
    return None, "no answer letter found"


def subset_ids(ids: Sequence[int], size: Optional[int] = SUBSET_SIZE, seed: int = SUBSET_SEED) -> list[int]:
    """002's uniform subset: ``size`` question_ids drawn with ``random.Random(seed)`` from the sorted
    ids, returned sorted (all ids when ``size`` is None or ≥ their number)."""
    pool = sorted(ids)
    if size is None or size >= len(pool):
        return pool
    return sorted(random.Random(seed).sample(pool, size))


class MmluProTask(Task):
    name = NAME
    version = VERSION
    gen_length = 256
    block_length = 32
    tiers = ()

    def __init__(self, split: str = "test", path: Optional[str] = None, subset: Optional[int] = SUBSET_SIZE,
                 subset_seed: int = SUBSET_SEED):
        check_split(NAME, split)
        if subset is not None and (isinstance(subset, bool) or not isinstance(subset, int) or subset < 1):
            raise ValueError(f"{NAME}: subset must be a positive integer or None, got {subset!r}")
        if isinstance(subset_seed, bool) or not isinstance(subset_seed, int):
            raise ValueError(f"{NAME}: subset_seed must be an integer, got {subset_seed!r}")
        records = load_records(NAME, HUB_ID, "test", path=path)
        source = str(path) if path is not None else HUB_ID
        require_fields(NAME, records, ["question_id", "question", "options", "answer"], source)
        by_id: dict[int, dict] = {}
        for i, r in enumerate(records):
            qid, opts, ans = r["question_id"], r["options"], str(r["answer"]).strip().upper()
            if not isinstance(qid, int) or qid in by_id:
                raise ValueError(f"{NAME}: record {i} of {source}: question_id must be a unique integer, got {qid!r}")
            if not isinstance(opts, list) or not 2 <= len(opts) <= 10:
                raise ValueError(f"{NAME}: record {i} of {source}: options must be a list of 2-10 strings")
            if ans not in LETTERS[:len(opts)]:
                raise ValueError(f"{NAME}: record {i} of {source}: answer {ans!r} is not one of its options")
            by_id[qid] = r
        self.subset_seed = subset_seed
        self.subset_ids = subset_ids(list(by_id), subset, subset_seed)
        problems = []
        for qid in self.subset_ids:
            r = by_id[qid]
            cat = str(r.get("category") or "other")
            problems.append(Problem(f"{NAME}-{qid}", mmlu_pro_prompt(str(r["question"]), r["options"], cat),
                                    str(r["answer"]).strip().upper(), cat,
                                    {"question_id": qid, "n_options": len(r["options"]), "src": r.get("src")}))
        self.tiers = tuple(sorted({p.difficulty for p in problems}))
        super().__init__(problems, split)

    def _grade(self, problem: Problem, completion: str) -> Grade:
        letter, reason = extract_letter(completion, int(problem.meta.get("n_options", 10)))
        if letter is None:
            return Grade(False, None, None, reason)
        return Grade(letter == problem.reference, letter)
