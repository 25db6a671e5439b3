"""Math answer grading: extraction + equivalence, shared by ``arith`` and the math benchmarks.

Extraction
- ``last_boxed(text)``: content of the last ``\\boxed{...}`` (or ``\\fbox{...}``, or
  ``\\boxed 5``), braces matched with nesting; ``\\{``/``\\}`` are literal braces.  None if
  there is none or the last one is never closed (a truncated generation).
- ``gsm8k_answer(text)``: the number after the last ``#### ``; else the last number in the text.
- ``extract_answer(text, mode)``: ``"boxed"``, ``"gsm8k"`` (``####``, then boxed, then last
  number) or ``"boxed_or_number"``.

Equivalence (``is_equivalent(gold, pred)``), cheapest first:
1. string equality after ``normalize`` (``\\dfrac``->``\\frac``, ``\\left``/``\\right``,
   spacing, ``^\\circ``, ``\\%``, ``\\text{}``, thousands separators, ``x=`` prefixes, ...);
2. both sides plain numbers (integers, decimals, ``a/b``, ``\\frac{a}{b}``) -> exact rational
   comparison (``025`` = ``25``, ``0.5`` = ``1/2`` = ``\\frac{1}{2}``);
3. otherwise math-verify ``verify(gold, pred)`` (gold first, both wrapped in ``$...$`` so the
   LaTeX parser accepts them), its own signal-based timeouts disabled, run in a child process
   (``hard_timeout.HardTimeoutRunner``) that is killed when it overruns ``timeout`` seconds.
   If math-verify says no, its verdict on the normalised strings is tried too.
Only step 3 costs a child process; steps 1-2 answer integers and simple fractions in
microseconds.

Not equal, whatever math-verify would say: an operator it does not evaluate (``\\bmod``,
``\\pmod``, ``\\mod``; ``a \\bmod b`` of integers is evaluated here), digits split by whitespace
other than thousands groups of three (``1 2``, ``20 24``), an indeterminate form (``\\infty^0``,
``0^0``, ``1^\\infty``, ``\\infty-\\infty``).  ``2\\frac{3}{4}`` is the mixed number 11/4.

``grade_answer(gold, completion, extract=..., timeout=...)`` returns a ``Grade``: the completion
is cut to its last ``MAX_COMPLETION_CHARS`` characters before extraction (every extraction
pattern is linear: a 200k-character hostile completion takes milliseconds); no answer
found, or an answer over ``MAX_ANSWER_CHARS``, is incorrect with a ``reason``; ``error`` is set
only when the equivalence check itself timed out or failed (also graded incorrect).
"""
from __future__ import annotations

import logging
import re
import threading
from fractions import Fraction
from typing import Optional

from .base import Grade
from .hard_timeout import CallTimeout, ChildError, ChildFailed, HardTimeoutRunner

DEFAULT_TIMEOUT = 5.0
MAX_ANSWER_CHARS = 1000
MAX_COMPLETION_CHARS = 200_000


# ----------------------------------------------------------------------------------------------
# extraction
# ----------------------------------------------------------------------------------------------
_BOX_RE = re.compile(r"\\(?:boxed|fbox)(?![A-Za-z])")


def _match_braces(text: str, start: int) -> Optional[int]:
    """Index just past the brace group opening at ``text[start] == '{'``; None if unclosed."""
    depth = 0
    i, n = start, len(text)
    while i < n:
        ch = text[i]
        if ch == "\\":
            i += 2  # an escaped character (\{, \}, \\) never opens or closes a group
            continue
        if ch == "{":
            depth += 1
        elif ch == "}":
            depth -= 1
            if depth == 0:
                return i + 1
        i += 1
    return None


