"""The sweep task family ``lm_eval:<task>`` (workers/lmeval/task.py): documents, prompts and scoring
from lm-eval, through the project's task registry (no spec change), on the local fixture task."""
from __future__ import annotations

import copy

import pytest

pytest.importorskip("lm_eval")
pytestmark = pytest.mark.usefixtures("one_torch_thread")

from lmeval_helpers import fixture_docs  # noqa: E402
from sweeps.engine.spec import SamplerSpec, SweepSpec, TaskSpec, expand  # noqa: E402
from workers.models import load_model  # noqa: E402
from workers.tasks import load_task  # noqa: E402

NAME = "lm_eval:arith_mini"


@pytest.fixture(scope="module")
def task(lmeval_tasks_dir):
    return load_task(NAME, include_path=lmeval_tasks_dir)


def test_documents_prompts_and_lengths_come_from_lm_eval(task):
    docs = fixture_docs()
    assert [p.prompt for p in task.problems] == [d["prompt"] for d in docs]      # 0-shot: the doc's text
    assert [p.reference for p in task.problems] == [d["reference"] for d in docs]
    assert task.gen_length == 48 and task.block_length == 16      # max_gen_toks, blocks: its divisor up to 32
    assert task.name == NAME and "arith_mini" in task.version


def test_grading_cuts_at_the_stop_string_then_runs_the_tasks_own_scoring(task):
    p = task.problems[0]
    answer = f"\\boxed{{{p.reference}}}"
    g = task.grade(p, answer + "\n\\boxed{0}")          # "\n" stops the answer, as lm-eval would
    assert g.correct and g.score == 1.0 and g.extracted == answer
    bad = task.grade(p, "\\boxed{0}\n" + answer)
    assert not bad.correct and bad.score == 0.0 and bad.error is None


def test_few_shot_prompts_follow_num_fewshot_and_change_the_problem_ids(task, lmeval_tasks_dir):
    two = load_task(NAME, include_path=lmeval_tasks_dir, num_fewshot=2)
    again = load_task(NAME, include_path=lmeval_tasks_dir, num_fewshot=2)
    for p0, p2 in zip(task.problems, two.problems):
        assert p2.prompt.endswith(p0.prompt) and len(p2.prompt) > len(p0.prompt)
        shots = p2.prompt[: -len(p0.prompt)]
        used = [q for q in task.problems if q.prompt in shots]
        assert len(used) == 2 and p0 not in used                  # two other documents, with their answers
        assert all(q.prompt + q.reference in shots for q in used)
    assert [p.prompt for p in again.problems] == [p.prompt for p in two.problems]   # seeded few-shot draw
    assert not {p.problem_id for p in task.problems} & {p.problem_id for p in two.problems}


def test_chat_template_is_lm_evals_messages_rendered_by_the_models_tokenizer(lmeval_tasks_dir):
    chat = load_task(NAME, include_path=lmeval_tasks_dir, apply_chat_template=True, num_fewshot=1)
    model = copy.copy(load_model("tiny"))
    model.tokenizer = copy.deepcopy(model.tokenizer)
    model.tokenizer.chat_template = ("{% for m in messages %}<{{ m['role'] }}>{{ m['content'] }}{% endfor %}"
                                     "{% if add_generation_prompt %}<assistant>{% endif %}")
    p = chat.problems[0]
    msgs = p.meta["chat"]["messages"]
    assert [m["role"] for m in msgs] == ["user"]            # few-shot folded into one user turn
    ids = chat.encode(model, p)
    text = model.tokenizer.decode(ids)
    assert text.startswith("<user>") and fixture_docs()[0]["prompt"] in text
    plain, tiny = load_task(NAME, include_path=lmeval_tasks_dir), load_model("tiny")   # no template: the sweep's usual ids
    assert plain.encode(tiny, plain.problems[0]) == tiny.encode_prompt(plain.problems[0].prompt)


def test_a_spec_expands_over_an_lm_eval_task_with_the_specs_limit(lmeval_tasks_dir):
    spec = SweepSpec(name="lme", models=["tiny"],
                     tasks=[TaskSpec(NAME, limit=4, args={"include_path": lmeval_tasks_dir, "num_fewshot": 1})],
                     samplers=[SamplerSpec("confidence"), SamplerSpec("entropy")], samples=2, batch_size=4)
    plan = expand(spec)
    assert plan.total == 4 * 2 * 2
    assert {b.task for b in plan.batches} == {NAME} and {(b.gen_length, b.block_length) for b in plan.batches} == {(48, 16)}


def test_malformed_names_and_splits_are_one_line_errors(lmeval_tasks_dir):
    # (an unknown lm-eval name is one line too, but finding that out indexes all of lm-eval's tasks: a minute)
    with pytest.raises(ValueError, match="names no lm_eval task"):
        load_task("lm_eval:")
    with pytest.raises(ValueError, match="split must be 'test'"):
        load_task(NAME, split="train", include_path=lmeval_tasks_dir)
