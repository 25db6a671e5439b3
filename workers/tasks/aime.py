"""AIME 2024 and AIME 2025 (30 problems each; integer answers 0-999).

000 §5 and App. B: LLaDA-8B-Instruct, boxed-answer extraction with symbolic checking, maximum
generation length 512 (Table 4), block length 32.  Same prompt as MATH-500 (``math_prompt``).

Hub sources (via ``datasets``):
- ``aime24``: ``HuggingFaceH4/aime_2024`` (split ``train``, the only one; fields id, problem,
  solution, answer, url, year) — 2024 AIME I and II from the AoPS wiki.
- ``aime25``: ``opencompass/AIME2025`` (configs ``AIME2025-I`` and ``AIME2025-II``, split
  ``test``; fields question, answer).

Local data (``path=``): JSONL with ``id``, ``problem`` (or ``question``) and ``answer``.  Answers
are compared as numbers, so a gold ``"025"`` equals a boxed ``25``; the reference keeps the
integer without leading zeros.  problem_id: ``aime24-<id>`` when the record has an id, else
``aime25-I-<n>``/``aime25-II-<n>`` for the two hub configs.

Difficulty (AIME 2024 only, by the record's ``id``): the four tiers 000 §5 / Fig. 3 (middle) uses,
from Sun et al. (2025), "Climbing the Ladder of Reasoning: What LLMs Can — and Still Can't —
Solve after SFT" (``AIME24_TIERS``).  The ids of HuggingFaceH4/aime_2024 follow the lexicographic
order of the problems' AoPS urls, not the exam order: id 60 = 2024 I Problem 1, 61 = I 10,
62 = I 11, …, 66 = I 15, 67 = I 2, …, 74 = I 9, 75 = II 1, 76 = II 10, …, 81 = II 15, 82 = II 2,
…, 89 = II 9 (``AIME24_PROBLEM``; checked against every record's ``url`` in the dataset's file).
"""
from __future__ import annotations

import re
from typing import Optional

from .base import Problem, make_problem_id
from .hub import first_present, load_records, require_fields
from .math500 import BoxedMathTask, check_split, check_timeout, math_prompt


AIME24_TIER_IDS: dict[str, tuple[int, ...]] = {
    "easy": (60, 67, 69, 72),
    "medium": (66, 68, 71, 75, 78, 79, 82, 83, 84, 86),
    "hard": (61, 64, 65, 70, 73, 74, 76, 77, 80, 85, 87, 88),
    "extra-hard": (62, 63, 81, 89),
}
AIME24_TIERS: dict[int, str] = {i: tier for tier, ids in AIME24_TIER_IDS.items() for i in ids}
# id → (exam, problem number): ids run over the urls sorted as strings ("Problem_1", "_10", …, "_9").
AIME24_PROBLEM: dict[int, tuple[str, int]] = {
    60 + 15 * e + k: (exam, n)
    for e, exam in enumerate(("I", "II"))
    for k, n in enumerate(sorted(range(1, 16), key=str))
}


def _aime24_tier(record: dict) -> Optional[str]:
    try:
        return AIME24_TIERS.get(int(record.get("id")))
    except (TypeError, ValueError):
        return None


def _clean_answer(ans: object) -> str:
    s = str(ans).strip()
    return str(int(s)) if re.fullmatch(r"\d+", s) else s


class AimeTask(BoxedMathTask):
    gen_length = 512
    block_length = 32
    tiers = ()
    #: (hub id, [configs], split); None config = the dataset's default
    hub: tuple[str, tuple[Optional[str], ...], str] = ("", (None,), "test")

    def __init__(self, split: str = "test", path: Optional[str] = None, timeout: Optional[float] = None):
        check_split(self.name, split)
        self.grade_timeout = check_timeout(self.name, timeout)
        hub_id, configs, hub_split = self.hub
        rows: list[tuple[Optional[str], int, dict]] = []
        if path is not None:
            rows = [(None, i, r) for i, r in enumerate(load_records(self.name, hub_id, hub_split, path=path))]
        else:
            for cfg in configs:
                recs = load_records(self.name, hub_id, hub_split, config=cfg)
                rows += [(cfg, i, r) for i, r in enumerate(recs)]
        source = str(path) if path is not None else hub_id
        records = [r for _, _, r in rows]
        require_fields(self.name, records, ["problem", "answer"], source, {"problem": ["question"]})
        problems = []
        for cfg, i, r in rows:
            text = str(first_present(r, ["problem", "question"]))
            if r.get("id") is not None:
                pid = f"{self.name}-{r['id']}"
            elif cfg is not None:
                pid = f"{self.name}-{cfg.rsplit('-', 1)[-1]}-{i + 1}"
            else:
                pid = make_problem_id(self.name, text)
            tier = _aime24_tier(r) if self.name == "aime24" else None
            problems.append(Problem(pid, math_prompt(text), _clean_answer(r["answer"]), tier,
                                    {"answer_raw": str(r["answer"]), "url": r.get("url")}))
        super().__init__(problems, split)


class Aime24Task(AimeTask):
    name = "aime24"
    version = "aime24-v3"   # v2: difficulty labels (Sun et al. 2025 tiers); v3: math equivalence fixes (issue 26)
    tiers = tuple(AIME24_TIER_IDS)
    hub = ("HuggingFaceH4/aime_2024", (None,), "train")


class Aime25Task(AimeTask):
    name = "aime25"
    version = "aime25-v2"   # v2: math equivalence fixes (issue 26)
    hub = ("opencompass/AIME2025", ("AIME2025-I", "AIME2025-II"), "test")
