"""Contributors: registration, going online and offline, the listing, and what they may fetch.

A contributor keeps one identity across reconnects: registering again with its id
updates the row and replaces its session token, so an old token stops working. An
agent may fetch only the script or the input of an attempt it is running now.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from sqlalchemy import func, or_, select, update
from sqlalchemy.orm import Session

from runsurge.coordinator.auth import new_id, new_token, token_hash
from runsurge.coordinator.samples import NodeReading, latest_node_readings
from runsurge.coordinator.views import ContributorView
from runsurge.errors import InvalidRequest, PermissionDenied
from runsurge.store.blobs import check_sha256
from runsurge.store.models import Attempt, Contributor, Job, Task, utcnow
from runsurge.store.states import AttemptState, ContributorState, transition

log = logging.getLogger(__name__)


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


@dataclass(frozen=True)
class Registered:
    """The identity and the session token a registration hands out (shown once)."""

    contributor_id: str
    session_token: str


@dataclass(frozen=True)
class Capacity:
    """What an online contributor offers."""

    cores: int
    memory_bytes: int


def register(session: Session, registration: Registration) -> Registered:
    """Create or update the contributor; a new session token replaces any previous one."""
    if registration.cores < 1 or registration.memory_bytes < 1:
        raise InvalidRequest("a contributor must offer at least one core and some memory")
    token = new_token("rss")
    contributor = (
        session.get(Contributor, registration.contributor_id)
        if registration.contributor_id
        else None
    )
    if contributor is None:
        contributor = Contributor(id=new_id(), state=ContributorState.OFFLINE)
        session.add(contributor)
    contributor.name = (registration.name or "contributor")[:200]
    contributor.cores = registration.cores
    contributor.memory_bytes = registration.memory_bytes
    contributor.isolation_level = registration.isolation_level[:200]
    contributor.insecure = registration.insecure
    contributor.benchmark_score = registration.benchmark_score or 1.0
    contributor.agent_version = registration.agent_version[:50]
    contributor.session_token_sha256 = token_hash(token)
    contributor.last_seen = utcnow()
    log.info(
        "contributor %s (%s) registered: %d cores, %d bytes, isolation %r%s",
        contributor.id,
        registration.name,
        registration.cores,
        registration.memory_bytes,
        registration.isolation_level,
        " INSECURE" if registration.insecure else "",
    )
    return Registered(contributor.id, token)


def go_online(session: Session, contributor_id: str) -> Capacity:
    """The contributor opened its work stream: mark it online; return what it offers."""
    contributor = session.get(Contributor, contributor_id)
    assert contributor is not None  # authenticated by its session token just before
    contributor.state = transition(contributor.state, ContributorState.ONLINE)
    contributor.last_seen = utcnow()
    return Capacity(contributor.cores, contributor.memory_bytes)


def go_offline(session: Session, contributor_id: str) -> None:
    """The work stream closed: mark the contributor offline; its leases run out alone.

    Attempts are not lost at once, so a contributor that reconnects within its lease
    (a network blip, a coordinator restart) can still deliver their results.
    """
    contributor = session.get(Contributor, contributor_id)
    if contributor is not None:
        contributor.state = transition(contributor.state, ContributorState.OFFLINE)


def mark_all_offline(session: Session) -> None:
    """At start-up no agent is connected yet; they reconnect by themselves.

    A bulk statement: ONLINE → OFFLINE and OFFLINE → OFFLINE are both allowed moves.
    """
    session.execute(update(Contributor).values(state=ContributorState.OFFLINE))


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
            online=c.state is ContributorState.ONLINE,
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
