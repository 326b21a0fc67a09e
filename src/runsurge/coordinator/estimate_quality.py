"""How good the memory estimates have been: coverage and tightness, per method.

The estimator promises an upper bound (docs/estimator.md): a task's kernel-measured
peak should stay within its estimate (coverage) without the estimate being much larger
(tightness, estimate/peak). Both are read from the newest succeeded tasks that had an
estimate, per method, when Prometheus scrapes (metrics.py), so an operator sees at once
when a kind of evidence starts to mislead, on any coordinator, after any restart.
"""

from __future__ import annotations

import statistics
from collections import defaultdict
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from runsurge.kinds import OutcomeKind, TaskKind
from runsurge.store.models import Attempt, Task

WINDOW = 1000  # the newest succeeded, estimated tasks that count


@dataclass(frozen=True)
class EstimateQuality:
    """One method's record over the window."""

    tasks: int
    coverage: float  # the share whose peak stayed within the estimate
    median_ratio: float  # estimate / peak


def read_quality(session: Session, window: int = WINDOW) -> dict[str, EstimateQuality]:
    """Per estimate method, how the newest `window` estimated tasks' peaks compared."""
    rows = session.execute(
        select(Task.estimate_method, Task.estimate_bytes, Attempt.peak_memory_bytes)
        .join(Attempt, Attempt.task_id == Task.id)
        .where(
            Task.kind == TaskKind.PROCESS,
            Task.estimate_bytes > 0,
            Attempt.outcome == OutcomeKind.OK,
            Attempt.peak_memory_bytes > 0,
        )
        .order_by(Attempt.id.desc())
        .limit(window)
    ).all()
    by_method: dict[str, list[tuple[int, int]]] = defaultdict(list)
    for method, estimate, peak in rows:
        by_method[method.value].append((estimate, peak))
    return {
        method: EstimateQuality(
            tasks=len(pairs),
            coverage=sum(peak <= estimate for estimate, peak in pairs) / len(pairs),
            median_ratio=statistics.median(estimate / peak for estimate, peak in pairs),
        )
        for method, pairs in by_method.items()
    }
