"""Reservations from history: the first finished tasks of a group calibrate the rest.

Every task starts at the coordinator's default reservation (never above the job's
`--memory`). When a group's successes reach 1, 2, 4, 8 ... `RECALIBRATE_UNTIL`, the
memory estimator (runsurge.estimate, history layer) is fed the kernel-measured peaks
of the script's finished tasks, this group's first, and every queued task of the group
that has not run yet is given the estimate for its input (by size, or by value when
inputs are numbers) as its reservation: lower than the default when the history shows
tasks need less, so more of them fit on a machine, and higher when it shows more, so
they are not killed first. A task the history says nothing about (an input far
larger than any finished one) keeps its reservation. A reservation is also the task's
cgroup limit: an estimate that proves low ends in an OUT_OF_MEMORY retry of that task
with twice the peak it reached (reservations.py), never on another tenant's task.

Reads happen outside the job's lock; the updates take it, and touch only tasks still
queued with no attempt (a task that was retried after an OOM keeps its grown one).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from runsurge.coordinator.jobs import lock_job
from runsurge.coordinator.reservations import reservation_for
from runsurge.estimate import Estimator, History, InputFeatures, Margin, Observation
from runsurge.estimate.static import NUMERIC_INPUT_LIMIT
from runsurge.kinds import EstimateSource, JobKind, OutcomeKind, TaskKind
from runsurge.store.blobs import BlobStore
from runsurge.store.models import Attempt, Job, Task
from runsurge.store.states import TaskState

log = logging.getLogger(__name__)
RECALIBRATE_UNTIL = 64  # successes after which a group's estimates are left as they are
HISTORY_POINTS = 256  # the newest finished tasks of the script that count


@dataclass(frozen=True)
class _Finished:
    """One succeeded attempt: its task's input and the peak it reached."""

    job_id: str
    input_size: int
    input_sha256: str
    peak_bytes: int


@dataclass(frozen=True)
class GroupFacts:
    """What re-estimating a group needs to know of it."""

    job_id: str
    consumer_id: str
    script_sha256: str
    succeeded: int
    memory_limit_bytes: int


@dataclass(frozen=True)
class Planned:
    """A queued task's new reservation and the history estimate behind it."""

    reservation_bytes: int
    estimate_bytes: int
    confidence: float
    raw_bytes: int = 0  # before the margin


@dataclass(frozen=True)
class _Queued:
    task_id: int
    input_size: int
    input_sha256: str


def due(successes: int) -> bool:
    """Whether a group that just reached `successes` is re-estimated (1, 2, 4 ... 64)."""
    return 0 < successes <= RECALIBRATE_UNTIL and successes & (successes - 1) == 0


def group_due(session: Session, job_id: str) -> GroupFacts | None:
    """The group's facts if its success count calls for re-estimating it now, else None."""
    row = session.execute(
        select(
            Job.kind,
            Job.consumer_id,
            Job.script_sha256,
            Job.succeeded_count,
            Job.memory_limit_bytes,
        ).where(Job.id == job_id)
    ).first()
    if row is None or row.kind is not JobKind.GROUP or not due(row.succeeded_count):
        return None
    return GroupFacts(
        job_id, row.consumer_id, row.script_sha256, row.succeeded_count, row.memory_limit_bytes
    )


def finished_of_script(session: Session, consumer_id: str, script_sha256: str) -> list[_Finished]:
    """The newest succeeded attempts of a script, by one consumer's jobs.

    Only the same consumer's jobs count: another tenant's peaks on the same script
    would show, through this consumer's reservations, how big that tenant's inputs were.
    """
    rows = session.execute(
        select(Task.job_id, Task.input_size, Task.input_sha256, Attempt.peak_memory_bytes)
        .join(Attempt, Attempt.task_id == Task.id)
        .join(Job, Job.id == Task.job_id)
        .where(
            Job.script_sha256 == script_sha256,
            Job.consumer_id == consumer_id,
            Task.kind == TaskKind.PROCESS,
            Attempt.outcome == OutcomeKind.OK,
            Attempt.peak_memory_bytes > 0,
        )
        .order_by(Attempt.id.desc())
        .limit(HISTORY_POINTS)
    ).all()
    return [_Finished(*row) for row in rows]


