"""Checks made before Semgrep sees a script: it must be UTF-8 and parse as Python.

Semgrep's parser recovers from syntax errors and quietly skips what it cannot read,
so a script that CPython would refuse (or read differently) could pass a scan
half-seen. Worse, a PEP 263 coding cookie such as `# coding: utf-7` makes CPython
decode bytes that Semgrep reads as a comment into live code. Rejecting both here
means the text Semgrep scans is exactly the text the harness will run.
"""

from __future__ import annotations

import ast
import io
import tokenize

from runsurge.scan.findings import Finding
from runsurge.scan.ruleset import ENCODING_RULE, PARSE_ERROR_RULE

_ALLOWED_ENCODINGS = frozenset({"utf-8", "utf-8-sig"})


def source_lines(source: bytes) -> list[str]:
    """The script's lines as the tokenizer counts them (\\n, \\r\\n or \\r end a line)."""
    text = source.decode("utf-8", errors="replace").removeprefix("\ufeff")
    return text.replace("\r\n", "\n").replace("\r", "\n").split("\n")


def line_at(lines: list[str], line: int) -> str:
    """The 1-based `line` of `lines`, or "" when out of range."""
    return lines[line - 1] if 1 <= line <= len(lines) else ""


def precheck(source: bytes) -> Finding | None:
    """A finding that rejects the script before scanning, or None if Semgrep may scan it."""
    lines = source_lines(source)
    try:
        encoding, _ = tokenize.detect_encoding(io.BytesIO(source).readline)
    except SyntaxError as exc:
        return _finding(ENCODING_RULE, 1, 1, f"unusable source encoding: {exc}", lines)
    if encoding not in _ALLOWED_ENCODINGS:
        return _finding(
            ENCODING_RULE,
            1,
            1,
            f"Scripts must be UTF-8; remove the coding declaration ({encoding}).",
            lines,
        )
    try:
        source.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = source[: exc.start].count(b"\n") + 1
        return _finding(ENCODING_RULE, line, 1, "Scripts must be valid UTF-8.", lines)
    unixified = source.replace(b"\r\n", b"\n")
    bare_cr = unixified.find(b"\r")
    if bare_cr != -1:
        # CPython ends a line at a lone \r; Semgrep may not, and would see other code.
        line = unixified[:bare_cr].count(b"\n") + 1
        message = "Use \\n or \\r\\n line endings; a lone carriage return is not allowed."
        return _finding(ENCODING_RULE, line, 1, message, lines)
    try:
        ast.parse(source, filename="script.py", mode="exec")
    except SyntaxError as exc:
        line = exc.lineno or 1
        message = f"The script is not valid Python: {exc.msg}. Fix it and submit again."
        return _finding(PARSE_ERROR_RULE, line, exc.offset or 1, message, lines)
    except (ValueError, RecursionError, MemoryError) as exc:
        message = f"The script is not valid Python ({type(exc).__name__}: {exc})."
        return _finding(PARSE_ERROR_RULE, 1, 1, message, lines)
    return None


def _finding(rule_id: str, line: int, column: int, message: str, lines: list[str]) -> Finding:
    return Finding(
        rule_id=rule_id,
        severity="ERROR",
        line=line,
        column=column,
        message=message,
        source_line=line_at(lines, line),
    )
