"""Which queued task runs next: fair between consumers, then between their jobs.

A big group must not hold up everyone else. The next task comes from the consumer
with the fewest tasks running now, and within that consumer from the job with the
fewest running, then from the job that has had the fewest tasks so far (a single
job submitted behind a 100,000-input group starts at the next free slot, even when
that slot is a machine's only one and the group runs nothing at that instant); ties
go to the older job, and within a job tasks run in input order. A group's aggregate
task counts as a job with nothing running, so fan-ins finish promptly.

A job's priority (`--priority`, higher first) orders only its own consumer's jobs:
the consumer is chosen exactly as without priorities, then that consumer's job with
the highest priority runs, the fair order above breaking ties. A consumer cannot
gain a larger share by raising priorities, only choose what its share runs first.

Only jobs that can run something now are ranked: the SQL keeps a job only when it has
a QUEUED task that fits the free memory (an EXISTS on the tasks' job/state index), so
runnable work is found in one query whatever sits in front of it: jobs whose tasks
are too big, groups waiting for their fan-in, any number of them. The ranking reads
the per-job counters, not the tasks.
"""

from __future__ import annotations

import functools

from sqlalchemy import BindParameter, Select, bindparam, exists, func, or_, select
from sqlalchemy.orm import Session

from runsurge.store.models import Job, Task
from runsurge.store.states import JobState, TaskState

SCHEDULABLE_JOBS = (JobState.QUEUED, JobState.RUNNING, JobState.AGGREGATING)


def fair_job_order(session: Session, max_reservation_bytes: int | None = None) -> list[str]:
    """Active jobs with a queued task that fits (any size when None), most deserving first."""
    return list(session.scalars(_ranked_jobs(max_reservation_bytes)).all())


def _ranked_jobs(
    max_reservation_bytes: int | BindParameter[int] | None,
    consumer_id: str | BindParameter[str] | None = None,
) -> Select[str]:
    busy = (
        select(Job.consumer_id, func.sum(Job.running_count).label("running"))
        .where(Job.state.in_(SCHEDULABLE_JOBS))
        .group_by(Job.consumer_id)
        .subquery()
    )
    fitting = select(Task.id).where(Task.job_id == Job.id, Task.state == TaskState.QUEUED)
    if max_reservation_bytes is not None:
        fitting = fitting.where(Task.memory_reservation_bytes <= max_reservation_bytes)
    query = (
        select(Job.id)
        .join(busy, busy.c.consumer_id == Job.consumer_id)
        .where(
            Job.state.in_(SCHEDULABLE_JOBS),
            # The counters leave out the aggregate task, hence the AGGREGATING arm;
            # the EXISTS then keeps only jobs with a task that can run now.
            or_(Job.queued_count > 0, Job.state == JobState.AGGREGATING),
            exists(fitting),
        )
    )
    fair = (
        Job.running_count,
        Job.task_count - Job.queued_count,  # tasks it already had (running or done)
        Job.created_at,
        Job.id,
    )
    if consumer_id is None:
        return query.order_by(busy.c.running, *fair)
    return query.where(Job.consumer_id == consumer_id).order_by(Job.priority.desc(), *fair)


def next_task(session: Session, max_reservation_bytes: int) -> tuple[int, str] | None:
    """(task id, job id) of the next queued task that fits the reservation, or None."""
    fits = {"max_reservation": max_reservation_bytes}
    fairest = session.scalar(_first_ranked_job(), fits)
    if fairest is None:
        return None
    # The fair order picks the consumer; its own priorities pick among its jobs.
    consumer_id = session.scalar(_consumer_of_job(), {"job_id": fairest})
    job_id = session.scalar(_first_ranked_job_of(), {**fits, "consumer_id": consumer_id})
    if job_id is None:
        return None
    task_id = session.scalar(_first_fitting_task(), {**fits, "job_id": job_id})
    return None if task_id is None else (task_id, job_id)


# Claims run these for every task they take: built once, with bound parameters,
# since building a statement of this size costs more than running it.
@functools.cache
def _first_ranked_job() -> Select[str]:
    return _ranked_jobs(bindparam("max_reservation")).limit(1)


@functools.cache
def _first_ranked_job_of() -> Select[str]:
    return _ranked_jobs(bindparam("max_reservation"), bindparam("consumer_id")).limit(1)


@functools.cache
def _consumer_of_job() -> Select[str]:
    return select(Job.consumer_id).where(Job.id == bindparam("job_id"))


@functools.cache
def _first_fitting_task() -> Select[int]:
    return (
        select(Task.id)
        .where(
            Task.job_id == bindparam("job_id"),
            Task.state == TaskState.QUEUED,
            Task.memory_reservation_bytes <= bindparam("max_reservation"),
        )
        .order_by(Task.index)
        .limit(1)
    )
