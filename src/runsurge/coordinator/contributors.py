"""Contributors: registration and identity, going online and offline, the listing, fetches.

A contributor keeps one identity across reconnects and agent restarts: the first
registration issues an id and an identity secret, which the agent keeps in its work
dir; registering again with that id must present the secret (only its hash is
stored), so holding the enrolment token is not enough to take over another
contributor. A proven registration updates the row and replaces its session token, so
an old token stops working. An agent may fetch only the script or the input of an
attempt it is running now. State moves go through `standing.set_state`.
"""

from __future__ import annotations

import hmac
import logging
from dataclasses import dataclass

from sqlalchemy import func, or_, select, update
from sqlalchemy.orm import Session

from runsurge.billing import invoices
from runsurge.billing.benchmark import BenchmarkResult
from runsurge.coordinator.auth import new_id, new_token, token_hash
from runsurge.coordinator.quarantine import QuarantineRules, count_flap
from runsurge.coordinator.samples import latest_node_readings
from runsurge.coordinator.standing import set_state
from runsurge.coordinator.views import ContributorView
from runsurge.errors import InvalidRequest, NotFound, PermissionDenied
from runsurge.readings import NodeReading
from runsurge.store.blobs import check_sha256
from runsurge.store.models import Attempt, Contributor, Job, Task, utcnow
from runsurge.store.states import AttemptState, ContributorState

log = logging.getLogger(__name__)
# Where the agent keeps its identity (contributor/identity.py), named in the refusal.
IDENTITY_FILE = "identity.json"


@dataclass(frozen=True)
class Registration:
    """What an agent says about itself when it registers."""

    contributor_id: str  # empty on first registration; the identity it got before otherwise
    name: str
    cores: int
    memory_bytes: int
    isolation_level: str
    insecure: bool
    benchmark_score: float
    agent_version: str
    secret: str = ""  # the identity secret issued with contributor_id
    restarted: bool = False  # a new agent process: it runs none of its old attempts
    draining: bool = False  # it reconnects while draining: it must get no work meanwhile
    benchmark: BenchmarkResult | None = None  # its parts; scored by billing/factor.py


@dataclass(frozen=True)
class Registered:
    """The identity and the session token a registration hands out (shown once)."""

    contributor_id: str
    session_token: str
    secret: str = ""  # set when a new identity was issued; the agent must keep it
    resumed: bool = False  # an existing identity was proven (not a new contributor)


@dataclass(frozen=True)
class Capacity:
    """What an online contributor offers."""

    cores: int
    memory_bytes: int


def _proven(session: Session, registration: Registration) -> Contributor | None:
    """The contributor the registration proves to be; None for a new identity.

    An id the coordinator does not know, or one from before identity secrets, gets a
    new identity (nobody else's is taken); a known id with a wrong secret is refused.
    """
    if not registration.contributor_id:
        return None
    contributor = session.get(Contributor, registration.contributor_id, with_for_update=True)
    if contributor is None or not contributor.identity_secret_sha256:
        log.info("unknown contributor id %r: issuing a new identity", registration.contributor_id)
        return None
    if not hmac.compare_digest(token_hash(registration.secret), contributor.identity_secret_sha256):
        log.warning("refused registration as contributor %s: wrong secret", contributor.id)
        raise PermissionDenied(
            f"contributor {contributor.id}: the identity secret does not match, so this "
            f"agent may not register as that contributor. If this machine should become a "
            f"new contributor, delete {IDENTITY_FILE} in the agent's work dir and start it again"
        )
    return contributor


