"""Which queued task runs next: fair between consumers, then between their jobs.

A big group must not hold up everyone else. The next task comes from the consumer
with the fewest tasks running now, and within that consumer from the job with the
fewest running (a single job submitted behind a 100,000-input group starts at the
next free slot); ties go to the older job, and within a job tasks run in input
order. A group's aggregate task counts as a job with nothing running, so fan-ins
finish promptly. Everything is read from the per-job counters, so choosing costs a
scan of the active jobs, not of their tasks.
"""

from __future__ import annotations

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from runsurge.store.models import Job, Task
from runsurge.store.states import JobState, TaskState

SCHEDULABLE_JOBS = (JobState.QUEUED, JobState.RUNNING, JobState.AGGREGATING)
CANDIDATE_JOBS = 32  # jobs tried, in fairness order, before giving up this round


def fair_job_order(session: Session) -> list[str]:
    """Active jobs with work waiting, the most deserving first."""
    busy = (
        select(Job.consumer_id, func.sum(Job.running_count).label("running"))
        .where(Job.state.in_(SCHEDULABLE_JOBS))
        .group_by(Job.consumer_id)
        .subquery()
    )
    rows = session.execute(
        select(Job.id)
        .join(busy, busy.c.consumer_id == Job.consumer_id)
        .where(
            Job.state.in_(SCHEDULABLE_JOBS),
            or_(Job.queued_count > 0, Job.state == JobState.AGGREGATING),
        )
        .order_by(busy.c.running, Job.running_count, Job.created_at, Job.id)
        .limit(CANDIDATE_JOBS)
    ).all()
    return [row.id for row in rows]


def next_task(session: Session, max_reservation_bytes: int) -> tuple[int, str] | None:
    """(task id, job id) of the next queued task that fits the reservation, or None."""
    for job_id in fair_job_order(session):
        task_id = session.scalar(
            select(Task.id)
            .where(
                Task.job_id == job_id,
                Task.state == TaskState.QUEUED,
                Task.memory_reservation_bytes <= max_reservation_bytes,
            )
            .order_by(Task.index)
            .limit(1)
        )
        if task_id is not None:
            return task_id, job_id
    return None
