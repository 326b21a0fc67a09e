"""Leases: a contributor's heartbeats keep its attempts alive; silence requeues them.

Heartbeats list the attempts the agent is really running. Those get their lease
extended; RUNNING attempts the agent does not mention (an assignment lost in flight,
or forgotten after a restart) are declared lost once they are older than a grace
period. A periodic sweep loses every attempt whose lease lapsed.
"""

from __future__ import annotations

import datetime as dt
import logging

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from runsurge.coordinator.attempts import RetryLimits, requeue_or_fail
from runsurge.coordinator.jobs import settle_job
from runsurge.store.models import Attempt, Contributor, Job, Task, utcnow
from runsurge.store.states import AttemptState, ContributorState, transition

log = logging.getLogger(__name__)


def heartbeat(
    session: Session,
    contributor_id: str,
    running_attempt_ids: list[int],
    lease_seconds: float,
    grace_seconds: float,
    limits: RetryLimits,
) -> tuple[set[str], list[int]]:
    """Extend leases of the running attempts, lose the unmentioned.

    Returns the jobs touched and the ids of the attempts declared lost.
    """
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
    forgotten = session.scalars(
        select(Attempt).where(
            Attempt.contributor_id == contributor_id,
            Attempt.state == AttemptState.RUNNING,
            Attempt.id.not_in(running_attempt_ids),
            Attempt.started_at < now - dt.timedelta(seconds=grace_seconds),
        )
    ).all()
    touched = _lose(session, list(forgotten), limits, "the contributor is not running it")
    return touched, [a.id for a in forgotten]


def expire_leases(session: Session, limits: RetryLimits) -> set[str]:
    """Lose every attempt whose lease lapsed; return the jobs touched."""
    lapsed = session.scalars(
        select(Attempt)
        .where(Attempt.state == AttemptState.RUNNING, Attempt.lease_expires_at < utcnow())
        .with_for_update(skip_locked=True)
    ).all()
    return _lose(session, list(lapsed), limits, "the contributor stopped sending heartbeats")


def contributor_gone(session: Session, contributor_id: str) -> None:
    """The work stream closed: mark the contributor offline; its leases run out alone.

    Attempts are not lost at once, so a contributor that reconnects within its lease
    (a network blip, a coordinator restart) can still deliver their results.
    """
    contributor = session.get(Contributor, contributor_id)
    if contributor is not None:
        contributor.state = transition(contributor.state, ContributorState.OFFLINE)


def _lose(session: Session, attempts: list[Attempt], limits: RetryLimits, why: str) -> set[str]:
    touched: set[str] = set()
    for attempt in attempts:
        attempt.state = transition(attempt.state, AttemptState.LOST, f"attempt {attempt.id}")
        attempt.outcome, attempt.finished_at = "LOST", utcnow()
        task = session.get(Task, attempt.task_id)
        assert task is not None
        log.warning("attempt %s of task %s lost: %s", attempt.id, task.id, why)
        if task.state.final:
            continue
        task.error_kind, task.error_message = "LOST", f"contributor lost: {why}"
        requeue_or_fail(task, "LOST", limits)
        job = session.get(Job, task.job_id)
        assert job is not None
        settle_job(session, job)
        touched.add(job.id)
    return touched