def proven_identity(session: Session, contributor_id: str, secret: str) -> Contributor:
    """The contributor `contributor_id`, if `secret` is its identity secret.

    NotFound for an id nobody holds; PermissionDenied for a wrong secret (the same
    check Register makes, without touching the contributor).
    """
    contributor = session.get(Contributor, contributor_id) if contributor_id else None
    if contributor is None or not contributor.identity_secret_sha256:
        raise NotFound(f"no contributor with id {contributor_id!r}")
    if not hmac.compare_digest(token_hash(secret), contributor.identity_secret_sha256):
        raise PermissionDenied(
            f"contributor {contributor_id}: the identity secret does not match "
            f"(read from the agent's {IDENTITY_FILE})"
        )
    return contributor


def own_earnings(session: Session, contributor_id: str, secret: str) -> invoices.Earnings:
    """A contributor's own earnings, once it proved its identity (`runsurge earnings`)."""
    proven_identity(session, contributor_id, secret)
    (mine,) = invoices.earnings(session, contributor_id)
    return mine


def register(session: Session, registration: Registration) -> Registered:
    """Create or update the contributor; a new session token replaces any previous one."""
    if registration.cores < 1 or registration.memory_bytes < 1:
        raise InvalidRequest("a contributor must offer at least one core and some memory")
    token = new_token("rss")
    contributor = _proven(session, registration)
    secret = ""
    resumed = contributor is not None
    if contributor is None:
        secret = new_token("rsi")
        contributor = Contributor(
            id=new_id(), state=ContributorState.OFFLINE, identity_secret_sha256=token_hash(secret)
        )
        session.add(contributor)
    contributor.name = (registration.name or "contributor")[:200]
    contributor.cores = registration.cores
    contributor.memory_bytes = registration.memory_bytes
    contributor.isolation_level = registration.isolation_level[:200]
    contributor.insecure = registration.insecure
    contributor.agent_version = registration.agent_version[:50]
    contributor.session_token_sha256 = token_hash(token)
    contributor.last_seen = utcnow()
    _drain_state(contributor, registration.draining)
    log.info(
        "contributor %s (%s) registered: %d cores, %d bytes, isolation %r%s",
        contributor.id,
        registration.name,
        registration.cores,
        registration.memory_bytes,
        registration.isolation_level,
        " INSECURE" if registration.insecure else "",
    )
    return Registered(contributor.id, token, secret, resumed)


def _drain_state(contributor: Contributor, draining: bool) -> None:
    """At registration: a draining agent is DRAINING before its stream opens.

    Otherwise a DRAINING row belongs to an agent process that is gone (this one is
    not draining), and it goes OFFLINE until the new stream opens.
    """
    if contributor.state is ContributorState.QUARANTINED:
        return
    if draining:
        set_state(contributor, ContributorState.DRAINING, "the agent is shutting down")
    elif contributor.state is ContributorState.DRAINING:
        set_state(contributor, ContributorState.OFFLINE, "a new agent process registered")


def go_online(session: Session, contributor_id: str) -> Capacity:
    """The contributor opened its work stream: it is online; return what it offers.

    A quarantined contributor stays quarantined, and a draining one draining (it is
    connected but gets no work).
    """
    contributor = session.get(Contributor, contributor_id, with_for_update=True)
    assert contributor is not None  # authenticated by its session token just before
    if contributor.state not in (ContributorState.QUARANTINED, ContributorState.DRAINING):
        set_state(contributor, ContributorState.ONLINE)
    contributor.last_seen = utcnow()
    return Capacity(contributor.cores, contributor.memory_bytes)


def go_offline(session: Session, contributor_id: str, rules: QuarantineRules) -> None:
    """The work stream closed: mark the contributor offline; its leases run out alone.

    Attempts are not lost at once, so a contributor that reconnects within its lease
    (a network blip, a coordinator restart) can still deliver their results. Losing
    the stream while ONLINE is a flap (a SUSPECT one was counted when it went quiet, a
    DRAINING one is leaving on purpose); a quarantined one stays quarantined.
    """
    contributor = session.get(Contributor, contributor_id, with_for_update=True)
    if contributor is None or contributor.state is ContributorState.QUARANTINED:
        return
    was = contributor.state
    reason = "drained" if was is ContributorState.DRAINING else "work stream closed"
    set_state(contributor, ContributorState.OFFLINE, reason)
    if was is ContributorState.ONLINE:
        count_flap(contributor, rules, utcnow())


