"""Cheap static checks that catch a broken script at submission, before any run.

The script is parsed, never executed: it must be UTF-8, compile, and define a
module-level `process` that can take one positional argument. Scripts that build
`process` dynamically pass here and are checked again by the harness at run time.
"""

from __future__ import annotations

import ast

from runsurge.errors import InvalidRequest


def check_script(source: bytes, filename: str, required: tuple[str, ...] = ("process",)) -> None:
    """Raise InvalidRequest naming the problem (and the line) if the script cannot work."""
    try:
        text = source.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InvalidRequest(f"{filename}: script is not UTF-8 (byte {exc.start})") from None
    try:
        tree = ast.parse(text, filename=filename)
    except SyntaxError as exc:
        where = f"line {exc.lineno}" + (f", column {exc.offset}" if exc.offset else "")
        detail = (exc.text or "").rstrip()
        raise InvalidRequest(
            f"{filename}: syntax error at {where}: {exc.msg}"
            + (f"\n    {detail}" if detail else "")
        ) from None
    except ValueError as exc:  # e.g. null bytes
        raise InvalidRequest(f"{filename}: cannot parse script: {exc}") from None
    for name in required:
        _check_function(tree, name, filename)


def _check_function(tree: ast.Module, name: str, filename: str) -> None:
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
            return  # assigned or imported: only the harness can tell
        raise InvalidRequest(
            f"{filename}: no function `{name}` defined at module level; "
            f"RunSurge calls `def {name}(input_data: str) -> dict`"
            if name == "process"
            else f"{filename}: no function `{name}` defined at module level"
        )
    if isinstance(definition, ast.AsyncFunctionDef):
        raise InvalidRequest(
            f"{filename}, line {definition.lineno}: `{name}` must be a plain function, not async"
        )
    if not _accepts_one_positional(definition.args):
        raise InvalidRequest(
            f"{filename}, line {definition.lineno}: `{name}` must accept exactly one positional "
            f"argument, e.g. `def {name}(input_data: str) -> dict`"
        )


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
