"""Live monitoring samples: buffered off the work stream, stored in batches, pruned, served.

Agents send node samples (the machine's CPU, memory, load, disk) and batches of task
samples (a running attempt's CPU and memory) on their work stream. The stream only
appends them to a `SampleBuffer` in memory; the coordinator's sample loop stores the
buffer in one transaction every `FLUSH_SECONDS`, with bulk inserts that take no job
lock, so monitoring never slows heartbeats or reports. A task sample is kept only
when its attempt is RUNNING on the contributor that sent it.

Samples are monitoring, not state: a crash loses at most the unflushed buffer, and
the prune loop keeps each table within `SampleRetention` (a number of rows and an
age), whichever is smaller.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from sqlalchemy import delete, func, insert, select
from sqlalchemy.orm import Session

from runsurge.errors import NotFound
from runsurge.readings import NodeReading, TaskReading
from runsurge.store.models import Attempt, Job, NodeSample, Task, TaskSample, utcnow
from runsurge.store.states import AttemptState

FLUSH_SECONDS = 0.5
# Contributors, and attempts, with a sample waiting to be stored at most; beyond it
# new ones are dropped (a database that cannot keep up must not grow memory).
BUFFER_LIMIT = 50_000
LIST_LIMIT = 1000
# Attempts looked up per statement when storing task samples.
LOOKUP_CHUNK = 500


@dataclass(frozen=True)
class SampleRetention:
    """How many rows of each sample table are kept at most, and for how long."""

    rows: int
    seconds: float


@dataclass
class SampleBatch:
    """Samples taken off the buffer together: (contributor, received at, reading)."""

    nodes: list[tuple[str, dt.datetime, NodeReading]] = field(default_factory=list)
    tasks: list[tuple[str, dt.datetime, TaskReading]] = field(default_factory=list)

    def __bool__(self) -> bool:
        return bool(self.nodes or self.tasks)


class SampleBuffer:
    """Samples received but not stored yet; appending is all the work stream does.

    Until the next writer round it keeps the latest node sample of each contributor
    and the latest task sample of each attempt: agents sample at most as often as the
    writer stores (every second by default, against twice a second), so nothing is
    lost in normal operation, and an agent sending faster cannot flood the tables.
    Beyond `limit` contributors or attempts in one round, new ones are dropped and
    counted in `dropped`.
    """

    def __init__(self, limit: int = BUFFER_LIMIT) -> None:
        self._limit = limit
        self._nodes: dict[str, tuple[dt.datetime, NodeReading]] = {}
        self._tasks: dict[tuple[str, int], tuple[dt.datetime, TaskReading]] = {}
        self.dropped = 0

    def add_node(self, contributor_id: str, reading: NodeReading) -> None:
        """Keep a contributor's node sample, stamped with the time it arrived."""
        if contributor_id not in self._nodes and len(self._nodes) >= self._limit:
            self.dropped += 1
            return
        self._nodes[contributor_id] = (utcnow(), reading)

    def add_tasks(self, contributor_id: str, readings: list[TaskReading]) -> None:
        """Keep an agent's batch of task samples, stamped with the time it arrived."""
        now = utcnow()
        for reading in readings:
            key = (contributor_id, reading.attempt_id)
            if key not in self._tasks and len(self._tasks) >= self._limit:
                self.dropped += 1
                continue
            self._tasks[key] = (now, reading)

    def take(self) -> SampleBatch:
        """Everything buffered; the buffer is empty afterwards."""
        batch = SampleBatch(
            [(c, at, r) for c, (at, r) in self._nodes.items()],
            [(c, at, r) for (c, _), (at, r) in self._tasks.items()],
        )
        self._nodes = {}
        self._tasks = {}
        return batch


def store_samples(session: Session, batch: SampleBatch) -> int:
    """Insert a batch in bulk; task samples of attempts not RUNNING for their sender are dropped.

    Returns the number of rows written.
    """
    if batch.nodes:
        session.execute(
            insert(NodeSample),
            [
                {
                    "contributor_id": contributor_id,
                    "at": at,
                    "cpu_percent": r.cpu_percent,
                    "memory_used_bytes": r.memory_used_bytes,
                    "memory_free_bytes": r.memory_free_bytes,
                    "load_1m": r.load_1m,
                    "disk_free_bytes": r.disk_free_bytes,
                }
                for contributor_id, at, r in batch.nodes
            ],
        )
    rows = _task_rows(session, batch.tasks)
    if rows:
        session.execute(insert(TaskSample), rows)
    return len(batch.nodes) + len(rows)