def beat(session: Session, contributor_id: str, draining: bool) -> ContributorState | None:
    """A heartbeat arrived: it is alive (SUSPECT → ONLINE), or says it is draining.

    Returns the state it is in now (None for an unknown contributor).
    """
    now = utcnow()
    contributor = session.get(Contributor, contributor_id, with_for_update=True)
    if contributor is None:
        return None
    contributor.last_seen = now
    state = contributor.state
    if draining and state not in (ContributorState.DRAINING, ContributorState.QUARANTINED):
        set_state(contributor, ContributorState.DRAINING, "the agent is shutting down", now)
    elif not draining and state in (ContributorState.SUSPECT, ContributorState.OFFLINE):
        set_state(contributor, ContributorState.ONLINE, "", now)
    return contributor.state


def mark_all_offline(session: Session) -> None:
    """At start-up no agent is connected yet; they reconnect by themselves.

    A bulk statement: every state but QUARANTINED may move to OFFLINE, and a
    quarantine outlives restarts.
    """
    session.execute(
        update(Contributor)
        .where(Contributor.state.not_in([ContributorState.QUARANTINED, ContributorState.OFFLINE]))
        .values(
            state=ContributorState.OFFLINE,
            state_reason="coordinator restarted",
            state_changed_at=utcnow(),
        )
    )


def list_contributors(session: Session) -> list[ContributorView]:
    """Every contributor, oldest registration first, with its running attempts counted
    and its latest node sample's load, free memory, CPU and free disk."""
    running = dict(
        session.execute(
            select(Attempt.contributor_id, func.count())
            .where(Attempt.state == AttemptState.RUNNING)
            .group_by(Attempt.contributor_id)
        ).all()
    )
    rows = session.scalars(select(Contributor).order_by(Contributor.registered_at)).all()
    nodes = latest_node_readings(session)
    none = NodeReading(0.0, 0, 0, 0.0, 0)
    return [
        ContributorView(
            id=c.id,
            name=c.name,
            online=c.state.connected,
            state=c.state.value,
            state_reason=c.state_reason,
            cores=c.cores,
            memory_bytes=c.memory_bytes,
            isolation_level=c.isolation_level,
            insecure=c.insecure,
            running_tasks=running.get(c.id, 0),
            last_seen=c.last_seen,
            load_1m=nodes.get(c.id, none).load_1m,
            free_memory_bytes=nodes.get(c.id, none).memory_free_bytes,
            cpu_percent=nodes.get(c.id, none).cpu_percent,
            disk_free_bytes=nodes.get(c.id, none).disk_free_bytes,
            claimed_factor=c.claimed_factor,
            machine_factor=c.machine_factor,
            factor_flagged=c.factor_flagged,
            factor_note=c.factor_note,
        )
        for c in rows
    ]


def may_fetch(session: Session, contributor_id: str, sha: str) -> bool:
    """Whether `sha` is the script or input of an attempt the contributor is running."""
    found = session.scalar(
        select(Attempt.id)
        .join(Task, Task.id == Attempt.task_id)
        .join(Job, Job.id == Task.job_id)
        .where(
            Attempt.contributor_id == contributor_id,
            Attempt.state == AttemptState.RUNNING,
            or_(Task.input_sha256 == sha, Job.script_sha256 == sha),
        )
        .limit(1)
    )
    return found is not None


def authorize_fetch(session: Session, contributor_id: str, sha: str) -> str:
    """Return the checked hash if the contributor may fetch it, else PermissionDenied."""
    sha = check_sha256(sha)
    if not may_fetch(session, contributor_id, sha):
        raise PermissionDenied(f"blob {sha} belongs to no attempt you are running")
    return sha
