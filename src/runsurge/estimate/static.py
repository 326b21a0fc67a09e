"""Static features of a script and of its input, and the prior they give.

Reading the source (``ast``, never executing it) tells what probes cannot: which modules
it imports, whether it parses the whole input at once (``split``, ``json.loads``,
``sorted``, comprehensions over the input), which big allocations are visible as
constants (a 200 MB ``bytearray`` behind an ``if`` is what a prefix probe misses), and
whether a number read from the input sizes an allocation (then the input's length
predicts nothing).  The prior is coarse: it decides only when nothing better exists.
"""

from __future__ import annotations

import ast
import mmap
from dataclasses import dataclass
from typing import TypeAlias

MiB = 1024 * 1024
PYTHON_LIST_SLOT = 8
PER_ELEMENT_OBJECT = 40  # a small int or short str object beside its list slot
# Measured import cost of common heavy modules (RSS growth on CPython 3.12).
IMPORT_BYTES = {"numpy": 30 * MiB, "pandas": 120 * MiB, "scipy": 60 * MiB, "sklearn": 150 * MiB}
WHOLE_INPUT_CALLS = frozenset({"split", "splitlines", "loads", "sorted", "list", "findall"})
# An input as the estimator reads it: bytes, or a read-only map of the input's file (an
# agent probing a large input maps it rather than reading it into its own memory).
InputBytes: TypeAlias = bytes | mmap.mmap
COUNT_CHUNK = 4 * 1024 * 1024
NUMERIC_INPUT_LIMIT = 64  # bytes: a longer input is data, not "a number"
# The harness reads the input as bytes and decodes it to str while holding both: every
# task peaks at least this many bytes per input byte above the baseline (measured 2.0
# for ASCII; UTF-8 text of wider characters decodes to no more than its bytes).
HARNESS_BYTES_PER_INPUT_BYTE = 2.0


@dataclass(frozen=True)
class ConditionalAllocation:
    """A big constant allocation under an `if`, with the literals its guards look for.

    Each guard that tests the input for a string literal (``"BIG" in data``,
    ``line == "MODE=dense"``, ``line.startswith("X")``) is kept as the set of literals
    any of which must occur in the input for the guard to hold; other guards (``else``,
    ``not in``, comparisons of numbers) cannot be ruled out and are not kept.
    """

    nbytes: int
    guards: tuple[frozenset[str], ...]

    def possible(self, data: InputBytes) -> bool:
        """False only when some guard's literals all are absent from the input."""
        # find(), not `in`: an mmap's `in` looks for a single byte value.
        return all(any(data.find(lit.encode()) >= 0 for lit in guard) for guard in self.guards)


@dataclass(frozen=True)
class ScriptFeatures:
    """What the source of a script says about its memory."""

    imports: frozenset[str]
    whole_input_ops: frozenset[str]  # e.g. {"split", "loads", "comprehension"}
    constant_alloc_bytes: int  # big allocations visible as constants, unconditional
    conditional_allocations: tuple[ConditionalAllocation, ...]  # the same, under an `if`
    size_from_input: bool  # int()/float() of the input feeds an allocation or range
    syntax_error: str = ""

    @property
    def conditional_alloc_bytes(self) -> int:
        """All conditional allocations, whatever the input (content-dependent memory)."""
        return sum(a.nbytes for a in self.conditional_allocations)

    def possible_conditional_bytes(self, data: InputBytes) -> int:
        """The conditional allocations whose guards this input does not rule out."""
        return sum(a.nbytes for a in self.conditional_allocations if a.possible(data))

    @property
    def import_bytes(self) -> int:
        """Known import cost of the heavy modules it imports."""
        return sum(IMPORT_BYTES.get(name, 0) for name in self.imports)


@dataclass(frozen=True)
class InputFeatures:
    """What the input's bytes say: size, lines, whether it is just a number."""

    size: int
    lines: int
    numeric_value: float | None  # the number, when the whole input is one

    @property
    def line_oriented(self) -> bool:
        """More than one line: prefixes on line boundaries are valid smaller inputs."""
        return self.lines > 1


def describe_input(data: InputBytes) -> InputFeatures:
    """Size, line count and numeric value (if any) of an input."""
    size = len(data)
    value: float | None = None
    if size <= NUMERIC_INPUT_LIMIT:
        try:
            value = float(data[:].strip() or b"x")
        except ValueError:
            value = None
    # Counted a slice at a time, so a mapped file is never copied whole.
    newlines = sum(data[at : at + COUNT_CHUNK].count(b"\n") for at in range(0, size, COUNT_CHUNK))
    lines = newlines + (1 if size and data[-1:] != b"\n" else 0)
    return InputFeatures(size=size, lines=lines, numeric_value=value)


def read_script(source: str) -> ScriptFeatures:
    """Static features of a script's source; a syntax error gives empty features saying so."""
    try:
        tree = ast.parse(source)
    except SyntaxError as exc:
        error = f"line {exc.lineno}: {exc.msg}"
        return ScriptFeatures(frozenset(), frozenset(), 0, (), False, error)
    visitor = _Features()
    visitor.visit(tree)
    return ScriptFeatures(
        imports=frozenset(visitor.imports),
        whole_input_ops=frozenset(visitor.ops),
        constant_alloc_bytes=visitor.unconditional,
        conditional_allocations=tuple(visitor.conditional),
        size_from_input=visitor.numeric_reads and visitor.sized_by_name,
    )


