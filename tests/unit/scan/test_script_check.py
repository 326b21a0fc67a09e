"""Submission-time checks name the problem and its line, without running the script."""

from __future__ import annotations

import pytest

from runsurge.errors import InvalidRequest
from runsurge.scan.ruleset import ENGINE_RULES
from runsurge.scan.script_check import STRUCTURE_RULES, check_script, structure_findings

WORKABLE = [
    "def process(input_data: str) -> dict:\n    return {}\n",
    "def process(data, extra=1):\n    return {}\n",
    "def process(*args):\n    return {}\n",
    "def process(data, /, *, flag=False):\n    return {}\n",
    "process = lambda s: {}\n",
    "from helpers import process\n",
    "class process:\n    def __init__(self, s): pass\n",
]
BROKEN = [
    ("def process(x:\n    pass\n", r"syntax error at line 1"),
    ("x = 1\ndef process(x):\n  return {\n", r"syntax error at line 3"),
    ("def handle(s):\n    return {}\n", r"no function `process`"),
    ("def process():\n    return {}\n", r"line 1: `process` must accept exactly one"),
    ("\n\ndef process(a, b):\n    return {}\n", r"line 3: .*exactly one positional"),
    ("def process(*, data):\n    return {}\n", r"exactly one positional"),
    ("async def process(s):\n    return {}\n", r"not async"),
]


@pytest.mark.parametrize("source", WORKABLE)
def test_workable_scripts_pass(source: str) -> None:
    check_script(source.encode(), "s.py")
    assert structure_findings(source.encode(), "s.py") == []


@pytest.mark.parametrize(("source", "message"), BROKEN)
def test_broken_scripts_are_refused_with_a_reason(source: str, message: str) -> None:
    with pytest.raises(InvalidRequest, match=message):
        check_script(source.encode(), "s.py")


def test_non_utf8_script_is_refused() -> None:
    with pytest.raises(InvalidRequest, match="not UTF-8"):
        check_script(b"def process(s):\n    return {'a': '\xff'}\n", "s.py")


def test_the_last_definition_wins_like_python() -> None:
    source = "def process(s):\n    return {}\nprocess = None\ndef process(a, b):\n    return {}\n"
    with pytest.raises(InvalidRequest, match="line 4"):
        check_script(source.encode(), "s.py")


@pytest.mark.parametrize(("source", "message"), BROKEN)
def test_the_scan_sees_each_refusal_as_one_error_finding(source: str, message: str) -> None:
    (finding,) = structure_findings(source.encode(), "s.py")
    assert finding.severity == "ERROR"
    assert finding.rule_id in STRUCTURE_RULES | ENGINE_RULES
    with pytest.raises(InvalidRequest) as refused:
        check_script(source.encode(), "s.py")
    # The finding says what the error says, its position apart.
    assert finding.message in str(refused.value)
    assert "s.py" not in finding.message


def test_a_finding_points_at_the_offending_definition() -> None:
    source = b"import json\n\n\ndef process(a, b):\n    return {}\n"
    (finding,) = structure_findings(source, "s.py")
    assert (finding.rule_id, finding.line, finding.source_line) == (
        "runsurge.structure.signature",
        4,
        "def process(a, b):",
    )
