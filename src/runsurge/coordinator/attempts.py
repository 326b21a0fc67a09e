"""Attempts: claiming a queued task for a contributor and recording how it ended.

A claim moves the task to RUNNING and creates the attempt with its lease in one
transaction (with `FOR UPDATE SKIP LOCKED` on PostgreSQL, so two schedulers never take
the same task). A task's result is recorded once: only the attempt that is still
RUNNING may settle its task; late reports from lost or cancelled attempts are ignored.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from runsurge.coordinator import retries
from runsurge.coordinator.jobs import settle_job
from runsurge.coordinator.views import AssignmentView, FinishedAttempt
from runsurge.errors import InvalidRequest
from runsurge.store.blobs import BlobStore
from runsurge.store.models import Attempt, Job, Task, utcnow
from runsurge.store.states import AttemptState, JobState, TaskState, transition

log = logging.getLogger(__name__)

MAX_LOG_BYTES_KEPT = 64 * 1024


@dataclass(frozen=True)
class RetryLimits:
    """How often and how large a task may be retried."""

    max_attempts: int
    max_reservation_bytes: int


def claim_task(
    session: Session,
    contributor_id: str,
    free_memory_bytes: int,
    lease_seconds: float,
) -> AssignmentView | None:
    """Take the oldest queued task that fits in `free_memory_bytes`, or None."""
    query = (
        select(Task, Job)
        .join(Job, Job.id == Task.job_id)
        .where(
            Task.state == TaskState.QUEUED,
            Job.state.in_([JobState.QUEUED, JobState.RUNNING]),
            Task.memory_reservation_bytes <= free_memory_bytes,
        )
        .order_by(Task.id)
        .limit(1)
    )
    if session.get_bind().dialect.name == "postgresql":
        query = query.with_for_update(skip_locked=True, of=Task)
    row = session.execute(query).first()
    if row is None:
        return None
    task, job = row.tuple()
    now = utcnow()
    task.state = transition(task.state, TaskState.RUNNING, f"task {task.id}")
    task.attempt_count += 1
    attempt = Attempt(
        task_id=task.id,
        contributor_id=contributor_id,
        state=AttemptState.RUNNING,
        memory_reservation_bytes=task.memory_reservation_bytes,
        started_at=now,
        lease_expires_at=now + dt.timedelta(seconds=lease_seconds),
    )
    session.add(attempt)
    session.flush()
    if job.state is JobState.QUEUED:
        job.state = transition(job.state, JobState.RUNNING, f"job {job.id}")
    return AssignmentView(
        attempt_id=attempt.id,
        job_id=job.id,
        task_index=task.index,
        script_sha256=job.script_sha256,
        script_name=job.script_name,
        input_sha256=task.input_sha256,
        input_size=task.input_size,
        memory_bytes=task.memory_reservation_bytes,
    )


def finish_attempt(
    session: Session,
    contributor_id: str,
    report: FinishedAttempt,
    blobs: BlobStore,
    limits: RetryLimits,
) -> str | None:
    """Record a contributor's report; return the job id if the job may have changed."""
    attempt = session.get(Attempt, report.attempt_id, with_for_update=True)
    if attempt is None or attempt.contributor_id != contributor_id:
        raise InvalidRequest(f"attempt {report.attempt_id} is not assigned to you")
    _record_usage(attempt, report)
    if attempt.state is not AttemptState.RUNNING:
        log.info("ignoring late report for attempt %s (%s)", attempt.id, attempt.state.value)
        return None
    task = session.get(Task, attempt.task_id, with_for_update=True)
    assert task is not None
    task.logs = report.logs[-MAX_LOG_BYTES_KEPT:]
    if report.outcome == "OK":
        _succeed(attempt, task, report, blobs)
    else:
        _fail(session, attempt, task, report, limits)
    job = session.get(Job, task.job_id)
    assert job is not None
    settle_job(session, job)
    return job.id


def _record_usage(attempt: Attempt, report: FinishedAttempt) -> None:
    attempt.wall_seconds = max(0.0, report.wall_seconds)
    attempt.cpu_seconds = max(0.0, report.cpu_seconds)
    attempt.peak_memory_bytes = max(0, report.peak_memory_bytes)
    attempt.average_memory_bytes = max(0, report.average_memory_bytes)
    attempt.memory_source = report.memory_source[:32]


def _succeed(attempt: Attempt, task: Task, report: FinishedAttempt, blobs: BlobStore) -> None:
    if report.result_json is not None and not report.result_sha256:
        ref = blobs.put(report.result_json)
        sha, size = ref.sha256, ref.size
    elif report.result_sha256 and blobs.exists(report.result_sha256):
        sha, size = report.result_sha256, blobs.size(report.result_sha256)
    else:
        raise InvalidRequest(f"attempt {attempt.id} reported OK without a stored result")
    now = utcnow()
    attempt.state = transition(attempt.state, AttemptState.SUCCEEDED, f"attempt {attempt.id}")
    attempt.outcome, attempt.finished_at = "OK", now
    task.state = transition(task.state, TaskState.SUCCEEDED, f"task {task.id}")
    task.result_sha256, task.result_size, task.finished_at = sha, size, now
    task.error_kind = task.error_type = task.error_message = task.error_traceback = ""


def _fail(
    session: Session, attempt: Attempt, task: Task, report: FinishedAttempt, limits: RetryLimits
) -> None:
    now = utcnow()
    outcome = report.outcome
    target = AttemptState.CANCELLED if outcome == "CANCELLED" else AttemptState.FAILED
    attempt.state = transition(attempt.state, target, f"attempt {attempt.id}")
    attempt.outcome, attempt.finished_at = outcome, now
    error = report.error
    task.error_kind = outcome
    task.error_type = error.type if error else ""
    task.error_message = error.message if error else ""
    task.error_traceback = error.traceback if error else ""
    if outcome == "CANCELLED":
        # The agent stopped on its own (shutdown): someone else may run the task.
        outcome = "LOST"
    requeue_or_fail(task, outcome, limits)


def requeue_or_fail(task: Task, outcome: str, limits: RetryLimits) -> None:
    """After a failed or lost attempt: queue the task again or fail it for good."""
    decision = retries.decide(
        outcome,
        task.attempt_count,
        limits.max_attempts,
        task.memory_reservation_bytes,
        limits.max_reservation_bytes,
    )
    if decision.retry:
        task.state = transition(task.state, TaskState.QUEUED, f"task {task.id}")
        task.memory_reservation_bytes = decision.memory_reservation_bytes
        log.info("task %s requeued: %s", task.id, decision.reason)
        return
    task.state = transition(task.state, TaskState.FAILED, f"task {task.id}")
    task.finished_at = utcnow()
    if not task.error_kind:
        task.error_kind = outcome
    if outcome == "LOST" and not task.error_message:
        task.error_message = decision.reason
