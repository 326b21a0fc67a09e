"""Jobs and their tasks: creation, snapshots, cancellation and the job's derived state.

Plain synchronous functions over a Session; the servicers call them through
`Database.run`. A job's state follows its tasks: `settle_job` is the one place that
derives it.
"""

from __future__ import annotations

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from runsurge.coordinator.auth import new_id
from runsurge.coordinator.views import ErrorView, JobView, TaskCounts
from runsurge.errors import Conflict, NotFound
from runsurge.store.blobs import BlobRef, BlobStore
from runsurge.store.models import Attempt, Job, Task, utcnow
from runsurge.store.states import AttemptState, JobState, TaskState, transition


def create_job(
    session: Session,
    consumer_id: str,
    *,
    kind: str,
    name: str,
    script_sha256: str,
    script_name: str,
) -> str:
    """A new job in SUBMITTING; its tasks are added as inputs arrive."""
    job_id = new_id()
    session.add(
        Job(
            id=job_id,
            consumer_id=consumer_id,
            kind=kind,
            name=name,
            script_sha256=script_sha256,
            script_name=script_name,
            state=JobState.SUBMITTING,
        )
    )
    return job_id


def add_tasks(
    session: Session, job_id: str, first_index: int, inputs: list[BlobRef], reservation: int
) -> None:
    """Add one task per input, numbered from `first_index` in input order."""
    session.add_all(
        Task(
            job_id=job_id,
            index=first_index + offset,
            input_sha256=ref.sha256,
            input_size=ref.size,
            memory_reservation_bytes=reservation,
            state=TaskState.QUEUED,
        )
        for offset, ref in enumerate(inputs)
    )


def seal_job(session: Session, job_id: str, task_count: int) -> None:
    """All inputs arrived: the job becomes schedulable."""
    job = _lock_job(session, job_id)
    job.task_count = task_count
    job.state = transition(job.state, JobState.QUEUED, f"job {job_id}")
    settle_job(session, job)


def abort_submission(session: Session, job_id: str, reason: str) -> None:
    """The upload broke off: the job fails and none of its tasks will run."""
    job = session.get(Job, job_id)
    if job is None or job.state is not JobState.SUBMITTING:
        return
    session.execute(
        update(Task)
        .where(Task.job_id == job_id, Task.state == TaskState.QUEUED)
        .values(state=TaskState.CANCELLED, finished_at=utcnow())
    )
    job.state = transition(job.state, JobState.FAILED, f"job {job_id}")
    job.error_kind, job.error_message = "SUBMISSION", reason
    job.finished_at = utcnow()


def task_counts(session: Session, job_id: str) -> TaskCounts:
    """Count a job's tasks per state."""
    rows = session.execute(
        select(Task.state, func.count()).where(Task.job_id == job_id).group_by(Task.state)
    ).all()
    by_state = {state: count for state, count in rows}
    return TaskCounts(
        total=sum(by_state.values()),
        queued=by_state.get(TaskState.QUEUED, 0),
        running=by_state.get(TaskState.RUNNING, 0),
        succeeded=by_state.get(TaskState.SUCCEEDED, 0),
        failed=by_state.get(TaskState.FAILED, 0),
        cancelled=by_state.get(TaskState.CANCELLED, 0),
    )


def settle_job(session: Session, job: Job) -> None:
    """Derive the job's state from its tasks' (the only place that does)."""
    if job.state.final or job.state is JobState.SUBMITTING:
        return
    counts = task_counts(session, job.id)
    if counts.running and job.state is JobState.QUEUED:
        job.state = transition(job.state, JobState.RUNNING, f"job {job.id}")
    finished = counts.succeeded + counts.failed + counts.cancelled
    if finished < counts.total:
        return
    target = JobState.FAILED if counts.failed or counts.cancelled else JobState.SUCCEEDED
    if counts.total == 0:
        target = JobState.SUCCEEDED
    job.state = transition(job.state, target, f"job {job.id}")
    job.finished_at = utcnow()


