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
"""
from __future__ import annotations

import base64
import collections
import json
from typing import Any

__all__ = ["NotPlainData", "encode", "decode", "to_json", "from_json", "MAX_DEPTH"]

MAX_DEPTH = 64
_BIG = 1 << 63
_SEQS = ((list, "l"), (tuple, "t"), (set, "s"), (frozenset, "f"))
_DICTS = (dict, collections.OrderedDict, collections.defaultdict, collections.Counter)


class NotPlainData(ValueError):
    """A value outside the whitelist (or malformed encoded data)."""


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


def from_json(tree: Any, depth: int = 0) -> Any:
    """The value a ``to_json`` tree stands for; ``NotPlainData`` on anything else."""
    if depth > MAX_DEPTH:
        raise NotPlainData("nested too deeply")
    t = type(tree)
    if tree is None or t is bool or t is str or t is float or t is int:
        return tree
    if t is not dict or len(tree) != 1:
        raise NotPlainData(f"malformed plain data ({t.__name__})")
    (tag, payload), = tree.items()
    try:
        if tag == "i" and type(payload) is str:
            return int(payload, 16)
        if tag == "b" and type(payload) is str:
            return base64.b64decode(payload.encode("ascii"), validate=True)
        if type(payload) is not list:
            raise NotPlainData(f"malformed plain data (tag {tag!r})")
        if tag == "c" and len(payload) == 2 and all(type(v) in (int, float) for v in payload):
            return complex(payload[0], payload[1])
        if tag in ("l", "t", "s", "f"):
            items = [from_json(v, depth + 1) for v in payload]
            return {"l": list, "t": tuple, "s": set, "f": frozenset}[tag](items)
        if tag == "d" and all(type(kv) is list and len(kv) == 2 for kv in payload):
            return {from_json(k, depth + 1): from_json(v, depth + 1) for k, v in payload}
    except NotPlainData:
        raise
    except (TypeError, ValueError, RecursionError) as e:  # unhashable set items, bad base64, ...
        raise NotPlainData(f"malformed plain data: {type(e).__name__}") from None
    raise NotPlainData(f"malformed plain data (tag {tag!r})")


def encode(value: Any) -> str:
    """One line of JSON (no raw newline in it) holding ``value``."""
    try:
        return json.dumps(to_json(value), allow_nan=True, separators=(",", ":"))
    except RecursionError:
        raise NotPlainData("nested too deeply") from None


def decode(text: str) -> Any:
    try:
        tree = json.loads(text)
    except (ValueError, RecursionError) as e:
        raise NotPlainData(f"not JSON: {type(e).__name__}") from None
    return from_json(tree)

