"""The lm-eval model ``dllm`` (workers/lmeval/model.py), run through lm-eval itself on a local task
(tests/fixtures/lmeval: a YAML with a local JSON dataset, loaded by include_path), offline."""
from __future__ import annotations

import json
import math

import pytest

pytest.importorskip("lm_eval")
pytestmark = pytest.mark.usefixtures("one_torch_thread")

from lm_eval import simple_evaluate  # noqa: E402
from lm_eval.api.instance import Instance  # noqa: E402
from lm_eval.api.registry import get_model  # noqa: E402
from lm_eval.models.utils import postprocess_generated_text  # noqa: E402
from lm_eval.tasks import TaskManager  # noqa: E402

from lmeval_helpers import fixture_docs, project_completions  # noqa: E402
from workers.lmeval.model import UNSUPPORTED_ROLLING, DLLMEvalLM  # noqa: E402
from workers.models import load_model  # noqa: E402
from workers.tasks import load_task  # noqa: E402

KNOBS = {"temperature": 0.7}


@pytest.fixture(scope="module")
def tiny():
    return load_model("tiny")


def run_lm_eval(lmeval_tasks_dir: str, task: str, model_args: str, **kw):
    out = simple_evaluate(model="dllm", model_args=model_args, tasks=[task], log_samples=True,
                          task_manager=TaskManager(include_path=lmeval_tasks_dir, include_defaults=False), **kw)
    samples = sorted(out["samples"][task], key=lambda s: s["doc_id"])
    return out, samples


def test_dllm_is_registered_with_lm_eval():
    assert get_model("dllm") is DLLMEvalLM


def test_lm_eval_answers_equal_the_project_task_path(lmeval_tasks_dir, tiny, tmp_path):
    """Same prompts, sampler, knobs and seed: lm-eval's responses are the sweep's completions cut at
    the task's stop string, and lm-eval's score is the project grader's verdict."""
    trace = tmp_path / "trace.jsonl"
    out, samples = run_lm_eval(lmeval_tasks_dir, "arith_mini",
                               f"model=tiny,sampler=confidence,temperature=0.7,seed=5,batch_size=4,trace_out={trace}")
    docs = fixture_docs()
    mine = project_completions(tiny, [d["prompt"] for d in docs], "confidence", KNOBS, 48, 16, seed=5)
    got = [s["resps"][0][0] for s in samples]
    assert got == [m.split("\n")[0] for m in mine]
    grader = load_task("arith")
    verdicts = [grader.grade(grader.get(d["problem_id"]), m).correct for d, m in zip(docs, mine)]
    assert [s["acc"] for s in samples] == [float(v) for v in verdicts]
    assert out["results"]["arith_mini"]["acc,none"] == pytest.approx(sum(verdicts) / len(docs))
    assert sum(verdicts) >= 4      # the tiny model solves most of them: the comparison is not vacuous
    rows = [json.loads(x) for x in trace.read_text().splitlines()]
    assert len(rows) == len(docs) and {r["doc_id"] for r in rows} == set(range(len(docs)))
    assert all(r["nfe"] == 48 and r["forward_rows"] == 48 and r["seed"] == 5 and r["block_length"] == 16
               for r in rows)   # one token a forward; 48 tokens in blocks of 16, as the arith task


def test_stop_strings_cut_the_output_as_lm_evals_hf_model(lmeval_tasks_dir, tiny):
    _, samples = run_lm_eval(lmeval_tasks_dir, "arith_mini_stop", "model=tiny,sampler=confidence,temperature=0.7,seed=5")
    docs = fixture_docs()
    mine = project_completions(tiny, [d["prompt"] for d in docs], "confidence", KNOBS, 48, 16, seed=5)
    eos = tiny.tokenizer.decode([tiny.eos_id], skip_special_tokens=False)
    assert [s["resps"][0][0] for s in samples] == [postprocess_generated_text(m, ["=", "\n", eos], None) for m in mine]
    assert all("=" in m for m in mine) and not any("=" in s["resps"][0][0] for s in samples)


def _gen_request(context: str, **gen_kwargs) -> Instance:
    return Instance("generate_until", {}, (context, gen_kwargs), 0, ("t", 0, 1))


