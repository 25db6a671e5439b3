"""Plain data across the sandbox boundary: a JSON encoding with a strict type whitelist.

The candidate's process only computes outputs; they come back as plain data and
the trusted parent compares them with the expected values it alone holds.  Nothing here runs code
of the value's own (no ``pickle``, no ``__reduce__``, no ``__eq__`` of a foreign class): the encoder
accepts exactly these types, checked with ``type(x) is T`` so a subclass (an ``int`` whose
``__eq__`` is always true) is refused, and the decoder builds only these types again:

    None, bool, int, float, str        JSON scalars (floats keep repr precision; nan/inf as NaN/Infinity)
    int beyond 2**63                   {"i": "<hex>"}  (hex is exempt from the int/str digit limit)
    complex, bytes                     {"c": [re, im]}, {"b": "<base64>"}
    list, tuple, set, frozenset        {"l": [...]}, {"t": [...]}, {"s": [...]}, {"f": [...]}
    dict                               {"d": [[k, v], ...]}
                                       (also collections' OrderedDict, defaultdict and Counter,
                                       which come back as dict: they compare equal to one)

This file is standard library only: the sandbox harness imports the same file, so both sides
speak one format.  Everything decoded came from untrusted code; ``decode`` raises
``NotPlainData`` (a ``ValueError``) on anything outside the format, never anything else.

Decoding a candidate's output is bounded (``Budget``, sized from the expected value): node count,
nesting depth and integer size proportional to the expected output, a CPU-time limit checked
every few hundred nodes (each step in between is linear in a bounded size), and no set or dict
built from items whose hashes were made to collide (one 8 MiB set of equal-hash integers cost
minutes of quadratic inserts).  Exceeding any of these raises ``OverBudget``.
"""
from __future__ import annotations

import base64
import collections
import json
import time
from typing import Any, Optional

__all__ = ["NotPlainData", "OverBudget", "Budget", "no_flood", "encode", "decode", "to_json", "from_json", "MAX_DEPTH"]

MAX_DEPTH = 64
MAX_EQUAL_HASHES = 32  # distinct items of one set/dict sharing a hash: only ever crafted
_BIG = 1 << 63
_SEQS = ((list, "l"), (tuple, "t"), (set, "s"), (frozenset, "f"))
_DICTS = (dict, collections.OrderedDict, collections.defaultdict, collections.Counter)


class NotPlainData(ValueError):
    """A value outside the whitelist (or malformed encoded data)."""


class OverBudget(NotPlainData):
    """Decoding would exceed its ``Budget`` (size, depth, integer digits, CPU time)."""


def _size(value: Any, depth: int = 0) -> tuple[int, int, int]:
    """(nodes, depth, largest integer's bit length) of a trusted plain value."""
    t = type(value)
    if t is int:
        return 1, depth, value.bit_length()
    if t in (list, tuple, set, frozenset):
        parts = [_size(v, depth + 1) for v in value]
    elif t is dict:
        parts = [_size(x, depth + 1) for kv in value.items() for x in kv]
    else:
        return 1, depth, 0
    return (1 + sum(p[0] for p in parts), max([depth] + [p[1] for p in parts]),
            max([0] + [p[2] for p in parts]))


class Budget:
    """Limits for decoding one untrusted value, proportional to the value it should equal:
    ``factor`` × its nodes + ``slack``, its depth + 2, ``factor`` × its integers' bit length +
    ``slack``; and ``cpu_s`` seconds of this thread's CPU time (shared by every value decoded
    with this budget, e.g. one candidate's whole result stream)."""

    def __init__(self, expected: Any = None, *, factor: int = 4, slack: int = 256,
                 cpu_s: float = 1.0, clock=time.thread_time) -> None:
        self.factor, self.slack = factor, slack
        self.clock, self.deadline = clock, clock() + cpu_s
        self.expect(expected)

    def expect(self, expected: Any) -> "Budget":
        """Size limits for the next value (the CPU deadline stays)."""
        nodes, depth, bits = _size(expected)
        self.max_nodes, self.nodes = self.factor * nodes + self.slack, 0
        self.max_depth, self.max_bits = min(MAX_DEPTH, depth + 2), self.factor * bits + self.slack
        return self

    def node(self, depth: int) -> None:
        self.nodes += 1
        if self.nodes > self.max_nodes:
            raise OverBudget(f"output far larger than expected (over {self.max_nodes} items)")
        if depth > self.max_depth:
            raise OverBudget(f"output nested deeper than expected (over {self.max_depth})")
        if not self.nodes & 255 and self.clock() > self.deadline:
            raise OverBudget("decoding the output ran over its CPU time")

    def bits(self, n: int) -> None:
        if n > self.max_bits:
            raise OverBudget(f"integer far larger than expected (over {self.max_bits} bits)")


