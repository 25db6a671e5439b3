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

from .code_grader import DEFAULT_TIMEOUT, CodeTask, evalplus_unavailable, load_evalplus
from .hub import DatasetUnavailable, one_line, require_fields

NAME = "mbpp"
VERSION = "mbpp-v2"  # v2: bounded decoding, tolerance on numbers only (issue 26)


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


class MbppTask(CodeTask):
    name = NAME
    version = VERSION

    def __init__(self, split: str = "test", path: Optional[str] = None, tests: str = "plus",
                 prompt_style: str = "instruct", timeout: float = DEFAULT_TIMEOUT):
        self._check_options(split, tests, prompt_style, timeout)
        records, self.source = _records(path)
        require_fields(NAME, records, ["task_id", "prompt", "entry_point", "canonical_solution",
                                       "base_input"], self.source)
        self._init_from_records(records, split, tests, prompt_style, timeout)