def queued_unrun(session: Session, job_id: str) -> list[_Queued]:
    """The job's queued input tasks that have not had an attempt yet."""
    rows = session.execute(
        select(Task.id, Task.input_size, Task.input_sha256).where(
            Task.job_id == job_id,
            Task.kind == TaskKind.PROCESS,
            Task.state == TaskState.QUEUED,
            Task.attempt_count == 0,
        )
    ).all()
    return [_Queued(*row) for row in rows]


def _number(blobs: BlobStore, sha256: str, size: int) -> float | None:
    """The value of an input that is just a number (read only for tiny inputs)."""
    if size > NUMERIC_INPUT_LIMIT:
        return None
    with blobs.open(sha256) as f:
        text = f.read()
    try:
        return float(text.strip() or b"x")
    except ValueError:
        return None


def plan(
    job: GroupFacts,
    finished: list[_Finished],
    queued: list[_Queued],
    blobs: BlobStore,
    margins: dict[str, Margin] | None = None,
) -> dict[int, Planned]:
    """task id -> new estimate, for the queued tasks the history speaks for.

    `margins`: the calibrated ones (margins.py); the estimator's priors without.
    """
    history = history_of(job.script_sha256, finished, blobs, job.job_id)
    estimator = Estimator(history=history, margins=margins)
    limit = job.memory_limit_bytes or None
    planned: dict[int, Planned] = {}
    known: dict[tuple[int, float | None], Planned | None] = {}  # inputs alike, estimated once
    for task in queued:
        number = _number(blobs, task.input_sha256, task.input_size)
        key = (task.input_size, number)
        if key not in known:
            target = InputFeatures(size=task.input_size, lines=2, numeric_value=number)
            estimate = estimator.estimate_from_history(job.script_sha256, target, job.job_id, limit)
            known[key] = (
                None
                if estimate is None
                else Planned(
                    reservation_for(estimate.peak_bytes, limit),
                    estimate.peak_bytes,
                    estimate.confidence,
                    _raw_of(estimate.details),
                )
            )
        found = known[key]
        if found is not None:
            planned[task.task_id] = found
    return planned


def _raw_of(details: dict[str, object]) -> int:
    raw = details.get("raw_bytes")
    return raw if isinstance(raw, int) else 0


def history_of(
    script_sha256: str, finished: list[_Finished], blobs: BlobStore, job_id: str
) -> History:
    """The estimator's history of a script from its finished tasks (`job_id`'s as its group)."""
    history = History()
    for done in reversed(finished):  # oldest first: History keeps the newest
        number = _number(blobs, done.input_sha256, done.input_size)
        group = job_id if job_id and done.job_id == job_id else ""
        history.record(script_sha256, Observation(done.input_size, number, done.peak_bytes), group)
    return history


def apply(session: Session, job_id: str, planned: dict[int, Planned]) -> int:
    """Set the planned reservations of tasks still queued and unrun; how many changed."""
    lock_job(session, job_id)
    tasks = session.scalars(
        select(Task)
        .where(
            Task.id.in_(list(planned)),
            Task.state == TaskState.QUEUED,
            Task.attempt_count == 0,
        )
        .with_for_update()
    ).all()
    changed = 0
    for task in tasks:
        new = planned[task.id]
        task.estimate_bytes, task.estimate_confidence = new.estimate_bytes, new.confidence
        task.estimate_raw_bytes = new.raw_bytes
        task.estimate_method = EstimateSource.HISTORY
        if task.memory_reservation_bytes != new.reservation_bytes:
            task.memory_reservation_bytes = new.reservation_bytes
            changed += 1
    return changed
