"""The sweep task family ``lm_eval:<task>``: an lm-evaluation-harness task as a project task.

    tasks:
      - name: lm_eval:gsm8k
        limit: 50                                  # the spec's own limit: the first 50 documents
        args: {num_fewshot: 5, include_path: my_tasks/, apply_chat_template: false}

Everything that defines the benchmark comes from lm-eval, built exactly as ``lm_eval`` builds it
(``Task.build_all_requests`` with the few-shot seed, 1234 by default, after the same
``num_fewshot`` override): the documents, the prompts with their few-shot examples, description
and system instruction, and the scoring — the task's stop strings (``until``), its filter pipeline
and its ``process_results``.  The sweep supplies the rest: samplers × knobs × seeds, resumable rows.

* Only ``generate_until`` tasks: sweeps compare decoding strategies; multiple-choice tasks are
  scored by log-likelihood — run them with ``dllm-lm-eval`` (the ``dllm`` model's ELBO).
* A problem is one document: ``problem_id`` = ``doc<doc_id>-<hash of its prompt>``, so changing
  ``num_fewshot`` or the task's template gives new job ids instead of reusing old rows.  lm-eval's
  ``repeats`` are not used: a sweep's ``samples`` are the repeats, with their own seeds.
* ``gen_length`` defaults to the task's ``max_gen_toks`` (256 when unset), ``block_length`` to the
  largest divisor of it up to 32 (256 -> 32, 48 -> 16); the spec's ``gen_length``/``block_length``
  override them as for any task.
* Grading: the completion is cut at the stop strings as the ``dllm`` model (and lm-eval's ``hf``)
  cut it, run through the task's filter (``filter``: its name, default the task's first) and
  ``process_results``; the metric (``metric``, default the task's first) is the row's ``score``, and
  ``correct`` is that metric equal to 1 where it is a 0/1 per-sample correctness (``exact_match``,
  ``acc``), False otherwise.  ``extracted`` is the filtered answer.
* ``apply_chat_template: true``: the messages lm-eval builds are kept with the problem and rendered
  by each model's own tokenizer when the worker encodes the prompt (``encode``); plain prompts are
  tokenised as they are, with the tokenizer's special tokens (as LLaDA's evaluation does).
"""
from __future__ import annotations

import functools
import hashlib
import json
import math
from typing import Any, Optional

from workers.lmeval import TASK_PREFIX, require_lm_eval
from workers.lmeval import text as T
from workers.tasks.base import Grade, Problem, Task

DEFAULT_FEWSHOT_SEED = 1234     # lm-eval's default --fewshot_seed
DEFAULT_BLOCK = 32              # the block length of LLaDA's and Fast-dLLM's evaluations
_CHAT_MARK = "\x00lm_eval-chat\x00"


def _record_chat(history: list[dict[str, str]], add_generation_prompt: bool = True) -> str:
    """lm-eval's chat-template hook, recording the messages instead of rendering them."""
    return _CHAT_MARK + json.dumps({"messages": history, "add_generation_prompt": add_generation_prompt})


def load_lm_eval_task(name: str, include_path: Optional[str] = None) -> Any:
    """The lm-eval ``Task`` object of one task name (a group is refused: list its tasks)."""
    require_lm_eval()
    tm = _task_manager(include_path, False) if include_path else None
    if tm is None or name not in tm.all_tasks:
        tm = _task_manager(include_path, True)
    if name not in tm.all_tasks:
        raise ValueError(f"lm-eval knows no task {name!r}" + ("" if include_path else
                         " (a local task needs include_path)"))
    leaves = tm.load([name])["tasks"]     # {"tasks": flat name -> Task, "groups": ...}
    if len(leaves) != 1:
        raise ValueError(f"lm-eval task {name!r} is a group of {len(leaves)} tasks; list its tasks "
                         f"({', '.join(sorted(leaves)[:5])}...) as separate lm_eval: tasks")
    return next(iter(leaves.values()))


@functools.lru_cache(maxsize=8)
def _task_manager(include_path: Optional[str], defaults: bool) -> Any:
    """lm-eval's task index; indexing its ~15k built-in task configs takes a minute on a small
    machine, so a local task (``include_path``) is looked up there first, and indexes are kept."""
    from lm_eval.tasks import TaskManager

    return TaskManager(include_path=include_path, include_defaults=defaults)


