"""Quarantine: keep work away from a contributor that keeps failing or dropping out.

Two rules, each counted in its own window (CoordinatorSettings `quarantine_…`):
infrastructure failures, meaning attempts lost on it or whose sandbox failed to
start (`INFRASTRUCTURE_OUTCOMES`; a consumer's script errors, timeouts and memory
kills are the script's doing and never count), and heartbeat flaps, meaning it went
SUSPECT or lost its stream without draining. Reaching either threshold sets it
QUARANTINED with a reason a human can read ("5 infrastructure failures in 10 min").
There is no operator authentication to release it by hand, so a quarantine ends
after `quarantine_seconds`; failures before the release are not counted again.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Collection
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from runsurge.coordinator.standing import set_state
from runsurge.errors import Conflict, NotFound
from runsurge.kinds import OutcomeKind
from runsurge.store.models import Attempt, Contributor, utcnow
from runsurge.store.states import ContributorState

log = logging.getLogger(__name__)

# Outcomes that say the contributor, not the script, failed.
INFRASTRUCTURE_OUTCOMES = (OutcomeKind.LOST, OutcomeKind.INFRASTRUCTURE)


@dataclass(frozen=True)
class QuarantineRules:
    """How many failures or flaps in which window quarantine a contributor, and for how long."""

    failures: int = 5
    failure_window_seconds: float = 600.0
    flaps: int = 5
    flap_window_seconds: float = 600.0
    duration_seconds: float = 3600.0


def span(seconds: float) -> str:
    """A window as a person says it: "10 min", "90 s", "2 h"."""
    if seconds >= 3600 and seconds % 3600 == 0:
        return f"{seconds / 3600:.0f} h"
    if seconds >= 60 and seconds % 60 == 0:
        return f"{seconds / 60:.0f} min"
    return f"{seconds:g} s"


def quarantine(
    contributor: Contributor, reason: str, rules: QuarantineRules, now: dt.datetime
) -> None:
    """Set the contributor QUARANTINED until `rules.duration_seconds` from now."""
    until = now + dt.timedelta(seconds=rules.duration_seconds)
    set_state(contributor, ContributorState.QUARANTINED, f"{reason}; until {until:%H:%M} UTC", now)
    contributor.quarantined_until = until
    contributor.flap_count, contributor.flap_window_started_at = 0, None
    log.warning("contributor %s quarantined: %s", contributor.id, reason)


def count_failures(session: Session, contributor_id: str, rules: QuarantineRules) -> bool:
    """After an infrastructure failure on the contributor: quarantine it if over the rule.

    Returns whether this call quarantined it.
    """
    contributor = session.get(Contributor, contributor_id, with_for_update=True)
    if contributor is None or contributor.state is ContributorState.QUARANTINED:
        return False
    now = utcnow()
    since = now - dt.timedelta(seconds=rules.failure_window_seconds)
    if contributor.quarantined_until is not None:
        since = max(since, contributor.quarantined_until)
    counts = dict(
        session.execute(
            select(Attempt.outcome, func.count())
            .where(
                Attempt.contributor_id == contributor_id,
                Attempt.outcome.in_(INFRASTRUCTURE_OUTCOMES),
                Attempt.finished_at >= since,
            )
            .group_by(Attempt.outcome)
        ).all()
    )
    total = sum(counts.values())
    if total < rules.failures:
        return False
    lost, broken = counts.get(OutcomeKind.LOST, 0), counts.get(OutcomeKind.INFRASTRUCTURE, 0)
    reason = (
        f"{total} infrastructure failures in {span(rules.failure_window_seconds)} "
        f"({lost} lost, {broken} sandbox failures)"
    )
    quarantine(contributor, reason, rules, now)
    return True


def count_flap(contributor: Contributor, rules: QuarantineRules, now: dt.datetime) -> bool:
    """The contributor just dropped out (SUSPECT, or stream lost); whether that quarantined it."""
    window = dt.timedelta(seconds=rules.flap_window_seconds)
    started = contributor.flap_window_started_at
    if started is None or started < now - window:
        contributor.flap_window_started_at, contributor.flap_count = now, 0
    contributor.flap_count += 1
    if contributor.flap_count < rules.flaps:
        return False
    reason = f"{contributor.flap_count} heartbeat flaps in {span(rules.flap_window_seconds)}"
    quarantine(contributor, reason, rules, now)
    return True


def release_expired(session: Session, connected: Collection[str]) -> list[str]:
    """End every quarantine whose time is up; return the released contributors.

    A connected one is ONLINE again at once, the others OFFLINE until they reconnect.
    """
    now = utcnow()
    due = session.scalars(
        select(Contributor)
        .where(
            Contributor.state == ContributorState.QUARANTINED,
            Contributor.quarantined_until <= now,
        )
        .with_for_update()
    ).all()
    for contributor in due:
        connected_now = contributor.id in connected
        target = ContributorState.ONLINE if connected_now else ContributorState.OFFLINE
        set_state(contributor, target, "released from quarantine", now)
    return [c.id for c in due]


def release_now(session: Session, contributor_id: str) -> str:
    """End a contributor's quarantine at once (`runsurge admin release`); its reason.

    Only the release time changes: the coordinator's periodic `release_expired` then
    makes it ONLINE or OFFLINE, since only the coordinator knows whether it is
    connected. Failures before now never count again.
    """
    contributor = session.get(Contributor, contributor_id, with_for_update=True)
    if contributor is None:
        raise NotFound(f"no contributor with id {contributor_id!r}")
    if contributor.state is not ContributorState.QUARANTINED:
        raise Conflict(
            f"contributor {contributor_id} is {contributor.state.value}, not quarantined"
        )
    contributor.quarantined_until = utcnow()
    log.warning("contributor %s released from quarantine by an operator", contributor_id)
    return contributor.state_reason
