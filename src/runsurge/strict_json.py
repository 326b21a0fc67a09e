"""Strict, bounded JSON for results: what a sandbox sends is parsed as hostile input.

Python's ``json`` accepts more than RFC 8259 allows — ``NaN``, ``Infinity``, numbers
that overflow to infinity (``1e999``), lone surrogate escapes, duplicate keys (the
last one silently wins) — and its C scanner recurses once per nesting level, so a
deep enough document ends in ``RecursionError``. A result passes through the agent,
the coordinator, the blob store and every consumer's parser, and each of those may
read such a document differently; so a result is accepted only if it is strict,
within a nesting limit checked *before* the recursive parser runs, and it is then
forwarded in one canonical form (compact separators, UTF-8, keys in the order given).
"""

from __future__ import annotations

import json
import math
import re
from typing import Any

# Deep enough for any real result tree, far below the interpreter's recursion limit.
MAX_DEPTH = 256

# A JSON string, escapes included (the unrolled form: linear, no backtracking).
_STRING = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*"', re.DOTALL)
_NOT_BRACKETS = bytes(b for b in range(256) if b not in b"[]{}")
_EMPTY_PAIR = re.compile(rb"\[\]|\{\}")
_BRACKET_RUNS = re.compile(rb"[\[{]+|[\]}]+|o+")
_OPENERS = (ord("["), ord("{"))
_EMPTY = ord("o")


class StrictJSONError(ValueError):
    """The document is not strict JSON of an object; `from_return_value` says who made it.

    ``from_return_value`` is True for what an honest harness can produce from the
    consumer's own return value (nested too deep, keys that collide once turned into
    strings); anything else can only come from something forging the harness's output.
    """

    def __init__(self, reason: str, *, from_return_value: bool = False) -> None:
        super().__init__(reason)
        self.reason = reason
        self.from_return_value = from_return_value


def parse_object(data: bytes, *, max_depth: int = MAX_DEPTH) -> dict[str, Any]:
    """The object `data` holds, or StrictJSONError saying what is wrong with it."""
    too_deep = StrictJSONError(f"nested too deep (limit {max_depth})", from_return_value=True)
    if not _depth_within(data, max_depth):
        raise too_deep
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise StrictJSONError(f"not UTF-8 (byte 0x{data[exc.start]:02x} at {exc.start})") from None
    try:
        value = json.loads(
            text,
            object_pairs_hook=_unique_keys,
            parse_constant=_refuse_constant,
            parse_float=_finite_float,
        )
    except StrictJSONError:
        raise
    except RecursionError:  # unbalanced brackets the depth check left to the parser
        raise too_deep from None
    except ValueError as exc:
        raise StrictJSONError(f"not JSON: {exc}") from None
    if not isinstance(value, dict):
        raise StrictJSONError(f"a JSON {type(value).__name__}, not an object")
    return value


def canonical_object(data: bytes, *, max_depth: int = MAX_DEPTH) -> bytes:
    """`data` re-serialised in the one form RunSurge forwards, after `parse_object`."""
    value = parse_object(data, max_depth=max_depth)
    try:
        return json.dumps(value, ensure_ascii=False, allow_nan=False, separators=(",", ":")).encode(
            "utf-8"
        )
    except UnicodeEncodeError:
        raise StrictJSONError("a string holds a lone surrogate (not valid Unicode)") from None


def _depth_within(data: bytes, limit: int) -> bool:
    """Whether no array or object nests deeper than `limit`, in linear time, no recursion.

    Strings are cut out, then everything but brackets. Each empty innermost pair
    becomes one ``o`` (a level entered and left at once), which shortens the common
    shapes; then the depth is followed run by run. An unbalanced document is left for
    the parser to reject. Cost, measured on 8 MB adversarial shapes: at most that of
    ``json.loads`` itself.
    """
    brackets = _STRING.sub(b"", data).translate(None, delete=_NOT_BRACKETS)
    brackets = _EMPTY_PAIR.sub(b"o", brackets)
    depth = 0
    for run in _BRACKET_RUNS.findall(brackets):
        if run[0] in _OPENERS:
            depth += len(run)
            if depth > limit:
                return False
        elif run[0] == _EMPTY:
            if depth + 1 > limit:
                return False
        else:
            depth -= len(run)
    return True


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    value = dict(pairs)
    if len(value) != len(pairs):
        seen: set[str] = set()
        for key, _ in pairs:
            if key in seen:
                raise StrictJSONError(f"duplicate key {key!r}", from_return_value=True)
            seen.add(key)
    return value


def _refuse_constant(name: str) -> None:
    raise StrictJSONError(f"{name} is not JSON")


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise StrictJSONError(f"{text} overflows a double")
    return value
