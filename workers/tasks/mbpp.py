"""MBPP and MBPP+ (Austin et al. 2021; EvalPlus, Liu et al. 2023), the EvalPlus release.

000 §5 and App. B: evaluated with EvalPlus; maximum generation length 256 (Table 4), block length 32.

Data: ``evalplus.data.get_mbpp_plus()`` — EvalPlus's release (downloaded once, then cached), or with
``path=`` a local MbppPlus JSONL(.gz) (``MBPP_OVERRIDE_PATH`` is set before ``evalplus.data`` is
imported).  evalplus is required: it turns the JSON inputs of some tasks back into the tuples, sets
and complex numbers the functions expect.  There is no bundled fallback.

The MBPP+ prompt is a docstring holding the task and one example assertion, so the completion is a
full program defining the entry point; ``prompt_style="instruct"`` (default) wraps it in EvalPlus's
chat instruction, ``"completion"`` gives the docstring as is.  Base inputs are the original MBPP
tests; ``tests="plus"`` (default) adds EvalPlus's.  problem_id: the task id (``Mbpp/2``).
"""
from __future__ import annotations

from typing import Optional

from .base import Grade, Problem, Task
from .code_grader import (DEFAULT_TIMEOUT, CodeTests, code_tests_from_record, evalplus_unavailable,
                          grade_code, instruct_prompt, load_evalplus)
from .hub import DatasetUnavailable, one_line, require_fields

NAME = "mbpp"
VERSION = "mbpp-v1"


def _records(path: Optional[str]) -> tuple[list[dict], str]:
    if path is not None:
        from .hub import read_records

        read_records(path, NAME)  # one-line errors for a missing or unreadable file
        try:
            return list(load_evalplus(NAME, path).values()), f"{path} (via evalplus)"
        except ImportError as e:
            raise DatasetUnavailable(f"task {NAME}: reading MBPP+ needs the evalplus package "
                                     f"(pip install evalplus): {one_line(e)}") from None
        except Exception as e:
            raise ValueError(f"task {NAME}: evalplus rejected {path!r} ({one_line(e)})") from None
    try:
        return list(load_evalplus(NAME).values()), "evalplus MBPP+"
    except Exception as e:
        raise evalplus_unavailable(NAME, "MBPP_OVERRIDE_PATH", e) from None


class MbppTask(Task):
    name = NAME
    version = VERSION
    gen_length = 256
    block_length = 32
    tiers = ()

    def __init__(self, split: str = "test", path: Optional[str] = None, tests: str = "plus",
                 prompt_style: str = "instruct", timeout: float = DEFAULT_TIMEOUT):
        if split != "test":
            raise ValueError(f"{NAME}: only the test split exists; got split={split!r}")
        if tests not in ("plus", "base"):
            raise ValueError(f"{NAME}: tests must be 'plus' or 'base', got {tests!r}")
        if prompt_style not in ("instruct", "completion"):
            raise ValueError(f"{NAME}: prompt_style must be 'instruct' or 'completion', got {prompt_style!r}")
        if not (isinstance(timeout, (int, float)) and timeout > 0):
            raise ValueError(f"{NAME}: timeout must be a positive number of seconds, got {timeout!r}")
        records, self.source = _records(path)
        require_fields(NAME, records, ["task_id", "prompt", "entry_point", "canonical_solution",
                                       "base_input"], self.source)
        self.timeout = float(timeout)
        self.plus = tests == "plus"
        self._tests: dict[str, CodeTests] = {}
        problems = []
        for r in records:
            pid = str(r["task_id"])
            t = code_tests_from_record(NAME, r, self.plus)
            self._tests[pid] = t
            prompt = instruct_prompt(r["prompt"]) if prompt_style == "instruct" else r["prompt"]
            problems.append(Problem(pid, prompt, r["canonical_solution"], None,
                                    {"entry_point": r["entry_point"], "code_prompt": r["prompt"],
                                     "plus_tests": t.has_plus}))
        super().__init__(problems, split)

    def tests_for(self, problem: Problem) -> CodeTests:
        try:
            return self._tests[problem.problem_id]
        except KeyError:
            raise KeyError(f"task {self.name}: no problem {problem.problem_id!r}") from None

    def _grade(self, problem: Problem, completion: str) -> Grade:
        return grade_code(self.tests_for(problem), completion, plus=self.plus, timeout_s=self.timeout)
