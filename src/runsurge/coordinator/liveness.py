"""Leases: a contributor's heartbeats keep its attempts alive; silence requeues them.

Heartbeats list the attempts the agent is really running, and those whose report it
holds until the coordinator is done with them. Running ones get their lease
extended, but never past the attempt's wall-clock limit plus a slack from its start,
so a hung task cannot be held forever. RUNNING attempts the agent does not mention
(an assignment lost in flight) are declared lost once older than a grace period and
once the agent's stream has been open that long too: after a reconnect, the report of
an attempt that finished in the outage is on its way. Every attempt the agent
mentions that is not RUNNING for it (lost, cancelled, settled, someone else's) is
returned to be stopped: that is how stale work ends on agents after reconnects, and
how an agent learns that a report it holds was recorded.

A heartbeat also keeps the contributor's state (see `contributors.beat`): a SUSPECT
one is ONLINE again, and one that says it is draining is DRAINING. A contributor
silent for more than SUSPECT_HEARTBEATS intervals, its lease not yet lapsed, is
SUSPECT (`mark_suspects`): it gets no new work, and the drop counts as a flap
(quarantine.py).

A periodic sweep loses every attempt whose lease lapsed. After a restart every
RUNNING lease is first renewed for a start-up grace, so agents have time to
reconnect. Losing an attempt happens in its own transaction per job, locking
job → task → attempt like every other move.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from runsurge.coordinator.attempts import RetryLimits, Settlement, lock_attempt, requeue_or_fail
from runsurge.coordinator.contributors import beat as contributor_beat
from runsurge.coordinator.jobs import settle_job
from runsurge.coordinator.quarantine import QuarantineRules, count_flap
from runsurge.coordinator.standing import set_state
from runsurge.kinds import OutcomeKind
from runsurge.store.models import Attempt, Contributor, utcnow
from runsurge.store.states import AttemptState, ContributorState, JobState, transition
from runsurge.tasklog import TaskIds

log = logging.getLogger(__name__)
# A contributor silent for more than this many heartbeat intervals is SUSPECT.
SUSPECT_HEARTBEATS = 2
CONNECTED = [s for s in ContributorState if s.connected]


@dataclass(frozen=True)
class LeaseTerms:
    """How long a heartbeat keeps an attempt alive, and when silence about one counts."""

    lease_seconds: float
    forget_after_seconds: float  # an unmentioned RUNNING attempt is lost once this old
    wall_slack_seconds: float  # no lease runs past started_at + wall limit + this


@dataclass(frozen=True)
class AgentBeat:
    """One heartbeat: what the agent runs and which reports it still holds."""

    contributor_id: str
    running: Sequence[int]
    reported: Sequence[int] = ()
    connected_at: dt.datetime | None = None  # when its work stream opened; None: long ago
    draining: bool = False  # the agent is shutting down
    # The highest attempt id the agent had received when it built this beat; None:
    # an agent that does not say (the time rule alone).
    last_assignment_id: int | None = None


@dataclass(frozen=True)
class HeartbeatReply:
    """What follows a heartbeat: attempts to lose, and attempts the agent must stop."""

    forgotten: list[int] = field(default_factory=list)
    stop: list[int] = field(default_factory=list)


def heartbeat(session: Session, beat: AgentBeat, terms: LeaseTerms) -> HeartbeatReply:
    """Extend the leases of what the agent runs; say what it forgot and what it must stop."""
    now = utcnow()
    contributor_beat(session, beat.contributor_id, beat.draining)
    rows = session.execute(
        select(Attempt.id, Attempt.started_at, Attempt.policy_wall_seconds).where(
            Attempt.contributor_id == beat.contributor_id,
            Attempt.state == AttemptState.RUNNING,
        )
    ).all()
    running, mentioned = set(beat.running), set(beat.running) | set(beat.reported)
    lease = dt.timedelta(seconds=terms.lease_seconds)
    forget_before = now - dt.timedelta(seconds=terms.forget_after_seconds)
    settled_in = beat.connected_at is None or beat.connected_at < forget_before
    forgotten = []
    for attempt_id, started_at, wall_seconds in rows:
        if attempt_id in running:
            limit = started_at + dt.timedelta(seconds=wall_seconds + terms.wall_slack_seconds)
            session.execute(
                update(Attempt)
                .where(Attempt.id == attempt_id, Attempt.state == AttemptState.RUNNING)
                .values(lease_expires_at=min(now + lease, limit), reached_agent=True)
            )
        elif (
            attempt_id not in mentioned
            and settled_in
            and started_at < forget_before
            # Built before the assignment reached the agent: silence says nothing.
            and (beat.last_assignment_id is None or attempt_id <= beat.last_assignment_id)
        ):
            forgotten.append(attempt_id)
    here = {row.id for row in rows}
    return HeartbeatReply(forgotten=forgotten, stop=sorted(mentioned - here))


def renew_after_restart(session: Session, grace_seconds: float) -> int:
    """At start-up: give every RUNNING attempt at least `grace_seconds` of lease.

    Their agents lost the coordinator and reconnect with backoff; until they do, no
    heartbeat can renew anything. Returns how many leases were renewed.
    """
    until = utcnow() + dt.timedelta(seconds=grace_seconds)
    result = session.execute(
        update(Attempt)
        .where(Attempt.state == AttemptState.RUNNING, Attempt.lease_expires_at < until)
        .values(lease_expires_at=until)
    )
    return int(getattr(result, "rowcount", 0) or 0)


def mark_suspects(session: Session, quiet_seconds: float, rules: QuarantineRules) -> list[str]:
    """ONLINE contributors silent for `quiet_seconds` become SUSPECT; return them.

    Each such drop is a flap, and may quarantine the contributor.
    """
    now = utcnow()
    quiet = session.scalars(
        select(Contributor)
        .where(
            Contributor.state == ContributorState.ONLINE,
            Contributor.last_seen < now - dt.timedelta(seconds=quiet_seconds),
        )
        .with_for_update()
    ).all()
    for contributor in quiet:
        set_state(
            contributor, ContributorState.SUSPECT, f"no heartbeat for {quiet_seconds:g} s", now
        )
        count_flap(contributor, rules, now)
    return [c.id for c in quiet]


def silent_contributors(
    session: Session, attempt_ids: Sequence[int], quiet_seconds: float
) -> list[str]:
    """Connected holders of these (lapsed) attempts that have sent nothing for `quiet_seconds`.

    Those are stopped or wedged, not merely holding a task past its wall limit.
    """
    if not attempt_ids:
        return []
    return list(
        session.scalars(
            select(Contributor.id)
            .distinct()
            .join(Attempt, Attempt.contributor_id == Contributor.id)
            .where(
                Attempt.id.in_(attempt_ids),
                Contributor.state.in_(CONNECTED),
                Contributor.last_seen < utcnow() - dt.timedelta(seconds=quiet_seconds),
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
    locked = lock_attempt(session, attempt_id)
    if locked is None:
        return Settlement()
    job, attempt, task = locked
    if attempt.state is not AttemptState.RUNNING:
        return Settlement()  # it finished meanwhile
    attempt.state = transition(attempt.state, AttemptState.LOST, f"attempt {attempt.id}")
    attempt.outcome, attempt.finished_at = OutcomeKind.LOST, utcnow()
    ids = TaskIds(job.id, task.index, attempt.id)
    log.warning("%s lost: %s", ids, why, extra=ids.extra)
    if task.state.final:
        return Settlement(job.id, failed_on=attempt.contributor_id)
    task.error_kind, task.error_message = OutcomeKind.LOST.value, f"contributor lost: {why}"
    requeued = requeue_or_fail(job, task, attempt.id, OutcomeKind.LOST, limits)
    cancel = settle_job(session, job)
    return Settlement(
        job.id,
        cancel,
        job.state is JobState.AGGREGATING,
        failed_on=attempt.contributor_id,
        requeued=int(requeued),
    )