def last_boxed(text: str) -> Optional[str]:
    """Content of the last ``\\boxed{...}``/``\\fbox{...}`` (nested braces kept), or of
    ``\\boxed 42``; None if absent or the last one is unclosed."""
    if not text:
        return None
    matches = list(_BOX_RE.finditer(text))
    if not matches:
        return None
    m = matches[-1]
    i = m.end()
    n = len(text)
    while i < n and text[i] in " \t":
        i += 1
    if i < n and text[i] == "{":
        end = _match_braces(text, i)
        if end is None:
            return None
        return text[i + 1:end - 1].strip()
    if i > m.end():  # "\boxed 42": up to whitespace or '$'
        j = i
        while j < n and not text[j].isspace() and text[j] != "$":
            j += 1
        return text[i:j] or None
    return None


_NUMBER_RE = re.compile(r"-?\d[\d,]*(?:\.\d+)?|-?\.\d+")
# Possessive runs and no two adjacent optional-whitespace runs: "#### " + 16,000 spaces used to
# cost a minute of backtracking; every pattern here is linear in the text (docs/design.md §3).
_HASH_RE = re.compile(r"####\s*+(?:\$\s*+)?(-?(?:\d[\d,]*+(?:\.\d+)?|\.\d+))")


def _clean_number(s: str) -> str:
    s = s.replace(",", "")
    if "." in s:
        s = s.rstrip("0").rstrip(".") or "0"
    return s


def gsm8k_answer(text: str) -> Optional[str]:
    """GSM8K-style final number: after the last ``####``, else the last number in the text
    (thousands separators removed, trailing ``.0`` dropped)."""
    if not text:
        return None
    hashes = _HASH_RE.findall(text)
    if hashes:
        return _clean_number(hashes[-1])
    nums = _NUMBER_RE.findall(text)
    if nums:
        return _clean_number(nums[-1].rstrip(","))
    return None


def extract_answer(text: str, mode: str = "boxed") -> Optional[str]:
    if mode == "boxed":
        return last_boxed(text)
    if mode == "gsm8k":
        if _HASH_RE.search(text or ""):
            return gsm8k_answer(text)
        boxed = last_boxed(text)
        return boxed if boxed is not None else gsm8k_answer(text)
    if mode == "boxed_or_number":
        boxed = last_boxed(text)
        return boxed if boxed is not None else gsm8k_answer(text)
    raise ValueError(f"unknown extraction mode {mode!r}; known: boxed, gsm8k, boxed_or_number")


# ----------------------------------------------------------------------------------------------
# normalisation and the cheap paths
# ----------------------------------------------------------------------------------------------
_TEXT_CMD_RE = re.compile(r"\\(?:text|textbf|textit|mbox|mathrm|mathbf|operatorname)\s*\{([^{}]*)\}")
_SPACING_RE = re.compile(r"\\[,;:! ]|\\quad|\\qquad|~")
_THOUSANDS_RE = re.compile(r"^[-+]?\d{1,3}(?:,\d{3})+(?:\.\d+)?$")
_FRAC_SHORT_RE = re.compile(r"\\frac(\d)(\d)")
_FRAC_HALF_SHORT_RE = re.compile(r"\\frac(\d)\{")
_SQRT_SHORT_RE = re.compile(r"\\sqrt(\d)")
_LHS_RE = re.compile(r"^[A-Za-z](?:_\{?\w+\}?)?=(?!=)")


