"""Static features: whole-input operations, constant allocations, and their guards."""

from __future__ import annotations

from runsurge.estimate.static import describe_input, read_script, static_prior

MiB = 1024 * 1024

FLAGGED = """
def process(input_data):
    if "ALLOCATE_BIG" in input_data:
        buffer = b"x" * (256 * 1024 * 1024)
    return {}
"""


def test_whole_input_operations_and_imports_are_found() -> None:
    source = "import json\ndef process(d):\n    return json.loads(sorted(d.split()))\n"
    features = read_script(source)
    assert {"loads", "sorted", "split"} <= features.whole_input_ops
    assert "json" in features.imports


def test_unconditional_constant_allocation_is_counted_in_bytes() -> None:
    features = read_script("TABLE = [0] * 8_000_000\ndef process(d):\n    return {}\n")
    assert features.constant_alloc_bytes == 64_000_000
    assert features.conditional_allocations == ()


def test_guarded_allocation_is_possible_only_when_its_literal_occurs() -> None:
    features = read_script(FLAGGED)
    assert features.conditional_alloc_bytes == 256 * MiB
    assert features.possible_conditional_bytes(b"lots of text\n" * 100) == 0
    assert features.possible_conditional_bytes(b"text\nALLOCATE_BIG\n") == 256 * MiB


def test_else_branch_allocation_cannot_be_ruled_out() -> None:
    source = (
        'def process(d):\n    if "X" in d:\n        pass\n'
        "    else:\n        b = bytearray(4 << 20)\n"
    )
    assert read_script(source).possible_conditional_bytes(b"nothing") == 4 * MiB


def test_number_read_from_input_sizing_an_allocation_is_flagged() -> None:
    source = "def process(d):\n    n = int(d)\n    return {'g': [[0] * n for _ in range(n)]}\n"
    assert read_script(source).size_from_input


def test_syntax_error_gives_empty_features_saying_where() -> None:
    features = read_script("def process(:\n")
    assert features.syntax_error.startswith("line 1")


def test_numeric_input_is_recognised_and_text_is_not() -> None:
    assert describe_input(b"3000\n").numeric_value == 3000
    assert describe_input(b"3000 apples\n").numeric_value is None
    assert describe_input(b"a\nb\nc").lines == 3


def test_static_prior_grows_with_whole_input_parsing() -> None:
    data = describe_input(b"w " * 10**6)
    plain = static_prior(read_script("def process(d):\n    return {}\n"), data)
    parsed = static_prior(read_script("def process(d):\n    return {'n': len(d.split())}\n"), data)
    assert parsed > 4 * plain
