"""MMLU-Pro (002 §5.4): loader on the committed fixture (own format), the seeded subset, the
prompt, and the letter grader with its fallbacks."""
from __future__ import annotations

import json
import random
from pathlib import Path

import pytest

from workers.tasks import load_task
from workers.tasks.mmlu_pro import SUBSET_SEED, extract_letter, subset_ids

FIXTURE = Path(__file__).parent / "fixtures" / "mmlu_pro_mini.jsonl"


@pytest.fixture(scope="module")
def task():
    return load_task("mmlu_pro", path=str(FIXTURE))


def test_loader_reads_the_datasets_own_format(task):
    recs = [json.loads(line) for line in FIXTURE.read_text().splitlines()]
    assert len(task) == len(recs)                      # the fixture is smaller than the 1000 subset
    p = task.get(f"mmlu_pro-{recs[0]['question_id']}")
    assert p.reference == recs[0]["answer"] and p.difficulty == recs[0]["category"]
    assert p.prompt.endswith("Answer: Let's think step by step.")
    assert "Question: What is 7 * 8?\nOptions:\nA. 54\nB. 56\n" in p.prompt
    assert task.gen_length == 256 and task.block_length == 32


def test_subset_is_seeded_uniform_and_recorded():
    ids = list(range(100, 12132))                      # 12,032 ids like the real test split
    a = subset_ids(ids)
    assert a == subset_ids(list(reversed(ids)))        # independent of record order
    assert len(a) == 1000 and a == sorted(a)
    assert a == sorted(random.Random(SUBSET_SEED).sample(sorted(ids), 1000))
    assert a != subset_ids(ids, seed=SUBSET_SEED + 1)
    t = load_task("mmlu_pro", path=str(FIXTURE), subset=5)
    assert len(t) == 5 and [p.meta["question_id"] for p in t.problems] == t.subset_ids
    assert t.subset_ids == subset_ids([json.loads(l)["question_id"] for l in FIXTURE.read_text().splitlines()], 5)


@pytest.mark.parametrize("text,gold,correct,extracted", [
    ("7*8 = 56, so the answer is (B).", "B", True, "B"),          # correct letter
    ("7*8 = 58. The answer is (C)", "B", False, "C"),             # wrong letter
    ("I am not sure about this one.", "B", False, None),          # no letter
    ("It could be 56 or 54: the answer is (B) or (A)", "B", False, None),   # several letters
    ("Options (A) and (C) fail; the answer is (B)", "B", True, "B"),        # letters in the reasoning
    ("Answer: B", "B", True, "B"),                                 # fallback: "Answer: X"
    ("\\boxed{B}", "B", True, "B"),                                # fallback: boxed
    ("I think the right one is B", "B", True, "B"),                # fallback: last standalone letter
])
def test_grader(task, text, gold, correct, extracted):
    p = task.get("mmlu_pro-70")
    assert p.reference == gold
    g = task.grade(p, text)
    assert (g.correct, g.extracted, g.error) == (correct, extracted, None)
    if extracted is None:
        assert g.reason


def test_letter_beyond_the_options_is_not_an_answer():
    assert extract_letter("the answer is (F)", n_options=4) == (None, "letter F is not an option")
    assert extract_letter("the answer is (F)") == ("F", None)


def test_bad_records_are_one_line_errors(tmp_path):
    bad = tmp_path / "bad.jsonl"
    bad.write_text(json.dumps({"question_id": 1, "question": "q", "options": ["a", "b"], "answer": "E"}) + "\n")
    with pytest.raises(ValueError, match="not one of its options"):
        load_task("mmlu_pro", path=str(bad))
    with pytest.raises(ValueError, match="subset must be"):
        load_task("mmlu_pro", path=str(FIXTURE), subset=0)
