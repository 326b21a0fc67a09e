"""Leases: a contributor's heartbeats keep its attempts alive; silence requeues them.

Heartbeats list the attempts the agent is really running. Those get their lease
extended; RUNNING attempts the agent does not mention (an assignment lost in flight,
or forgotten after a restart) are declared lost once older than a grace period. A
periodic sweep loses every attempt whose lease lapsed. Losing an attempt happens in
its own transaction per job, locking job → task → attempt like every other move.
"""

from __future__ import annotations

import datetime as dt
import logging

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from runsurge.coordinator.attempts import RetryLimits, Settlement, requeue_or_fail
from runsurge.coordinator.jobs import lock_job, settle_job
from runsurge.kinds import OutcomeKind
from runsurge.store.models import Attempt, Contributor, Task, utcnow
from runsurge.store.states import AttemptState, JobState, transition

log = logging.getLogger(__name__)


def heartbeat(
    session: Session,
    contributor_id: str,
    running_attempt_ids: list[int],
    lease_seconds: float,
    grace_seconds: float,
) -> list[int]:
    """Extend the leases of the attempts the agent runs; return those it forgot."""
    now = utcnow()
    session.execute(
        update(Contributor).where(Contributor.id == contributor_id).values(last_seen=now)
    )
    session.execute(
        update(Attempt)
        .where(
            Attempt.contributor_id == contributor_id,
            Attempt.state == AttemptState.RUNNING,
            Attempt.id.in_(running_attempt_ids),
        )
        .values(lease_expires_at=now + dt.timedelta(seconds=lease_seconds))
    )
    return list(
        session.scalars(
            select(Attempt.id).where(
                Attempt.contributor_id == contributor_id,
                Attempt.state == AttemptState.RUNNING,
                Attempt.id.not_in(running_attempt_ids),
                Attempt.started_at < now - dt.timedelta(seconds=grace_seconds),
            )
        ).all()
    )


def lapsed_attempts(session: Session) -> list[int]:
    """RUNNING attempts whose lease ran out."""
    return list(
        session.scalars(
            select(Attempt.id).where(
                Attempt.state == AttemptState.RUNNING, Attempt.lease_expires_at < utcnow()
            )
        ).all()
    )


def lose_attempt(session: Session, attempt_id: int, limits: RetryLimits, why: str) -> Settlement:
    """Declare one attempt lost and requeue (or fail) its task."""
    job_id = session.scalar(
        select(Task.job_id)
        .join(Attempt, Attempt.task_id == Task.id)
        .where(Attempt.id == attempt_id)
    )
    if job_id is None:
        return Settlement()
    job = lock_job(session, job_id)
    attempt = session.get(Attempt, attempt_id, with_for_update=True, populate_existing=True)
    if attempt is None or attempt.state is not AttemptState.RUNNING:
        return Settlement()  # it finished meanwhile
    task = session.get(Task, attempt.task_id, with_for_update=True, populate_existing=True)
    assert task is not None
    attempt.state = transition(attempt.state, AttemptState.LOST, f"attempt {attempt.id}")
    attempt.outcome, attempt.finished_at = OutcomeKind.LOST, utcnow()
    log.warning("attempt %s of task %s lost: %s", attempt.id, task.id, why)
    if task.state.final:
        return Settlement(job.id)
    task.error_kind, task.error_message = OutcomeKind.LOST.value, f"contributor lost: {why}"
    requeue_or_fail(job, task, OutcomeKind.LOST, limits)
    cancel = settle_job(session, job)
    return Settlement(job.id, cancel, job.state is JobState.AGGREGATING)
