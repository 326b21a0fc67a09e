"""The fan-in: a group's aggregate, computed exactly once after every input is final.

`settle_job` moves a group to AGGREGATING in the same transaction that makes its last
input final; that durable state is the trigger, so nothing is lost across a restart.
The `Aggregator` loop then:

- for built-in reducers, reads the successful results in input order (never all at
  once), reduces them on the coordinator, stores the aggregate and finishes the job;
- for the script's own `aggregate()`, writes the successful results as JSON lines into
  one blob and adds a single task of kind AGGREGATE that a contributor runs in the
  sandbox like any task (claimed, and given its sandbox policy, like any other); the
  job finishes when that task does.

Every step is idempotent and the finishing transition is taken under the job's row
lock only while the job is still AGGREGATING, so a restart mid-aggregation repeats
invisible work at most and never finishes a job twice.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import Iterator
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from runsurge.coordinator.jobs import aggregate_task, lock_job
from runsurge.coordinator.reducers import Aggregation, AggregationError, parse_specs
from runsurge.kinds import TaskKind
from runsurge.store.blobs import BlobRef, BlobStore
from runsurge.store.database import Database
from runsurge.store.models import AGGREGATE_INDEX, Job, Task, utcnow
from runsurge.store.states import JobState, TaskState, transition

log = logging.getLogger(__name__)
PAGE = 1000


def aggregating_jobs(session: Session) -> list[str]:
    """Jobs waiting for their fan-in."""
    return list(session.scalars(select(Job.id).where(Job.state == JobState.AGGREGATING)).all())


def _result_page(session: Session, job_id: str, after: int) -> list[tuple[int, str]]:
    return [
        (index, sha)
        for index, sha in session.execute(
            select(Task.index, Task.result_sha256)
            .where(
                Task.job_id == job_id,
                Task.kind == TaskKind.PROCESS,
                Task.state == TaskState.SUCCEEDED,
                Task.index > after,
            )
            .order_by(Task.index)
            .limit(PAGE)
        ).all()
        if sha
    ]


def successful_results(db: Database, blobs: BlobStore, job_id: str) -> Iterator[tuple[int, Any]]:
    """(index, parsed result) of every successful input, in input order, page by page."""
    after = -1
    while True:
        page = db.call(_result_page, job_id, after)
        if not page:
            return
        for index, sha in page:
            with blobs.open(sha) as f:
                yield index, json.load(f)
        after = page[-1][0]


def _finish(session: Session, job_id: str, ref: BlobRef | None, error: str) -> bool:
    job = lock_job(session, job_id)
    if job.state is not JobState.AGGREGATING:
        return False
    if ref is not None:
        job.aggregate_sha256, job.aggregate_size = ref.sha256, ref.size
        job.state = transition(job.state, JobState.SUCCEEDED, f"job {job_id}")
    else:
        job.state = transition(job.state, JobState.FAILED, f"job {job_id}")
        job.error_kind, job.error_message = "AGGREGATION", error
    job.finished_at = utcnow()
    return True


def run_builtin(db: Database, blobs: BlobStore, job_id: str, specs: list[str]) -> bool:
    """Reduce the group's results with its built-in reducers and finish the job."""
    aggregation = Aggregation(parse_specs(specs))
    try:
        for index, result in successful_results(db, blobs, job_id):
            aggregation.add(index, result)
    except AggregationError as exc:
        return db.call(_finish, job_id, None, str(exc))
    ref = blobs.put(json.dumps(aggregation.result(), sort_keys=True).encode())
    return db.call(_finish, job_id, ref, "")


def _add_aggregate_task(session: Session, job_id: str, ref: BlobRef, reservation: int) -> bool:
    job = lock_job(session, job_id)
    if job.state is not JobState.AGGREGATING or aggregate_task(session, job_id) is not None:
        return False
    session.add(
        Task(
            job_id=job_id,
            index=AGGREGATE_INDEX,
            kind=TaskKind.AGGREGATE,
            input_sha256=ref.sha256,
            input_size=ref.size,
            memory_reservation_bytes=reservation,
            state=TaskState.QUEUED,
        )
    )
    return True


def prepare_script_aggregate(db: Database, blobs: BlobStore, job_id: str, reservation: int) -> bool:
    """Write the results as JSON lines and queue the aggregate task (once)."""
    if db.call(aggregate_task, job_id) is not None:
        return False
    writer = blobs.writer()
    try:
        for _, result in successful_results(db, blobs, job_id):
            # Re-serialised compactly: one result per line whatever the agent sent.
            writer.write(json.dumps(result, separators=(",", ":")).encode() + b"\n")
        ref = writer.commit()
    except BaseException:
        writer.abort()
        raise
    return db.call(_add_aggregate_task, job_id, ref, reservation)


class Aggregator:
    """Background loop that advances every AGGREGATING job."""

    def __init__(self, db: Database, blobs: BlobStore, reservation: int) -> None:
        self._db = db
        self._blobs = blobs
        self._reservation = reservation
        self._wake = asyncio.Event()

    def wake(self) -> None:
        """A job may have entered AGGREGATING."""
        self._wake.set()

    async def run(self, on_change: Any) -> None:
        """Forever: handle aggregating jobs; `on_change(job_ids)` after each one moved."""
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout=2.0)
            self._wake.clear()
            try:
                for job_id in await self._db.run(aggregating_jobs):
                    if await asyncio.to_thread(self.advance, job_id):
                        on_change([job_id])
            except Exception:
                log.exception("aggregation round failed")

    def advance(self, job_id: str) -> bool:
        """Take one aggregating job one step further; True if something changed."""
        job = self._db.call(lambda s: s.get(Job, job_id))
        if job is None or job.state is not JobState.AGGREGATING:
            return False
        if job.aggregate_script:
            return prepare_script_aggregate(self._db, self._blobs, job_id, self._reservation)
        log.info("aggregating job %s", job_id)
        return run_builtin(self._db, self._blobs, job_id, json.loads(job.aggregate_specs))
