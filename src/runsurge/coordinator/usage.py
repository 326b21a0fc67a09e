"""Usage a contributor reports: recorded once per attempt, and only within its limits.

Billing charges for what is stored here, and contributors may lie, so a report's
usage is written only by the report that settles the attempt (a late or duplicate
report never overwrites it) and is clamped, never refused: the result is the
consumer's work and was checked on its own; a bad meter must not rerun good work.

| figure | kept within |
|---|---|
| every number | finite and non-negative (NaN, inf or negative count as 0) |
| wall seconds | the lease window: started_at .. now, plus `WALL_SLACK_SECONDS` |
| CPU seconds | the attempt's CPU limit plus `WALL_SLACK_SECONDS` |
| peak memory | the attempt's memory limit plus `memory_slack(limit)` |
| average memory | the peak |

A clamped report is logged with its attempt and contributor, and its
`memory_source` is marked "clamped".
"""

from __future__ import annotations

import datetime as dt
import logging
import math

from runsurge.coordinator.views import FinishedAttempt
from runsurge.store.models import Attempt

log = logging.getLogger(__name__)

# Timers on the agent and the coordinator's clock disagree a little.
WALL_SLACK_SECONDS = 5.0
_MiB = 1024 * 1024


def memory_slack(limit_bytes: int) -> int:
    """How far a reported peak may exceed the memory limit (sampling counts shared pages)."""
    return max(64 * _MiB, limit_bytes // 10)


def _sane(value: float, ceiling: float) -> float:
    if not math.isfinite(value) or value < 0:
        return 0.0
    return min(value, ceiling)


def record_usage(attempt: Attempt, report: FinishedAttempt, now: dt.datetime) -> None:
    """Store the report's usage on the attempt that it settles, clamped (see above)."""
    elapsed = max(0.0, (now - attempt.started_at).total_seconds())
    wall = _sane(report.wall_seconds, elapsed + WALL_SLACK_SECONDS)
    cpu = _sane(report.cpu_seconds, attempt.policy_cpu_seconds + WALL_SLACK_SECONDS)
    memory_ceiling = attempt.policy_memory_bytes + memory_slack(attempt.policy_memory_bytes)
    peak = int(_sane(float(report.peak_memory_bytes), memory_ceiling))
    average = int(_sane(float(report.average_memory_bytes), peak))
    reported = (
        report.wall_seconds,
        report.cpu_seconds,
        report.peak_memory_bytes,
        report.average_memory_bytes,
    )
    source = report.memory_source[:32]
    if (wall, cpu, peak, average) != reported:
        log.warning(
            "attempt %s of contributor %s reported impossible usage %s; kept %s",
            attempt.id,
            attempt.contributor_id,
            reported,
            (wall, cpu, peak, average),
        )
        source = f"{report.memory_source[:20]} clamped".strip()
    attempt.wall_seconds, attempt.cpu_seconds = wall, cpu
    attempt.peak_memory_bytes, attempt.average_memory_bytes = peak, average
    attempt.memory_source = source
