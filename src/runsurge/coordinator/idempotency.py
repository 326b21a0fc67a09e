"""Idempotent submission: a retried SubmitJob with the same key returns the first job.

A consumer may name a submission with a key of its choosing. A second SubmitJob with
that key, from the same consumer, creates nothing: its stream is read to the end (its
inputs counted, their bytes dropped) and the reply is the job the first created, as
long as it is of the same kind with the same script and number of inputs; anything else is
refused with FAILED_PRECONDITION, saying what differs. Keys are scoped to their
consumer (a unique index on (consumer_id, idempotency_key)), so one consumer's key
never finds or blocks another's job. An upload that broke off frees its key
(jobs.abort_submission), so the retry after a network error mid-upload creates the
job afresh; a first upload still in flight makes the retry fail until it ends.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from runsurge.errors import Conflict
from runsurge.kinds import JobKind
from runsurge.store.models import Job
from runsurge.store.states import JobState


@dataclass(frozen=True)
class PriorJob:
    """The job an earlier submission with the same key created."""

    id: str
    state: JobState
    kind: JobKind
    script_sha256: str
    task_count: int

    def check_script(self, key: str, kind: JobKind, script_sha256: str) -> None:
        """Refuse a retry whose kind or script differs from the first submission's."""
        if self.state is JobState.SUBMITTING:
            raise Conflict(
                f"idempotency key {key!r}: job {self.id} is still being uploaded "
                "by the first submission; retry once it has finished"
            )
        if script_sha256 != self.script_sha256:
            raise Conflict(
                f"idempotency key {key!r} was used for job {self.id} with a different "
                "script; use a new key for a new job"
            )
        if kind is not self.kind:
            raise Conflict(
                f"idempotency key {key!r} was used for job {self.id}, a {self.kind.value} "
                f"job, not a {kind.value} one; use a new key for a new job"
            )

    def check_count(self, key: str, count: int) -> None:
        """Refuse a retry whose number of inputs differs from the first submission's."""
        if count != self.task_count:
            raise Conflict(
                f"idempotency key {key!r} was used for job {self.id} with {self.task_count} "
                f"input(s), not {count}; use a new key for a new job"
            )


def prior_job(session: Session, consumer_id: str, key: str) -> PriorJob | None:
    """The consumer's job submitted under `key`, if any (never another consumer's)."""
    if not key:
        return None
    row = session.execute(
        select(Job.id, Job.state, Job.kind, Job.script_sha256, Job.task_count).where(
            Job.consumer_id == consumer_id, Job.idempotency_key == key
        )
    ).first()
    if row is None:
        return None
    return PriorJob(row.id, row.state, row.kind, row.script_sha256, row.task_count)


def key_in_use(key: str) -> Conflict:
    """The error for two submissions with one key racing to create the job."""
    return Conflict(
        f"idempotency key {key!r}: another submission with this key is being uploaded; "
        "retry once it has finished"
    )
