"""Strict result JSON: what Python's json lets through is refused, depth without recursion."""

from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from runsurge.strict_json import MAX_DEPTH, StrictJSONError, canonical_object, parse_object


@pytest.mark.parametrize(
    ("document", "reason"),
    [
        (b'{"a": NaN}', "NaN is not JSON"),
        (b'{"a": Infinity}', "Infinity is not JSON"),
        (b'{"a": -Infinity}', "-Infinity is not JSON"),
        (b'{"a": 1e999}', "1e999 overflows a double"),
        (b'{"a": "\\ud800"}', "lone surrogate"),
        (b'{"a": 1, "a": 2}', "duplicate key 'a'"),
        (b'{"a": "\xff"}', "not UTF-8"),
        (b"[1]", "not an object"),
        (b"{bad", "not JSON"),
        (b'{"a": 1} {"b": 2}', "not JSON"),
    ],
)
def test_loose_json_is_refused_with_its_reason(document: bytes, reason: str) -> None:
    with pytest.raises(StrictJSONError, match=reason.replace("(", r"\(")):
        canonical_object(document)


def test_nesting_past_the_limit_is_refused_without_recursion() -> None:
    deep = b'{"a":' + b"[" * 200_000 + b"]" * 200_000 + b"}"
    with pytest.raises(StrictJSONError) as raised:
        parse_object(deep)
    assert raised.value.reason == f"nested too deep (limit {MAX_DEPTH})"
    assert raised.value.from_return_value


def test_nesting_exactly_at_the_limit_is_accepted() -> None:
    inner = MAX_DEPTH - 1  # the outer object is the first level
    document = b'{"a":' + b"[" * inner + b"]" * inner + b"}"
    assert parse_object(document) is not None
    with pytest.raises(StrictJSONError):
        parse_object(b'{"a":' + b"[" * MAX_DEPTH + b"]" * MAX_DEPTH + b"}")


def test_brackets_inside_strings_do_not_count_as_nesting() -> None:
    document = json.dumps({"text": "[" * 10_000 + '\\"{' * 100}).encode()
    assert canonical_object(document) == json.dumps(
        {"text": "[" * 10_000 + '\\"{' * 100}, ensure_ascii=False, separators=(",", ":")
    ).encode("utf-8")


def test_duplicate_keys_are_the_return_values_fault_but_nan_is_forgery() -> None:
    with pytest.raises(StrictJSONError) as duplicate:
        parse_object(b'{"1": 1, "1": 2}')
    assert duplicate.value.from_return_value
    with pytest.raises(StrictJSONError) as nan:
        parse_object(b'{"a": NaN}')
    assert not nan.value.from_return_value


_json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(),
    lambda children: st.lists(children) | st.dictionaries(st.text(), children),
    max_leaves=30,
)


@given(st.dictionaries(st.text(), _json_values))
def test_canonical_form_round_trips_and_is_stable(value: dict[str, object]) -> None:
    loose = json.dumps(value, indent=2).encode()
    canonical = canonical_object(loose)
    assert json.loads(canonical) == value
    assert canonical_object(canonical) == canonical


@pytest.mark.parametrize("depth", [1, 2, 3, 10, MAX_DEPTH, MAX_DEPTH + 1])
@pytest.mark.parametrize("leaf", [b"", b"1", b'"]"'])
def test_the_depth_limit_is_exact_for_empty_and_full_leaves(depth: int, leaf: bytes) -> None:
    document = b"[" * (depth - 1) + b"[" + leaf + b"]" + b"]" * (depth - 1)
    wrapped = b'{"a":' + document + b"}"  # one more level
    if depth + 1 <= MAX_DEPTH:
        assert parse_object(wrapped) == {"a": json.loads(document)}
    else:
        with pytest.raises(StrictJSONError, match="nested too deep"):
            parse_object(wrapped)
