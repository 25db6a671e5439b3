"""Difficulty labels (000 §5, Fig. 3 middle): AIME24 carries Sun et al. (2025)'s tiers by
the dataset's ``id``, MATH500 its ``level``.  The real files in ../shared/data are used when
present (DLLM_SHARED_DATA overrides the location) and the tests skip cleanly otherwise."""
from __future__ import annotations

import json
import os
import re
from collections import Counter
from pathlib import Path

import pytest

from workers.tasks import load_task
from workers.tasks.aime import AIME24_PROBLEM, AIME24_TIERS

REPO = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("DLLM_SHARED_DATA", REPO.parent / "shared" / "data"))


def shared(name: str) -> Path:
    f = SHARED / name / "test.jsonl"
    if not f.is_file():
        pytest.skip(f"{f} not present (real benchmark files are optional)")
    return f


def test_aime24_tiers_cover_ids_60_to_89_once_with_the_published_sizes():
    assert sorted(AIME24_TIERS) == list(range(60, 90))
    assert Counter(AIME24_TIERS.values()) == {"easy": 4, "medium": 10, "hard": 12, "extra-hard": 4}
    assert sorted(AIME24_PROBLEM.values()) == sorted((e, n) for e in ("I", "II") for n in range(1, 16))


def test_aime24_ids_match_their_urls_and_the_task_labels_them():
    path = shared("aime24")
    records = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    for r in records:
        m = re.search(r"2024_AIME_(I{1,2})_Problems/Problem_(\d+)$", r["url"])
        assert m, r["url"]
        assert AIME24_PROBLEM[int(r["id"])] == (m.group(1), int(m.group(2))), r["id"]
    task = load_task("aime24", path=str(path))
    assert {p.problem_id: p.difficulty for p in task.problems} == {
        f"aime24-{r['id']}": AIME24_TIERS[int(r["id"])] for r in records}
    assert task.by_difficulty("easy") and task.tiers == ("easy", "medium", "hard", "extra-hard")


def test_aime_records_outside_the_tiers_and_aime25_have_no_label():
    fix = REPO / "tests" / "fixtures" / "aime_mini.jsonl"
    assert all(p.difficulty is None for p in load_task("aime24", path=str(fix)).problems)  # ids 1, 2
    assert all(p.difficulty is None for p in load_task("aime25", path=str(fix)).problems)


def test_math500_labels_are_its_levels():
    path = shared("math500")
    levels = [str(json.loads(line)["level"]) for line in path.read_text().splitlines() if line.strip()]
    task = load_task("math500", path=str(path))
    assert [p.difficulty for p in task.problems] == [re.search(r"[1-5]", v).group(0) for v in levels]
    assert set(p.difficulty for p in task.problems) == {"1", "2", "3", "4", "5"}