def test_outputs_do_not_depend_on_batching_and_max_gen_toks_bounds_the_output(tiny):
    reqs = [_gen_request(d["prompt"], until=[], max_gen_toks=20) for d in fixture_docs()]
    one = DLLMEvalLM(model="tiny", sampler="entropy", temperature=1.0, block_length=8, seed=2, batch_size=1)
    many = DLLMEvalLM(model="tiny", sampler="entropy", temperature=1.0, block_length=8, seed=2, batch_size=6)
    a, b = one.generate_until(reqs), many.generate_until(reqs)
    assert a == b                                   # ragged prompts in one batch, same samples
    assert all(len(tiny.tokenizer.encode(x, add_special_tokens=False)) <= 20 for x in a)
    assert [t["gen_length"] for t in many.traces] == [24] * 6     # 20 rounded up to 3 blocks of 8
    # repeats of one request draw distinct seeds (seed, seed + 1, ...), reproducibly
    rep = DLLMEvalLM(model="tiny", sampler="confidence", temperature=1.0, seed=2)
    rep.generate_until([reqs[0]] * 3)
    assert [t["seed"] for t in rep.traces] == [2, 3, 4]


def test_loglikelihood_is_the_seeded_elbo_and_rolling_is_one_clear_error():
    lm = DLLMEvalLM(model="tiny", elbo_draws=16)
    req = Instance("loglikelihood", {}, ("8 4 1 -> 5\n", "08-04=04 01+04=05"), 0, ("t", 0, 1))
    bad = Instance("loglikelihood", {}, ("8 4 1 -> 5\n", "99*99=99 99*99=99"), 0, ("t", 0, 1))
    (good_ll, greedy), (bad_ll, _) = lm.loglikelihood([req, bad])
    assert math.isfinite(good_ll) and good_ll < 0 and greedy is False
    assert good_ll > bad_ll                         # a right answer is likelier than nonsense
    assert lm.loglikelihood([req])[0][0] == good_ll   # fixed seed: same estimate
    with pytest.raises(NotImplementedError) as e:
        lm.loglikelihood_rolling([Instance("loglikelihood_rolling", {}, ("some text",), 0, ("t", 0, 1))])
    assert str(e.value) == UNSUPPORTED_ROLLING


def test_bad_model_args_fail_at_start_in_one_line():
    with pytest.raises(ValueError, match="has no parameter 'alpah'"):
        DLLMEvalLM(model="tiny", sampler="imh", alpah=2.0)
    with pytest.raises(ValueError, match="cache must be one of"):
        DLLMEvalLM(model="tiny", cache="paged")
    with pytest.raises(ValueError, match="does not divide"):
        DLLMEvalLM(model="tiny", gen_length=20, block_length=8)


def test_console_script_dry_run_counts_the_local_task(lmeval_tasks_dir, capsys):
    from sweeps.lmeval import main

    rc = main(["--dry-run", "--model_args", "model=tiny,sampler=threshold,threshold=0.9,gen_length=32,block_length=8",
               "--tasks", "arith_mini", "--include_path", lmeval_tasks_dir])
    out = capsys.readouterr().out
    assert rc == 0, out
    assert "lm_eval:arith_mini" in out and "total: 6 jobs" in out


@pytest.mark.slow
def test_multiple_choice_through_lm_eval_is_ranked_by_the_elbo_the_same_for_every_seed(lmeval_tasks_dir):
    """lm-eval's multiple_choice requests reach loglikelihood; at the documented 128 draws the choice
    the ELBO ranks first does not depend on the seed.  (Whether it is the right one is the model's
    business: the tiny model never saw a completion end without its EOS padding.)"""
    picks = []
    for seed in (0, 1):
        out, samples = run_lm_eval(lmeval_tasks_dir, "arith_mini_mc", f"model=tiny,seed={seed}", limit=3)
        lls = [[r[0] for r in s["filtered_resps"]] for s in samples]
        assert all(len(x) == 4 and all(math.isfinite(v) and v < 0 for v in x) for x in lls)
        picks.append([max(range(4), key=lambda c: x[c]) for x in lls])
    assert picks[0] == picks[1]


def test_the_clis_default_cuda_device_falls_back_to_the_cpu_where_there_is_none():
    import torch

    if torch.cuda.is_available():
        pytest.skip("a GPU is here")
    assert DLLMEvalLM(model="tiny", device="cuda:0").model.device.type == "cpu"
