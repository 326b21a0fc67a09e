"""Built-in aggregation of a group's results: `FIELD=REDUCER` specs and their reducers.

Reducers are accumulators fed one result at a time, in input order, so a group of
100,000 results is aggregated without holding them all (only what the reducer keeps,
e.g. `collect`, grows with the group). A value of the wrong type stops the
aggregation with an error naming the input, the field and the reducer.

Output keys: the field's name; when one field has several reducers, `FIELD.REDUCER`.
The field `*` means the whole result: `*=count` counts successful inputs (key
`count`), `*=collect` lists every result (key `results`).
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, ClassVar

from runsurge.errors import InvalidRequest

REDUCERS = (
    "sum",
    "mean",
    "min",
    "max",
    "count",
    "concat",
    "merge_counts",
    "histogram",
    "collect",
)
WHOLE_RESULT = "*"
MAX_SPECS = 64


class AggregationError(InvalidRequest):
    """A result could not be fed to its reducer (wrong type, mixed types, …)."""


@dataclass(frozen=True)
class ReducerSpec:
    """Reduce `field` of every successful result with `reducer` into `output_key`."""

    field: str
    reducer: str
    output_key: str

    def text(self) -> str:
        """The spec as the user writes it."""
        return f"{self.field}={self.reducer}"


def parse_specs(texts: Iterable[str]) -> list[ReducerSpec]:
    """Parse `FIELD=REDUCER` texts; raise InvalidRequest naming the bad one."""
    pairs: list[tuple[str, str]] = []
    for text in texts:
        field, sep, reducer = text.partition("=")
        field, reducer = field.strip(), reducer.strip().lower()
        if not sep or not field or not reducer:
            raise InvalidRequest(f"aggregate spec {text!r} is not FIELD=REDUCER (e.g. words=sum)")
        if reducer not in REDUCERS:
            raise InvalidRequest(
                f"aggregate spec {text!r}: unknown reducer {reducer!r}; "
                f"choose from {', '.join(REDUCERS)}"
            )
        if field == WHOLE_RESULT and reducer not in ("count", "collect"):
            raise InvalidRequest(f"aggregate spec {text!r}: '*' works with count and collect only")
        if (field, reducer) in pairs:
            raise InvalidRequest(f"aggregate spec {text!r} is given twice")
        pairs.append((field, reducer))
    if len(pairs) > MAX_SPECS:
        raise InvalidRequest(f"at most {MAX_SPECS} aggregate specs")
    per_field: dict[str, int] = {}
    for field, _ in pairs:
        per_field[field] = per_field.get(field, 0) + 1
    return [ReducerSpec(f, r, _output_key(f, r, per_field[f] > 1)) for f, r in pairs]


def _output_key(field: str, reducer: str, shared: bool) -> str:
    if field == WHOLE_RESULT:
        return "count" if reducer == "count" else "results"
    return f"{field}.{reducer}" if shared else field


def _is_number(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


class _Reducer:
    """One accumulator; subclasses name the types they accept."""

    name: ClassVar[str]

    def __init__(self, spec: ReducerSpec) -> None:
        self.spec = spec

    def fail(self, index: int, value: object, wanted: str) -> AggregationError:
        return AggregationError(
            f"cannot aggregate {self.spec.text()}: input {index} has "
            f"{type(value).__name__} {_short(value)}, {self.name} needs {wanted}"
        )

    def add(self, index: int, value: Any) -> None:
        raise NotImplementedError

    def result(self) -> Any:
        raise NotImplementedError


def _short(value: object) -> str:
    text = json.dumps(value, default=str)
    return text if len(text) <= 40 else text[:37] + "..."


class _Sum(_Reducer):
    name = "sum"

    def __init__(self, spec: ReducerSpec) -> None:
        super().__init__(spec)
        self.total: int | float = 0
        self.count = 0

    def add(self, index: int, value: Any) -> None:
        if not _is_number(value):
            raise self.fail(index, value, "numbers")
        self.total += value
        self.count += 1

    def result(self) -> Any:
        return self.total


class _Mean(_Sum):
    name = "mean"

    def result(self) -> Any:
        return self.total / self.count if self.count else None


class _Extreme(_Reducer):
    name = "min"
    pick = staticmethod(min)

    def __init__(self, spec: ReducerSpec) -> None:
        super().__init__(spec)
        self.best: Any = None
        self.kind: str | None = None

    def add(self, index: int, value: Any) -> None:
        kind = "number" if _is_number(value) else "string" if isinstance(value, str) else None
        if kind is None:
            raise self.fail(index, value, "numbers or strings")
        if self.kind not in (None, kind):
            raise self.fail(index, value, f"{self.kind}s like the inputs before it")
        if isinstance(value, float) and math.isnan(value):
            raise self.fail(index, value, "comparable numbers")
        self.kind = kind
        self.best = value if self.best is None else self.pick(self.best, value)

    def result(self) -> Any:
        return self.best


class _Max(_Extreme):
    name = "max"
    pick = staticmethod(max)


class _Count(_Reducer):
    name = "count"

    def __init__(self, spec: ReducerSpec) -> None:
        super().__init__(spec)
        self.count = 0

    def add(self, index: int, value: Any) -> None:
        self.count += 1

    def result(self) -> Any:
        return self.count


class _Concat(_Reducer):
    name = "concat"

    def __init__(self, spec: ReducerSpec) -> None:
        super().__init__(spec)
        self.items: list[Any] = []

    def add(self, index: int, value: Any) -> None:
        if not isinstance(value, list):
            raise self.fail(index, value, "lists")
        self.items.extend(value)

    def result(self) -> Any:
        return self.items


class _MergeCounts(_Reducer):
    name = "merge_counts"

    def __init__(self, spec: ReducerSpec) -> None:
        super().__init__(spec)
        self.counts: dict[str, int | float] = {}

    def add(self, index: int, value: Any) -> None:
        if not isinstance(value, dict) or not all(_is_number(v) for v in value.values()):
            raise self.fail(index, value, "dicts of numbers")
        for key, number in value.items():
            self.counts[key] = self.counts.get(key, 0) + number

    def result(self) -> Any:
        return dict(sorted(self.counts.items(), key=lambda kv: (-kv[1], kv[0])))


class _Histogram(_Reducer):
    name = "histogram"

    def __init__(self, spec: ReducerSpec) -> None:
        super().__init__(spec)
        self.counts: dict[str, int] = {}

    def add(self, index: int, value: Any) -> None:
        if isinstance(value, (dict, list)):
            raise self.fail(index, value, "strings, numbers, booleans or null")
        key = value if isinstance(value, str) else json.dumps(value)
        self.counts[key] = self.counts.get(key, 0) + 1

    def result(self) -> Any:
        return dict(sorted(self.counts.items(), key=lambda kv: (-kv[1], kv[0])))


class _Collect(_Reducer):
    name = "collect"

    def __init__(self, spec: ReducerSpec) -> None:
        super().__init__(spec)
        self.items: list[Any] = []

    def add(self, index: int, value: Any) -> None:
        self.items.append(value)

    def result(self) -> Any:
        return self.items


_CLASSES: dict[str, type[_Reducer]] = {
    cls.name: cls
    for cls in (_Sum, _Mean, _Extreme, _Max, _Count, _Concat, _MergeCounts, _Histogram, _Collect)
}


class Aggregation:
    """Feeds results, in input order, to every reducer of a group's specs."""

    def __init__(self, specs: list[ReducerSpec]) -> None:
        self._reducers = [_CLASSES[s.reducer](s) for s in specs]
        self.inputs = 0

    def add(self, index: int, result: dict[str, Any]) -> None:
        """One successful input's result; fields it lacks (or holds null for) are skipped."""
        self.inputs += 1
        for reducer in self._reducers:
            field = reducer.spec.field
            if field == WHOLE_RESULT:
                reducer.add(index, result)
            elif result.get(field) is not None:
                reducer.add(index, result[field])

    def result(self) -> dict[str, Any]:
        """The aggregate: one key per spec."""
        return {r.spec.output_key: r.result() for r in self._reducers}


def reduce_results(specs: Iterable[str], results: Iterable[tuple[int, Any]]) -> bytes:
    """A group's aggregate as JSON: its `(index, result)` pairs, in input order, reduced.

    Raises AggregationError naming the input whose result a reducer cannot take, or
    saying why the reducers cannot finish: the results are the group's own data, so
    whatever a reducer raises on them it would raise again.
    """
    aggregation = Aggregation(parse_specs(specs))
    for index, result in results:
        try:
            aggregation.add(index, result)
        except AggregationError:
            raise
        except Exception as exc:
            raise AggregationError(
                f"input {index}: the reducers cannot take its result ({type(exc).__name__}: {exc})"
            ) from None
    try:
        # allow_nan=False: a sum of large finite floats can overflow to inf, not JSON.
        return json.dumps(aggregation.result(), sort_keys=True, allow_nan=False).encode()
    except Exception as exc:
        raise AggregationError(
            f"the reducers cannot finish ({type(exc).__name__}: {exc})"
        ) from None
