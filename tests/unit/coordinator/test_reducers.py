"""Built-in reducers: what each computes, and the errors a wrong type gets."""

from __future__ import annotations

from typing import Any

import pytest

from runsurge.coordinator.reducers import Aggregation, AggregationError, parse_specs
from runsurge.errors import InvalidRequest

RESULTS: list[dict[str, Any]] = [
    {"words": 3, "lines": 1, "top": {"a": 2, "b": 1}, "tags": ["x"], "lang": "en", "t": 0.5},
    {"words": 5, "lines": 2, "top": {"a": 1, "c": 4}, "tags": [], "lang": "fr", "t": 1.5},
    {"words": 0, "lines": 0, "top": {}, "tags": ["y", "z"], "lang": "en"},
]


def aggregate(*specs: str, results: list[dict[str, Any]] = RESULTS) -> dict[str, Any]:
    aggregation = Aggregation(parse_specs(specs))
    for index, result in enumerate(results):
        aggregation.add(index, result)
    return aggregation.result()


def test_every_builtin_reducer() -> None:
    assert aggregate("words=sum", "lines=sum") == {"words": 8, "lines": 3}
    assert aggregate("t=mean") == {"t": 1.0}
    assert aggregate("words=min", "lang=max") == {"words": 0, "lang": "fr"}
    assert aggregate("t=count", "*=count") == {"t": 2, "count": 3}
    assert aggregate("tags=concat") == {"tags": ["x", "y", "z"]}
    assert aggregate("top=merge_counts") == {"top": {"c": 4, "a": 3, "b": 1}}
    assert aggregate("lang=histogram") == {"lang": {"en": 2, "fr": 1}}
    assert aggregate("lang=collect") == {"lang": ["en", "fr", "en"]}
    assert aggregate("*=collect")["results"] == RESULTS


def test_one_field_with_several_reducers_gets_dotted_keys() -> None:
    assert aggregate("words=sum", "words=max", "lines=sum") == {
        "words.sum": 8,
        "words.max": 5,
        "lines": 3,
    }


def test_empty_group_aggregates_to_neutral_values() -> None:
    assert aggregate("words=sum", "t=mean", "words=max", "*=count", results=[]) == {
        "words.sum": 0,
        "t": None,
        "words.max": None,
        "count": 0,
    }


@pytest.mark.parametrize(
    ("spec", "bad", "message"),
    [
        ("words=sum", {"words": "3"}, 'input 1 has str "3", sum needs numbers'),
        ("words=sum", {"words": True}, "sum needs numbers"),
        ("lang=min", {"lang": 3}, "min needs strings like the inputs before it"),
        ("tags=concat", {"tags": "x"}, "concat needs lists"),
        ("top=merge_counts", {"top": {"a": "1"}}, "merge_counts needs dicts of numbers"),
        ("lang=histogram", {"lang": [1]}, "histogram needs strings"),
    ],
)
def test_wrong_types_name_the_input_field_and_reducer(
    spec: str, bad: dict[str, Any], message: str
) -> None:
    first = {"words": 1, "lang": "en", "tags": [], "top": {}}
    with pytest.raises(AggregationError, match=message):
        aggregate(spec, results=[first, bad])


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("words", "not FIELD=REDUCER"),
        ("=sum", "not FIELD=REDUCER"),
        ("words=median", "unknown reducer 'median'"),
        ("*=sum", "count and collect only"),
    ],
)
def test_bad_specs_are_refused(spec: str, message: str) -> None:
    with pytest.raises(InvalidRequest, match=message):
        parse_specs([spec])


def test_duplicate_specs_are_refused() -> None:
    with pytest.raises(InvalidRequest, match="given twice"):
        parse_specs(["words=sum", "words=SUM"])