def normalize(ans: str) -> str:
    """A canonical string for cheap comparison (not a full LaTeX normaliser)."""
    s = (ans or "").strip()
    for left, right in (("$$", "$$"), ("$", "$"), ("\\(", "\\)"), ("\\[", "\\]")):
        if s.startswith(left) and s.endswith(right) and len(s) >= len(left) + len(right):
            s = s[len(left):len(s) - len(right)].strip()
    s = s.replace("\\left", "").replace("\\right", "")
    s = s.replace("\\dfrac", "\\frac").replace("\\tfrac", "\\frac")
    s = s.replace("\\displaystyle", "")
    s = _SPACING_RE.sub("", s)
    for _ in range(3):
        s2 = _TEXT_CMD_RE.sub(r"\1", s)
        if s2 == s:
            break
        s = s2
    s = s.replace("^{\\circ}", "").replace("^\\circ", "").replace("\\circ", "").replace("°", "")
    s = s.replace("\\%", "").replace("%", "")
    s = s.replace("\\$", "")
    s = "".join(s.split())
    s = s.rstrip(".")
    if _LHS_RE.match(s) and s.count("=") == 1:
        s = s.split("=", 1)[1]
    if _THOUSANDS_RE.match(s):
        s = s.replace(",", "")
    s = _FRAC_SHORT_RE.sub(r"\\frac{\1}{\2}", s)
    s = _FRAC_HALF_SHORT_RE.sub(r"\\frac{\1}{", s)
    s = _SQRT_SHORT_RE.sub(r"\\sqrt{\1}", s)
    return s


_PLAIN_NUM_RE = re.compile(r"^[-+]?(?:\d+(?:\.\d*)?|\.\d+)$")
_SLASH_FRAC_RE = re.compile(r"^([-+]?\d+)/([-+]?\d+)$")
_TEX_FRAC_RE = re.compile(r"^([-+]?)\\frac\{([-+]?\d+)\}\{([-+]?\d+)\}$")


def as_number(s: str) -> Optional[Fraction]:
    """Exact value of a normalised plain number (int, decimal, a/b, \\frac{a}{b}); else None."""
    if not s or len(s) > 100:
        return None
    try:
        if _PLAIN_NUM_RE.match(s):
            return Fraction(s)
        m = _SLASH_FRAC_RE.match(s)
        if m:
            den = int(m.group(2))
            return Fraction(int(m.group(1)), den) if den else None
        m = _TEX_FRAC_RE.match(s)
        if m:
            den = int(m.group(3))
            if not den:
                return None
            v = Fraction(int(m.group(2)), den)
            return -v if m.group(1) == "-" else v
    except (ValueError, ZeroDivisionError):
        return None
    return None


# ----------------------------------------------------------------------------------------------
# math-verify, in the child
# ----------------------------------------------------------------------------------------------
def _mv_check(gold: str, pred: str) -> bool:
    """math-verify verdict (runs in the child; timeouts disabled there)."""
    logging.getLogger("math_verify").setLevel(logging.ERROR)
    from math_verify import parse, verify

    def check(g: str, p: str) -> bool:
        gp = parse(f"${g}$", parsing_timeout=None)
        pp = parse(f"${p}$", parsing_timeout=None)
        if not gp or not pp:
            return False
        return bool(verify(gp, pp, timeout_seconds=None))

    if check(gold, pred):
        return True
    g2, p2 = normalize(gold), normalize(pred)
    if (g2, p2) != (gold, pred) and g2 and p2:
        return check(g2, p2)
    return False


_runner: Optional[HardTimeoutRunner] = None
_runner_lock = threading.Lock()


def get_runner() -> HardTimeoutRunner:
    """The process-wide child used for math-verify checks (started on first use)."""
    global _runner
    with _runner_lock:
        if _runner is None:
            _runner = HardTimeoutRunner(warmup=("sympy", "math_verify", "workers.tasks.math_grader"))
        return _runner


_SEP = r"(?:\s|\\[,;:! ]|~|\{,\})"
_SPACED_DIGITS_RE = re.compile(rf"(?<![\d.])\d++(?:{_SEP}++\d++)+")
_SEP_RE = re.compile(rf"{_SEP}+")
_MOD_RE = re.compile(r"^([-+]?\d+)(?:\\bmod|\\mod|\\pmod)\{?([-+]?\d+)\}?$")
_UNEVALUATED = ("\\bmod", "\\pmod", "\\mod")
_INDETERMINATE_RE = re.compile(r"\\infty\^\{?0\}?(?![\d.])|(?<![\d.])0\^\{?0\}?(?![\d.])|"
                               r"(?<![\d.])1\^\{?\\infty|\\infty-\\infty|\\frac\{0\}\{0\}")