def static_prior(script: ScriptFeatures, data: InputFeatures) -> int:
    """A coarse peak above the harness baseline from features alone (an upper-ish guess)."""
    per_byte = HARNESS_BYTES_PER_INPUT_BYTE + 0.5
    if script.whole_input_ops:
        per_byte += 12.0  # a list of short str objects costs ~10x the text it splits
    if "loads" in script.whole_input_ops:
        per_byte += 8.0
    allocated = script.constant_alloc_bytes + script.conditional_alloc_bytes
    return int(script.import_bytes + per_byte * data.size + allocated)


class _Features(ast.NodeVisitor):
    """Collects imports, whole-input operations and constant-sized allocations."""

    def __init__(self) -> None:
        self.imports: set[str] = set()
        self.ops: set[str] = set()
        self.unconditional = 0
        self.conditional: list[ConditionalAllocation] = []
        self.numeric_reads = False
        self.sized_by_name = False
        self._guards: list[frozenset[str] | None] = []

    def visit_Import(self, node: ast.Import) -> None:
        self.imports.update(alias.name.split(".")[0] for alias in node.names)

    def visit_ImportFrom(self, node: ast.ImportFrom) -> None:
        if node.module:
            self.imports.add(node.module.split(".")[0])

    def visit_If(self, node: ast.If) -> None:
        self.visit(node.test)
        self._guards.append(_required_literals(node.test))
        for child in node.body:
            self.visit(child)
        self._guards[-1] = None  # the else branch runs when the literal is absent
        for child in node.orelse:
            self.visit(child)
        self._guards.pop()

    def visit_ListComp(self, node: ast.ListComp) -> None:
        self.ops.add("comprehension")
        self.generic_visit(node)

    visit_SetComp = visit_DictComp = visit_ListComp  # type: ignore[assignment]

    def visit_Call(self, node: ast.Call) -> None:
        name = _called_name(node.func)
        if name in WHOLE_INPUT_CALLS:
            self.ops.add(name)
        if name in ("int", "float"):
            self.numeric_reads = True
        if name in ("bytearray", "bytes", "range") and node.args:
            size = _constant_int(node.args[0])
            if size is None and isinstance(node.args[0], ast.Name):
                self.sized_by_name = True
            elif size is not None and name != "range":
                self._allocated(size)
        self.generic_visit(node)

    def visit_BinOp(self, node: ast.BinOp) -> None:
        if isinstance(node.op, ast.Mult):
            self._multiplied(node.left, node.right)
            self._multiplied(node.right, node.left)
        self.generic_visit(node)

    def _multiplied(self, sequence: ast.expr, count: ast.expr) -> None:
        """`[x] * N` or `"ab" * N`: N slots or N copies of the string."""
        n = _constant_int(count)
        if isinstance(sequence, ast.List | ast.Tuple) and sequence.elts:
            if n is None:
                self.sized_by_name = True
            else:
                self._allocated(n * len(sequence.elts) * PYTHON_LIST_SLOT)
        elif (
            isinstance(sequence, ast.Constant)
            and isinstance(sequence.value, str | bytes)
            and n is not None
        ):
            self._allocated(n * len(sequence.value))

    def _allocated(self, nbytes: int) -> None:
        if nbytes < MiB:
            return  # small constants are noise next to the interpreter
        if self._guards:
            guards = tuple(g for g in self._guards if g is not None)
            self.conditional.append(ConditionalAllocation(nbytes, guards))
        else:
            self.unconditional += nbytes


def _required_literals(test: ast.expr) -> frozenset[str] | None:
    """Literals one of which the input must contain for `test` to hold, or None if unknown."""
    if isinstance(test, ast.BoolOp):
        parts = [_required_literals(v) for v in test.values]
        if isinstance(test.op, ast.And):
            return next((p for p in parts if p is not None), None)
        if all(p is not None for p in parts):
            return frozenset().union(*(p for p in parts if p is not None))
        return None
    if isinstance(test, ast.Compare) and len(test.ops) == 1:
        if isinstance(test.ops[0], ast.In | ast.Eq):
            for side in (test.left, test.comparators[0]):
                if isinstance(side, ast.Constant) and isinstance(side.value, str) and side.value:
                    return frozenset({side.value})
        return None
    if isinstance(test, ast.Call) and _called_name(test.func) in ("startswith", "endswith"):
        args = test.args
        if args and isinstance(args[0], ast.Constant) and isinstance(args[0].value, str):
            return frozenset({args[0].value}) if args[0].value else None
    return None


def _called_name(func: ast.expr) -> str:
    if isinstance(func, ast.Name):
        return func.id
    if isinstance(func, ast.Attribute):
        return func.attr
    return ""


def _constant_int(node: ast.expr) -> int | None:
    """The value of an integer constant expression such as ``200 * 1024 * 1024``."""
    if isinstance(node, ast.Constant) and isinstance(node.value, int):
        return int(node.value)
    if isinstance(node, ast.BinOp):
        left, right = _constant_int(node.left), _constant_int(node.right)
        if left is None or right is None:
            return None
        if isinstance(node.op, ast.Mult):
            return left * right
        if isinstance(node.op, ast.Add):
            return left + right
        if isinstance(node.op, ast.Pow) and right < 64:
            return int(left**right)
        if isinstance(node.op, ast.LShift) and right < 64:
            return left << right
    return None
