"""Submissions whose upload never finished: found by their last activity, and failed.

A SUBMITTING job records when it last received input (`Job.submission_activity_at`:
set when the job opens, at each batch of tasks, and by `Submission` at least every
`SubmissionLimits.activity_seconds` while data flows). A job silent for longer than
the submission timeout has lost its client: killed mid-upload on a host that never
closed the connection, a dead network path, or a coordinator that stopped while the
stream was open. It fails with error kind SUBMISSION so nobody waits on it forever;
none of its tasks ever ran (a job is dispatched only once sealed). Its partial input
blobs stay in the blob store for a later garbage collection.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import ColumnElement, func, select
from sqlalchemy.orm import Session

from runsurge.coordinator.jobs import abort_submission, lock_job
from runsurge.store.models import Job, utcnow
from runsurge.store.states import JobState

REAP_BATCH = 100  # jobs failed per transaction; the next round takes the rest


def _last_activity() -> ColumnElement[dt.datetime]:
    return func.coalesce(Job.submission_activity_at, Job.created_at)


def abandoned_submissions(session: Session, cutoff: dt.datetime) -> list[str]:
    """SUBMITTING jobs that received nothing since `cutoff`, oldest first."""
    return list(
        session.scalars(
            select(Job.id)
            .where(Job.state == JobState.SUBMITTING, _last_activity() < cutoff)
            .order_by(Job.created_at)
            .limit(REAP_BATCH)
        ).all()
    )


def reap_message(timeout_seconds: float) -> str:
    """Why a reaped job failed, as its consumer reads it."""
    return (
        f"the upload never finished: no input arrived for {timeout_seconds:g} s "
        "(the client was stopped or lost its connection mid-upload); submit the job again"
    )


def reap_abandoned(
    session: Session, timeout_seconds: float, now: dt.datetime | None = None
) -> list[str]:
    """Fail every submission silent for longer than `timeout_seconds`; return their ids."""
    cutoff = (now or utcnow()) - dt.timedelta(seconds=timeout_seconds)
    reaped = []
    for job_id in abandoned_submissions(session, cutoff):
        job = lock_job(session, job_id)
        # Checked again under the lock: the upload may have moved on since the scan.
        last = job.submission_activity_at or job.created_at
        if job.state is JobState.SUBMITTING and last < cutoff:
            abort_submission(session, job_id, reap_message(timeout_seconds))
            reaped.append(job_id)
    return reaped