_MIXED_RE = re.compile(r"^([-+]?)(\d+)\\frac\{(\d+)\}\{(\d+)\}$")


def _spacing_ok(ans: str) -> bool:
    """Digits split by whitespace (or ``\\,``, ``~``, ``{,}``) only as thousands groups: "1 000",
    "1\\,234\\,567"; "1 2" or "20 24" is not a number (``normalize`` would glue it)."""
    for m in _SPACED_DIGITS_RE.finditer(ans):
        groups = _SEP_RE.split(m.group(0))
        if not (1 <= len(groups[0]) <= 3 and all(len(g) == 3 for g in groups[1:])):
            return False
    return True


def _evaluate(s: str) -> str:
    """``a \\bmod b`` / ``a \\pmod{b}`` of integers -> the residue (a normalised string)."""
    m = _MOD_RE.match(s)
    if m and int(m.group(2)) != 0:
        return str(int(m.group(1)) % int(m.group(2)))
    m = _MIXED_RE.match(s)
    if m and int(m.group(4)) and int(m.group(3)) < int(m.group(4)):
        v = int(m.group(2)) + Fraction(int(m.group(3)), int(m.group(4)))
        return f"{'-' if m.group(1) == '-' else ''}{v.numerator}/{v.denominator}"
    return s


def _fast_verdict(gold: str, pred: str) -> Optional[bool]:
    if len(gold) > MAX_ANSWER_CHARS or len(pred) > MAX_ANSWER_CHARS:
        return gold.strip() == pred.strip()
    if not (_spacing_ok(gold) and _spacing_ok(pred)):
        return normalize(gold) == normalize(pred) and _spacing_ok(gold) == _spacing_ok(pred)
    g, p = _evaluate(normalize(gold)), _evaluate(normalize(pred))
    if not p:
        return False
    if g == p:
        return True
    # what math-verify would drop or evaluate wrongly: never equal to anything else
    if any(op in x for x in (g, p) for op in _UNEVALUATED) or _INDETERMINATE_RE.search(g + " " + p):
        return False
    gn, pn = as_number(g), as_number(p)
    if gn is not None and pn is not None:
        return gn == pn
    return None


def is_equivalent(gold: str, pred: str, timeout: float = DEFAULT_TIMEOUT) -> bool:
    """Whether ``pred`` means the same as ``gold``.  Raises ``CallTimeout`` when the
    math-verify check overruns ``timeout`` (its child is killed), ``ChildFailed``/``ChildError``
    when the child dies or math-verify raises."""
    fast = _fast_verdict(gold, pred)
    if fast is not None:
        return fast
    return bool(get_runner().call(_mv_check, gold, pred, timeout=timeout))


def grade_answer(gold: str, completion: str, extract: str = "boxed",
                 timeout: float = DEFAULT_TIMEOUT) -> Grade:
    """Extract the answer from ``completion`` and compare it with ``gold``.  Never raises on a
    bad completion."""
    if len(completion) > MAX_COMPLETION_CHARS:
        completion = completion[-MAX_COMPLETION_CHARS:]
    ans = extract_answer(completion, extract)
    if ans is None:
        what = "\\boxed{} answer" if extract == "boxed" else "answer"
        return Grade(False, None, None, f"no {what} found")
    if not ans.strip():
        return Grade(False, ans, None, "empty answer")
    if len(ans) > MAX_ANSWER_CHARS:
        return Grade(False, ans[:MAX_ANSWER_CHARS], None,
                     f"answer longer than {MAX_ANSWER_CHARS} characters")
    try:
        return Grade(is_equivalent(gold, ans, timeout=timeout), ans, None)
    except CallTimeout:
        return Grade(False, ans, f"equivalence check timed out after {timeout:g}s")
    except (ChildFailed, ChildError) as e:
        return Grade(False, ans, f"equivalence check failed: {str(e)[:200]}")
