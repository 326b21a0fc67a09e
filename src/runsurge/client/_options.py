"""Per-job options as SDK keyword arguments, checked here and sent in the JobSpec.

The SDK checks what it can without asking (a duration that does not parse, a label
that is not text); the coordinator checks the rest against its own maxima and
refuses a value above them with INVALID_ARGUMENT naming the option and the maximum
(docs/sdk.md, "Per-job options").
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypedDict

from runsurge.config import parse_seconds
from runsurge.errors import ConfigError, InvalidRequest


class JobLimits(TypedDict, total=False):
    """Options that apply to every job a `Pool` submits, and to `submit`/`map` calls."""

    wall_time: float | str | None  # seconds, or "30s", "5m", "1h"
    cpu_time: float | str | None
    max_attempts: int | None
    priority: int  # higher first, among your own jobs only
    labels: Mapping[str, str] | None


class JobOptions(JobLimits, total=False):
    """The keyword arguments of `Client.submit`, `submit_group` and `map`."""

    idempotency_key: str | None  # a second submit with the same key returns the first job


class LocalOptions(TypedDict, total=False):
    """The keyword arguments of `Client(local=True)` (docs/sdk.md, "Local mode")."""

    workers: int | None  # inputs run at once; default: this machine's cores
    memory_budget: int | str | None  # memory limits held at once; default: 80 % of RAM
    scan: bool  # also apply the coordinator's Semgrep rules
    require_sandbox: bool  # refuse where this host cannot sandbox


def spec_fields(options: Mapping[str, object]) -> dict[str, Any]:
    """The JobSpec fields of `options`; InvalidRequest naming the argument at fault."""
    unknown = set(options) - set(JobOptions.__annotations__)
    if unknown:
        raise TypeError(f"unexpected keyword argument(s): {', '.join(sorted(unknown))}")
    fields: dict[str, Any] = {
        "wall_seconds": _seconds("wall_time", options.get("wall_time")),
        "cpu_seconds": _seconds("cpu_time", options.get("cpu_time")),
        "max_attempts": _max_attempts(options.get("max_attempts")),
        "priority": _priority(options.get("priority", 0)),
        "labels": _labels(options.get("labels")),
    }
    key = options.get("idempotency_key")
    if key is not None and (not isinstance(key, str) or not key):
        raise InvalidRequest(f"idempotency_key must be a non-empty str, not {key!r}")
    fields["idempotency_key"] = key or ""
    return fields


def _seconds(name: str, value: object) -> float:
    if value is None:
        return 0.0
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise InvalidRequest(f"{name} must be seconds or a duration such as '30s', not {value!r}")
    try:
        return parse_seconds(value)
    except ConfigError as exc:
        raise InvalidRequest(f"{name}: {exc}") from None


def _max_attempts(value: object) -> int:
    if value is None:
        return 0
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise InvalidRequest(f"max_attempts must be an int of at least 1, not {value!r}")
    return value


def _priority(value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not -(2**31) <= value < 2**31:
        raise InvalidRequest(f"priority must be an int that fits in 32 bits, not {value!r}")
    return value


def _labels(labels: object) -> dict[str, str]:
    if labels is None:
        return {}
    if not isinstance(labels, Mapping):
        raise InvalidRequest(f"labels must be a dict of str to str, not {type(labels).__name__}")
    for key, value in labels.items():
        if not isinstance(key, str) or not isinstance(value, str):
            raise InvalidRequest(f"labels must map str to str; {key!r}: {value!r} does not")
    return {str(k): str(v) for k, v in labels.items()}


def parse_labels(pairs: list[str]) -> dict[str, str]:
    """`--label key=value` flags as a dict; InvalidRequest for one without '='."""
    labels: dict[str, str] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise InvalidRequest(f"--label {pair!r}: use key=value")
        labels[key] = value
    return labels