def no_flood(items: list) -> None:
    """Refuse items whose hashes were made to collide: building a set or dict of n distinct
    equal-hash items is quadratic.  Sorting the hashes is n log n in C, whatever they are."""
    hashes = sorted(hash(v) for v in items)
    run = 1
    for a, b in zip(hashes, hashes[1:]):
        run = run + 1 if a == b else 1
        if run > MAX_EQUAL_HASHES:
            raise OverBudget(f"more than {MAX_EQUAL_HASHES} set/dict items share one hash")


def to_json(value: Any, depth: int = 0) -> Any:
    """``value`` as a JSON-serialisable tree of the format above (``NotPlainData`` otherwise)."""
    if depth > MAX_DEPTH:
        raise NotPlainData("nested too deeply (or cyclic)")
    t = type(value)
    if value is None or t is bool or t is str or t is float:
        return value
    if t is int:
        return value if -_BIG < value < _BIG else {"i": hex(value)}
    if t is complex:
        return {"c": [value.real, value.imag]}
    if t is bytes:
        return {"b": base64.b64encode(value).decode("ascii")}
    # identity, not ``==``/hashing: a metaclass could make a foreign type compare equal to list
    for seq, tag in _SEQS:
        if t is seq:
            return {tag: [to_json(v, depth + 1) for v in value]}
    if any(t is d for d in _DICTS):
        return {"d": [[to_json(k, depth + 1), to_json(v, depth + 1)] for k, v in value.items()]}
    raise NotPlainData(f"not plain data: {t.__name__}")


def from_json(tree: Any, depth: int = 0, budget: Optional[Budget] = None) -> Any:
    """The value a ``to_json`` tree stands for; ``NotPlainData`` on anything else (``OverBudget``
    when it exceeds ``budget``)."""
    if depth > MAX_DEPTH:
        raise NotPlainData("nested too deeply")
    if budget is not None:
        budget.node(depth)
    t = type(tree)
    if t is int and budget is not None:
        budget.bits(tree.bit_length())
    if tree is None or t is bool or t is str or t is float or t is int:
        return tree
    if t is not dict or len(tree) != 1:
        raise NotPlainData(f"malformed plain data ({t.__name__})")
    (tag, payload), = tree.items()
    try:
        if tag == "i" and type(payload) is str:
            if budget is not None:
                budget.bits(4 * len(payload))
            return int(payload, 16)
        if tag == "b" and type(payload) is str:
            return base64.b64decode(payload.encode("ascii"), validate=True)
        if type(payload) is not list:
            raise NotPlainData(f"malformed plain data (tag {tag!r})")
        if tag == "c" and len(payload) == 2 and all(type(v) in (int, float) for v in payload):
            return complex(payload[0], payload[1])   # a huge int part: OverflowError, caught below
        if tag in ("l", "t", "s", "f"):
            items = [from_json(v, depth + 1, budget) for v in payload]
            if tag in ("s", "f"):
                no_flood(items)
            return {"l": list, "t": tuple, "s": set, "f": frozenset}[tag](items)
        if tag == "d" and all(type(kv) is list and len(kv) == 2 for kv in payload):
            pairs = [(from_json(k, depth + 1, budget), from_json(v, depth + 1, budget)) for k, v in payload]
            no_flood([k for k, _ in pairs])
            return dict(pairs)
    except NotPlainData:
        raise
    except (TypeError, ValueError, ArithmeticError, RecursionError) as e:  # unhashable items, bad base64,
        raise NotPlainData(f"malformed plain data: {type(e).__name__}") from None   # a complex overflow
    raise NotPlainData(f"malformed plain data (tag {tag!r})")


def encode(value: Any) -> str:
    """One line of JSON (no raw newline in it) holding ``value``."""
    try:
        return json.dumps(to_json(value), allow_nan=True, separators=(",", ":"))
    except RecursionError:
        raise NotPlainData("nested too deeply") from None


def decode(text: str, budget: Optional[Budget] = None) -> Any:
    try:
        tree = json.loads(text)
    except (ValueError, RecursionError) as e:
        raise NotPlainData(f"not JSON: {type(e).__name__}") from None
    return from_json(tree, 0, budget)

