"""Cheap static checks that catch a broken script at submission, before any run.

The script is parsed, never executed: it must be UTF-8, compile, and define a
module-level `process` that can take one positional argument. Scripts that build
`process` dynamically pass here and are checked again by the harness at run time.

The coordinator calls `check_script` before the Semgrep gate; `runsurge scan` reports
the same problems as findings (`structure_findings`), so a script the scan accepts is
one the coordinator accepts.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass

from runsurge.errors import InvalidRequest
from runsurge.scan._precheck import line_at, source_lines
from runsurge.scan.findings import Finding
from runsurge.scan.ruleset import ENCODING_RULE, PARSE_ERROR_RULE

MISSING_FUNCTION_RULE = "runsurge.structure.missing-function"
ASYNC_FUNCTION_RULE = "runsurge.structure.async-function"
SIGNATURE_RULE = "runsurge.structure.signature"
STRUCTURE_RULES = frozenset({MISSING_FUNCTION_RULE, ASYNC_FUNCTION_RULE, SIGNATURE_RULE})


@dataclass(frozen=True)
class ScriptProblem:
    """Why a script cannot run: the submission's error message and a finding's parts."""

    rule_id: str
    message: str  # what submission reports: file name and position included
    reason: str  # what a finding says: its position is given apart
    line: int = 1
    column: int = 1
    whole_file: bool = False  # no source line to show (e.g. a function is missing)


def check_script(source: bytes, filename: str, required: tuple[str, ...] = ("process",)) -> None:
    """Raise InvalidRequest naming the problem (and the line) if the script cannot work."""
    problem = find_problem(source, filename, required)
    if problem is not None:
        raise InvalidRequest(problem.message)


def structure_findings(
    source: bytes, filename: str, required: tuple[str, ...] = ("process",)
) -> list[Finding]:
    """The submission checks' verdict as ERROR findings: empty when the script can run."""
    problem = find_problem(source, filename, required)
    if problem is None:
        return []
    lines = source_lines(source)
    return [
        Finding(
            rule_id=problem.rule_id,
            severity="ERROR",
            line=problem.line,
            column=problem.column,
            message=problem.reason,
            source_line="" if problem.whole_file else line_at(lines, problem.line),
        )
    ]


def find_problem(
    source: bytes, filename: str, required: tuple[str, ...] = ("process",)
) -> ScriptProblem | None:
    """The first reason the script cannot work, or None."""
    try:
        text = source.decode("utf-8")
    except UnicodeDecodeError as exc:
        reason = f"script is not UTF-8 (byte {exc.start})"
        line = source[: exc.start].count(b"\n") + 1
        return ScriptProblem(ENCODING_RULE, f"{filename}: {reason}", reason, line)
    try:
        tree = ast.parse(text, filename=filename)
    except SyntaxError as exc:
        where = f"line {exc.lineno}" + (f", column {exc.offset}" if exc.offset else "")
        detail = (exc.text or "").rstrip()
        reason = f"syntax error at {where}: {exc.msg}"
        message = f"{filename}: {reason}" + (f"\n    {detail}" if detail else "")
        return ScriptProblem(PARSE_ERROR_RULE, message, reason, exc.lineno or 1, exc.offset or 1)
    except ValueError as exc:  # e.g. null bytes
        reason = f"cannot parse script: {exc}"
        return ScriptProblem(PARSE_ERROR_RULE, f"{filename}: {reason}", reason, whole_file=True)
    for name in required:
        problem = _function_problem(tree, name, filename)
        if problem is not None:
            return problem
    return None


def _function_problem(tree: ast.Module, name: str, filename: str) -> ScriptProblem | None:
    definition: ast.FunctionDef | ast.AsyncFunctionDef | None = None
    bound_otherwise = False
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.name == name:
            definition = node
        elif _binds(node, name):
            bound_otherwise = True
            definition = None
    if definition is None:
        if bound_otherwise:
            return None  # assigned or imported: only the harness can tell
        reason = f"no function `{name}` defined at module level" + (
            f"; RunSurge calls `def {name}(input_data: str) -> dict`" if name == "process" else ""
        )
        return ScriptProblem(
            MISSING_FUNCTION_RULE, f"{filename}: {reason}", reason, whole_file=True
        )
    line = definition.lineno
    if isinstance(definition, ast.AsyncFunctionDef):
        reason = f"`{name}` must be a plain function, not async"
        return ScriptProblem(
            ASYNC_FUNCTION_RULE, f"{filename}, line {line}: {reason}", reason, line
        )
    if not _accepts_one_positional(definition.args):
        reason = (
            f"`{name}` must accept exactly one positional argument, "
            f"e.g. `def {name}(input_data: str) -> dict`"
        )
        return ScriptProblem(SIGNATURE_RULE, f"{filename}, line {line}: {reason}", reason, line)
    return None


def _binds(node: ast.stmt, name: str) -> bool:
    if isinstance(node, ast.Assign):
        return any(isinstance(t, ast.Name) and t.id == name for t in node.targets)
    if isinstance(node, (ast.AnnAssign, ast.AugAssign)):
        return isinstance(node.target, ast.Name) and node.target.id == name
    if isinstance(node, (ast.Import, ast.ImportFrom)):
        return any((alias.asname or alias.name) == name for alias in node.names)
    if isinstance(node, ast.ClassDef):
        return node.name == name
    return False


def _accepts_one_positional(args: ast.arguments) -> bool:
    positional = len(args.posonlyargs) + len(args.args)
    required_positional = positional - len(args.defaults)
    required_kwonly = sum(1 for d in args.kw_defaults if d is None)
    if required_kwonly:
        return False
    if required_positional > 1:
        return False
    return positional >= 1 or args.vararg is not None