def _owned_job(session: Session, consumer_id: str, job_id: str) -> Job:
    job = session.get(Job, job_id)
    # Someone else's job is reported as missing: ids are not secrets, but existence
    # of other consumers' work should not leak either.
    if job is None or job.consumer_id != consumer_id:
        raise NotFound(f"no job with id {job_id!r}")
    return job


def _lock_job(session: Session, job_id: str) -> Job:
    job = session.scalar(select(Job).where(Job.id == job_id).with_for_update())
    if job is None:
        raise NotFound(f"no job with id {job_id!r}")
    return job


def job_view(
    session: Session, consumer_id: str, job_id: str, blobs: BlobStore, inline_limit: int
) -> JobView:
    """A consumer's view of one of their jobs."""
    return _view(session, _owned_job(session, consumer_id, job_id), blobs, inline_limit)


def _view(session: Session, job: Job, blobs: BlobStore, inline_limit: int) -> JobView:
    counts = task_counts(session, job.id)
    error: ErrorView | None = None
    result: bytes | None = None
    available = False
    if job.kind == "single" and job.state.final:
        task = session.scalar(select(Task).where(Task.job_id == job.id, Task.index == 0))
        if task is not None and task.state is TaskState.FAILED:
            error = ErrorView(
                task.error_kind, task.error_type, task.error_message, task.error_traceback
            )
        if task is not None and task.result_sha256:
            available = True
            if task.result_size <= inline_limit:
                with blobs.open(task.result_sha256) as f:
                    result = f.read()
    if error is None and job.error_kind:
        error = ErrorView(job.error_kind, "", job.error_message)
    return JobView(
        id=job.id,
        kind=job.kind,
        state=job.state,
        name=job.name,
        script_sha256=job.script_sha256,
        counts=counts,
        created_at=job.created_at,
        finished_at=job.finished_at,
        error=error,
        result_json=result,
        result_available=available,
    )


def list_jobs(
    session: Session, consumer_id: str, limit: int, blobs: BlobStore, inline_limit: int
) -> list[JobView]:
    """The consumer's most recent jobs, newest first."""
    jobs = session.scalars(
        select(Job)
        .where(Job.consumer_id == consumer_id)
        .order_by(Job.created_at.desc())
        .limit(limit)
    ).all()
    return [_view(session, job, blobs, inline_limit) for job in jobs]


def result_ref(session: Session, consumer_id: str, job_id: str, index: int) -> str:
    """The blob hash of one task's result; NotFound while there is none."""
    job = _owned_job(session, consumer_id, job_id)
    task = session.scalar(select(Task).where(Task.job_id == job.id, Task.index == index))
    if task is None:
        raise NotFound(f"job {job_id} has no input number {index}")
    if not task.result_sha256:
        state = task.state.value.lower()
        raise NotFound(f"job {job_id} input {index} has no result ({state})")
    return task.result_sha256


def cancel_job(session: Session, consumer_id: str, job_id: str) -> list[tuple[int, str]]:
    """Cancel a job's unfinished tasks; return the running (attempt, contributor) pairs.

    The caller tells those contributors to stop. Cancelling a finished job is a Conflict.
    """
    job = _owned_job(session, consumer_id, job_id)
    job = _lock_job(session, job.id)
    if job.state.final:
        raise Conflict(f"job {job_id} already {job.state.value.lower()}")
    now = utcnow()
    running = session.execute(
        select(Attempt.id, Attempt.contributor_id)
        .join(Task, Task.id == Attempt.task_id)
        .where(Task.job_id == job_id, Attempt.state == AttemptState.RUNNING)
    ).all()
    session.execute(
        update(Attempt)
        .where(Attempt.id.in_([a for a, _ in running]))
        .values(state=AttemptState.CANCELLED, outcome="CANCELLED", finished_at=now)
    )
    session.execute(
        update(Task)
        .where(Task.job_id == job_id, Task.state.in_([TaskState.QUEUED, TaskState.RUNNING]))
        .values(state=TaskState.CANCELLED, finished_at=now, error_kind="CANCELLED")
    )
    job.state = transition(job.state, JobState.CANCELLED, f"job {job_id}")
    job.finished_at = now
    return [(attempt_id, contributor_id) for attempt_id, contributor_id in running]