def _task_rows(
    session: Session, samples: list[tuple[str, dt.datetime, TaskReading]]
) -> list[dict[str, object]]:
    ids = sorted({r.attempt_id for _, _, r in samples})
    owners: dict[int, tuple[str, str, int]] = {}
    for start in range(0, len(ids), LOOKUP_CHUNK):
        chunk = ids[start : start + LOOKUP_CHUNK]
        for attempt_id, contributor_id, job_id, index in session.execute(
            select(Attempt.id, Attempt.contributor_id, Task.job_id, Task.index)
            .join(Task, Task.id == Attempt.task_id)
            .where(Attempt.id.in_(chunk), Attempt.state == AttemptState.RUNNING)
        ):
            owners[attempt_id] = (contributor_id, job_id, index)
    rows: list[dict[str, object]] = []
    for sender, at, r in samples:
        owner = owners.get(r.attempt_id)
        if owner is None or owner[0] != sender:  # settled, or not this agent's to report
            continue
        rows.append(
            {
                "job_id": owner[1],
                "task_index": owner[2],
                "attempt_id": r.attempt_id,
                "at": at,
                "cpu_percent": r.cpu_percent,
                "memory_bytes": r.memory_bytes,
            }
        )
    return rows


def prune_samples(
    session: Session, retention: SampleRetention, now: dt.datetime | None = None
) -> int:
    """Delete samples older than the retention age, then all but (at most) the newest `rows`.

    Returns the number of rows deleted from both tables.
    """
    cutoff = (now or utcnow()) - dt.timedelta(seconds=retention.seconds)
    deleted = 0
    for table in (NodeSample, TaskSample):
        deleted += _deleted(session.execute(delete(table).where(table.at < cutoff)))
        # Ids only grow: every row at or below the newest id minus `rows` is older than
        # the newest `rows`. Gaps in the ids (rolled-back inserts) only keep fewer rows,
        # and this costs one index lookup where an OFFSET would walk `rows` entries.
        newest = session.scalar(select(func.max(table.id)))
        if newest is not None and newest > retention.rows:
            deleted += _deleted(
                session.execute(delete(table).where(table.id <= newest - retention.rows))
            )
    return deleted


def _deleted(result: object) -> int:
    """Rows a DELETE removed (a CursorResult's rowcount, typed as a plain Result)."""
    return int(getattr(result, "rowcount", 0) or 0)


@dataclass(frozen=True)
class TaskSampleView:
    """One stored task sample, as its job's consumer reads it."""

    id: int
    task_index: int
    attempt_id: int
    at: dt.datetime
    cpu_percent: float
    memory_bytes: int


def task_samples(
    session: Session, consumer_id: str, job_id: str, after_id: int, limit: int
) -> list[TaskSampleView]:
    """The job's samples with an id above `after_id`, oldest first; NotFound unless it is theirs."""
    owner = session.scalar(select(Job.consumer_id).where(Job.id == job_id))
    if owner is None or owner != consumer_id:  # another's job looks missing, as in jobs.py
        raise NotFound(f"no job with id {job_id!r}")
    limit = min(limit or LIST_LIMIT, LIST_LIMIT)
    rows = session.scalars(
        select(TaskSample)
        .where(TaskSample.job_id == job_id, TaskSample.id > after_id)
        .order_by(TaskSample.id)
        .limit(limit)
    ).all()
    return [
        TaskSampleView(r.id, r.task_index, r.attempt_id, r.at, r.cpu_percent, r.memory_bytes)
        for r in rows
    ]


def latest_node_readings(session: Session) -> dict[str, NodeReading]:
    """Each contributor's most recent node sample still kept."""
    latest = (
        select(func.max(NodeSample.id).label("id")).group_by(NodeSample.contributor_id).subquery()
    )
    rows = session.scalars(select(NodeSample).join(latest, NodeSample.id == latest.c.id)).all()
    return {
        r.contributor_id: NodeReading(
            r.cpu_percent, r.memory_used_bytes, r.memory_free_bytes, r.load_1m, r.disk_free_bytes
        )
        for r in rows
    }
