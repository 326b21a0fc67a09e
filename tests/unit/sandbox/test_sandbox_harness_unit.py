"""The harness's pure helpers, in process: signatures, JSON encoding, payloads."""

from __future__ import annotations

import functools
import json
from typing import Any

import pytest

from runsurge.sandbox import framing, harness


def one(a: Any) -> None: ...
def one_with_defaults(a: Any, b: int = 1, *, c: int = 2) -> None: ...
def varargs(*args: Any) -> None: ...
def none() -> None: ...
def two(a: Any, b: Any) -> None: ...
def kwonly(a: Any, *, key: Any) -> None: ...


@pytest.mark.parametrize(
    ("func", "ok"),
    [
        (one, True),
        (one_with_defaults, True),
        (varargs, True),
        (lambda x: x, True),
        (functools.partial(two, 1), True),
        (print, True),
        (none, False),
        (two, False),
        (kwonly, False),
        (functools.partial(none), False),
    ],
)
def test_signature_problem(func: Any, ok: bool) -> None:
    assert (harness.signature_problem(func) is None) is ok


@pytest.mark.parametrize(
    "value",
    [
        {},
        {"a": [1, 2.5, -0.0, 1e300, 10**40, True, None]},
        {"text": 'é\u2028"\\\n\t\x00', "emoji": "\U0001f600"},
        {1: "int key", 2.5: "float key", None: "none key", 3: "three"},
        {"nested": {"deeper": {"list": [[], {}, ""]}}},
    ],
)
def test_json_dumps_matches_the_json_module(value: dict[Any, Any]) -> None:
    expected = json.dumps(value, allow_nan=False, ensure_ascii=False, separators=(",", ":"))
    assert harness.json_dumps(value) == expected


@pytest.mark.parametrize(
    ("value", "error"),
    [({"x": float("nan")}, ValueError), ({"x": {1}}, TypeError), ({(1,): 1}, TypeError)],
)
def test_json_dumps_refuses_what_json_refuses(value: dict[Any, Any], error: type) -> None:
    with pytest.raises(error):
        harness.json_dumps(value)


def test_find_unserialisable_names_the_path() -> None:
    circular: dict[str, Any] = {}
    circular["self"] = circular
    assert harness.find_unserialisable({"a": [1, {"b": object()}]}) == (
        "result['a'][1]['b']: value of type object is not JSON-serialisable"
    )
    assert (
        harness.find_unserialisable({"x": float("inf")})
        == "result['x']: inf is not allowed in JSON"
    )
    assert harness.find_unserialisable(circular) == "result['self']: circular reference"
    assert harness.find_unserialisable({"ok": [1, "two", None]}) is None


def test_encode_result_checks_type_and_size() -> None:
    assert harness.encode_result({"a": 1}, "process", 100) == b'{"a":1}'
    with pytest.raises(harness._Reported) as info:
        harness.encode_result([1], "process", 100)
    assert info.value.type_name == "InvalidResult"
    with pytest.raises(harness._Reported) as info:
        harness.encode_result({"a": "x" * 100}, "process", 50)
    assert info.value.type_name == "OutputTooLarge"


def test_payloads_are_json_the_agent_parses() -> None:
    error = json.loads(harness._error_payload("T", "m\ud800", "tb"))
    assert error == {"type": "T", "message": "m\ud800", "traceback": "tb"}
    assert json.loads(harness._exit_payload(9, harness.PROBLEM_TOO_LARGE, 5)) == {
        "exit_code": None, "signal": 9, "problem": "result_too_large", "result_bytes": 5
    }  # fmt: skip
    assert json.loads(harness._exit_payload(3 << 8, None, 0))["exit_code"] == 3


def test_framing_shares_the_harness_constants() -> None:
    assert framing.NONCE_BYTES == harness.NONCE_BYTES
    assert len(harness.frame_header(b"n" * 16, 1, 0)) == harness.HEADER_BYTES
    assert harness.WORKER_MAGIC != harness.MAGIC


def test_parse_args_requires_every_key() -> None:
    with pytest.raises(SystemExit, match="missing argument"):
        harness.parse_args(["control=3"])
    with pytest.raises(SystemExit, match="malformed"):
        harness.parse_args(["control"])
