"""Tasks no connected agent can hold: say why they wait, and fail them after a while.

A queued task whose memory reservation exceeds the largest offer among the connected
agents cannot start anywhere. Its job then carries a waiting reason that the consumer
sees (`runsurge status`), and `unplaceable_since`, when that began; once a job has had
such tasks for `unplaceable_timeout_seconds` without a break they fail, naming their
reservation and the largest offer. The clock runs only while some agent is connected
(no agent at all is an outage, not a task too big), and stops as soon as an agent
that fits connects. A reservation that only a static prior raised above every offer is
lowered to the largest offer instead (`lower_priors`). Queued tasks above an offer are
found through the `tasks(state, memory_reservation_bytes)` index, active jobs through
`jobs.state`.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from runsurge.config import format_size
from runsurge.coordinator.attempts import Settlement
from runsurge.coordinator.fairness import SCHEDULABLE_JOBS
from runsurge.coordinator.jobs import lock_job, move_task, settle_job
from runsurge.coordinator.reservations import RESERVATION_STEP
from runsurge.kinds import EstimateSource
from runsurge.store.models import Contributor, Job, Task, utcnow
from runsurge.store.states import ContributorState, JobState, TaskState
from runsurge.tasklog import TaskIds

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Unplaceable:
    """A job with queued tasks too large for every connected agent."""

    job_id: str
    tasks: int
    largest_reservation: int


def waiting_reason(found: Unplaceable, largest_offer: int) -> str:
    """What the consumer reads while such a job waits."""
    noun = "task needs" if found.tasks == 1 else f"{found.tasks} tasks need up to"
    return (
        f"waiting: {noun} {format_size(found.largest_reservation)} of memory, more than "
        f"any connected contributor offers (largest: {format_size(largest_offer)})"
    )


def largest_placeable_offer(session: Session, offers: dict[str, int]) -> int | None:
    """The largest offer among connected agents that may take work (ONLINE), or None.

    A draining, suspect or quarantined agent's memory is no place for a waiting task;
    when no connected agent may take work the clock stops, as in an outage.
    """
    if not offers:
        return None
    placeable = session.scalars(
        select(Contributor.id).where(
            Contributor.id.in_(list(offers)), Contributor.state == ContributorState.ONLINE
        )
    ).all()
    return max((offers[c] for c in placeable), default=None)


def check_placement(
    session: Session, largest_offer: int | None, timeout_seconds: float
) -> list[str]:
    """Mark and clear waiting reasons; return the jobs whose unplaceable tasks are overdue.

    `largest_offer` is None when no agent is connected: every reason and clock is
    cleared, since an outage says nothing about whether a task fits.
    """
    now = utcnow()
    if largest_offer is not None:
        lower_priors(session, largest_offer)
    found = (
        {} if largest_offer is None else {u.job_id: u for u in _unplaceable(session, largest_offer)}
    )
    flagged = session.scalars(
        select(Job).where(Job.state.in_(SCHEDULABLE_JOBS), Job.unplaceable_since.is_not(None))
    ).all()
    for job in flagged:
        if job.id not in found:
            job.unplaceable_since, job.waiting_reason = None, ""
    overdue = []
    for job_id, unplaceable in found.items():
        waiting = session.get(Job, job_id)
        assert waiting is not None and largest_offer is not None
        if waiting.unplaceable_since is None:
            waiting.unplaceable_since = now
        waiting.waiting_reason = waiting_reason(unplaceable, largest_offer)
        if waiting.unplaceable_since <= now - dt.timedelta(seconds=timeout_seconds):
            overdue.append(job_id)
    return overdue


def lower_priors(session: Session, largest_offer: int) -> int:
    """Lower to `largest_offer` the queued reservations that only a prior raised above it.

    A static prior is a guess (starting_estimates.py): it must not fail a task that
    may well fit. The task runs at the largest offer, where a real out-of-memory kill,
    measured by the kernel, is what ends it if the guess was right. A reservation the
    prior did not raise (the coordinator's default, above its estimate) is the
    operator's setting, and waits and fails as configured.
    """
    lowered = session.execute(
        update(Task)
        .where(
            Task.state == TaskState.QUEUED,
            Task.estimate_method == EstimateSource.STATIC,
            Task.memory_reservation_bytes > largest_offer,
            # Raised by the prior: the reservation is its estimate in whole steps.
            Task.memory_reservation_bytes < Task.estimate_bytes + RESERVATION_STEP,
        )
        .values(memory_reservation_bytes=largest_offer)
    )
    return int(getattr(lowered, "rowcount", 0) or 0)


def fail_unplaceable(session: Session, job_id: str, largest_offer: int) -> Settlement:
    """Fail the job's queued tasks that exceed `largest_offer`, each saying why."""
    job = lock_job(session, job_id)
    now = utcnow()
    waited = (now - job.unplaceable_since).total_seconds() if job.unplaceable_since else 0.0
    tasks = session.scalars(
        select(Task)
        .where(
            Task.job_id == job_id,
            Task.state == TaskState.QUEUED,
            Task.memory_reservation_bytes > largest_offer,
        )
        .with_for_update()
        .execution_options(populate_existing=True)
    ).all()
    for task in tasks:
        move_task(job, task, TaskState.FAILED)
        task.finished_at = now
        task.error_kind, task.error_type, task.error_traceback = "UNPLACEABLE", "", ""
        task.error_message = (
            f"no contributor can run this task: it reserves "
            f"{format_size(task.memory_reservation_bytes)} of memory and the largest "
            f"connected contributor offers {format_size(largest_offer)}; "
            f"gave up after {waited:.0f} s (unplaceable_timeout_seconds)"
        )
        ids = TaskIds(job_id, task.index)
        log.warning("%s failed: %s", ids, task.error_message, extra=ids.extra)
    job.unplaceable_since, job.waiting_reason = None, ""
    cancel = settle_job(session, job)
    return Settlement(job.id, cancel, job.state is JobState.AGGREGATING)


def _unplaceable(session: Session, largest_offer: int) -> list[Unplaceable]:
    rows = session.execute(
        select(
            Task.job_id,
            func.count(Task.id).label("tasks"),
            func.max(Task.memory_reservation_bytes).label("largest"),
        )
        .join(Job, Job.id == Task.job_id)
        .where(
            Task.state == TaskState.QUEUED,
            Task.memory_reservation_bytes > largest_offer,
            Job.state.in_(SCHEDULABLE_JOBS),
        )
        .group_by(Task.job_id)
    ).all()
    return [Unplaceable(row.job_id, row.tasks, row.largest) for row in rows]
