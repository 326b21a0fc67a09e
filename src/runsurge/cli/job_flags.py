"""The per-job option flags of `runsurge submit`, turned into the SDK's keyword arguments.

A flag that does not parse is refused here, naming it, before anything connects; a
value above the coordinator's maximum is refused by the coordinator (exit code 2).
"""

from __future__ import annotations

from typing import Annotated

import typer

from runsurge.client._options import JobOptions, parse_labels
from runsurge.config import parse_seconds
from runsurge.errors import ConfigError, InvalidRequest

WallTimeOpt = Annotated[
    str | None,
    typer.Option(
        "--wall-time",
        help="Wall-clock limit of each task, e.g. 30s, 5m (at most the coordinator's).",
        show_default=False,
    ),
]
CpuTimeOpt = Annotated[
    str | None,
    typer.Option(
        "--cpu-time",
        help="CPU-time limit of each task, e.g. 30s, 5m (at most the coordinator's).",
        show_default=False,
    ),
]
MaxAttemptsOpt = Annotated[
    int | None,
    typer.Option(
        "--max-attempts",
        min=1,
        help="Attempts a task gets before it fails (at most the coordinator's).",
        show_default=False,
    ),
]
PriorityOpt = Annotated[
    int,
    typer.Option(
        "--priority", help="Higher runs first, among your own jobs only (others' are unaffected)."
    ),
]
LabelOpt = Annotated[
    list[str] | None,
    typer.Option(
        "--label",
        "-l",
        help="KEY=VALUE shown in listings (status --json, jobs --json); repeatable.",
        show_default=False,
    ),
]
IdempotencyKeyOpt = Annotated[
    str | None,
    typer.Option(
        "--idempotency-key",
        help="Submitting again with the same key returns the first job instead of a new one.",
        show_default=False,
    ),
]


def job_options(
    wall_time: str | None,
    cpu_time: str | None,
    max_attempts: int | None,
    priority: int,
    labels: list[str] | None,
    idempotency_key: str | None,
) -> JobOptions:
    """The SDK keyword arguments of the flags; InvalidRequest naming a flag that is wrong."""
    return JobOptions(
        wall_time=_seconds("--wall-time", wall_time),
        cpu_time=_seconds("--cpu-time", cpu_time),
        max_attempts=max_attempts,
        priority=priority,
        labels=parse_labels(labels or []),
        idempotency_key=idempotency_key or None,
    )


def _seconds(flag: str, text: str | None) -> float | None:
    if text is None:
        return None
    try:
        return parse_seconds(text)
    except ConfigError as exc:
        raise InvalidRequest(f"{flag}: {exc}") from None