class LmEvalTask(Task):
    """One lm-eval generate_until task (module docstring)."""

    tiers = ()

    def __init__(self, lm_task: str, split: str = "test", path: Optional[str] = None, *,
                 num_fewshot: Optional[int] = None, include_path: Optional[str] = None,
                 limit: Optional[int] = None, apply_chat_template: bool = False, fewshot_as_multiturn: bool = False,
                 system_instruction: Optional[str] = None, fewshot_seed: int = DEFAULT_FEWSHOT_SEED,
                 filter: Optional[str] = None, metric: Optional[str] = None,
                 think_end_token: Optional[str] = None) -> None:
        if split != "test":
            raise ValueError(f"{TASK_PREFIX}{lm_task}: lm-eval tasks have one evaluation split; split must be 'test'")
        if path is not None:
            raise ValueError(f"{TASK_PREFIX}{lm_task}: give local task YAMLs as include_path, not path")
        self.name = f"{TASK_PREFIX}{lm_task}"
        t = load_lm_eval_task(lm_task, include_path)
        if t.get_config("output_type") != "generate_until":
            raise ValueError(f"{self.name} is a {t.get_config('output_type')} task; sweeps run generate_until "
                             "tasks (score log-likelihood tasks with dllm-lm-eval)")
        # lm-eval's overrides, in simple_evaluate's order: a task fixed at 0 shots stays at 0
        if num_fewshot is not None and t.get_config("num_fewshot") != 0:
            t.set_config(key="num_fewshot", value=int(num_fewshot))
        elif t.get_config("num_fewshot") is None:
            t.set_config(key="num_fewshot", value=0)
        t.set_fewshot_seed(seed=int(fewshot_seed))
        self.chat = bool(apply_chat_template)
        t.build_all_requests(limit=limit, rank=0, world_size=1, cache_requests=False,
                             system_instruction=system_instruction, apply_chat_template=self.chat,
                             fewshot_as_multiturn=bool(fewshot_as_multiturn),
                             chat_template=_record_chat if self.chat else None, tokenizer_name="")
        self.lm_task = t
        self.think_end_token = think_end_token
        filters = [f.name for f in getattr(t, "_filters", [])]
        if filter is not None and filter not in filters:
            raise ValueError(f"{self.name} has no filter {filter!r} (filters: {', '.join(filters)})")
        self.filter = filter or filters[0]
        metrics = [m["metric"] for m in (t.config.metric_list or [])]
        metrics = [m if isinstance(m, str) else getattr(m, "__name__", str(m)) for m in metrics] or \
            list(t.higher_is_better())
        if metric is not None and metric not in metrics:
            raise ValueError(f"{self.name} has no metric {metric!r} (metrics: {', '.join(metrics)})")
        self.metric = metric or metrics[0]
        self._inst: dict[str, Any] = {}
        problems, budget = [], 0
        for inst in t.instances:
            if any(p.meta["doc_id"] == inst.doc_id for p in problems[-1:]):
                continue    # one request per document (lm-eval's repeats: the sweep's seeds)
            context, gen_kwargs = inst.args[0], dict(inst.args[1] or {})
            digest = hashlib.sha256(context.encode("utf-8")).hexdigest()[:10]
            pid = f"doc{inst.doc_id}-{digest}"
            messages = None
            if self.chat:
                messages = json.loads(context[len(_CHAT_MARK):]) if context.startswith(_CHAT_MARK) else None
                context = "".join(f"{m['role']}: {m['content']}\n" for m in messages["messages"]) if messages else context
            target = t.doc_to_target(inst.doc)
            problems.append(Problem(problem_id=pid, prompt=context, reference=str(target),
                                    meta={"doc_id": inst.doc_id, "chat": messages}))
            self._inst[pid] = inst
            budget = max(budget, T.max_gen_toks(gen_kwargs))
        self.gen_length, self.block_length = budget, math.gcd(budget, DEFAULT_BLOCK)
        self.version = f"lm-eval {_lm_eval_version()} {lm_task} v{(t.config.metadata or {}).get('version', '?')}"
        super().__init__(problems, split)

    # -- prompting ------------------------------------------------------------------------
    def encode(self, model: Any, problem: Problem) -> list[int]:
        chat = problem.meta.get("chat")
        if chat is not None:
            text = T.render_chat(model.tokenizer, chat["messages"], chat["add_generation_prompt"])
            return T.encode(model.tokenizer, text, add_special_tokens=False)
        return T.encode(model.tokenizer, problem.prompt, add_special_tokens=True)

    # -- grading --------------------------------------------------------------------------
    def _grade(self, problem: Problem, completion: str) -> Grade:
        from lm_eval.api.instance import Instance

        inst = self._inst[problem.problem_id]
        until = T.stop_strings((inst.args[1] or {}).get("until"))
        resp = T.cut_at_stops(completion, until, self.think_end_token)
        one = Instance(request_type=inst.request_type, doc=inst.doc, arguments=inst.arguments, idx=inst.idx,
                       metadata=(inst.task_name, inst.doc_id, 1))
        one.resps = [resp]
        for f in self.lm_task._filters:
            f.apply([one])
        answer = one.filtered_resps[self.filter]
        value = self.lm_task.process_results(inst.doc, [answer])[self.metric]
        score = float(value)
        binary = isinstance(value, bool) or score in (0.0, 1.0)
        return Grade(correct=binary and score == 1.0, extracted=str(answer), score=score)


def _lm_eval_version() -> str:
    from importlib.metadata import version

    try:
        return version("lm_eval")
    except Exception:
        return "?"


__all__ = ["LmEvalTask", "load_lm_eval_task", "DEFAULT_FEWSHOT_SEED"]
