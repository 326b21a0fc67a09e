"""The estimator's safety margins, calibrated from the coordinator's own record.

A margin widens a raw prediction into an upper bound (runsurge.estimate.margin): it is
a high quantile of actual peak / raw prediction, blended with a prior while there are
few ratios. The library's priors were measured on the benchmark corpus; here every
succeeded task that had an estimate adds its ratio, per method, so the margins follow
the workloads this coordinator actually runs, and survive a restart because they are
read from the database. Ratios reveal no sizes, so every tenant's count.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from runsurge.estimate import Estimator
from runsurge.estimate.margin import Margin
from runsurge.kinds import EstimateSource, OutcomeKind, TaskKind
from runsurge.store.models import Attempt, Task

# The methods whose margin the coordinator applies itself (probes are widened on the
# contributor that ran them, declared maxima never are).
CALIBRATED = {EstimateSource.HISTORY: "history", EstimateSource.STATIC: "static"}
WINDOW = 500  # the newest ratios per method, as Margin keeps


def calibrated_margins(session: Session) -> dict[str, Margin]:
    """The estimator's margins with the newest observed ratios of each method fed in."""
    margins = Estimator().margins
    for source, key in CALIBRATED.items():
        rows = session.execute(
            select(Attempt.peak_memory_bytes, Task.estimate_raw_bytes)
            .join(Task, Task.id == Attempt.task_id)
            .where(
                Task.kind == TaskKind.PROCESS,
                Task.estimate_method == source,
                Task.estimate_raw_bytes > 0,
                Attempt.outcome == OutcomeKind.OK,
                Attempt.peak_memory_bytes > 0,
            )
            .order_by(Attempt.id.desc())
            .limit(WINDOW)
        ).all()
        for peak, raw in reversed(rows):  # oldest first, as they happened
            margins[key].observe(peak, raw)
    return margins
