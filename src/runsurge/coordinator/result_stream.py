"""Each input's outcome as soon as it is recorded, resumable from a stored position.

`StreamTaskResults` (and through it `Job.as_completed()`, `Pool.imap*` and
`runsurge result --per-input --follow`) follows a job's inputs in the order they
became final. The position is `Task.finished_seq`, given by `jobs.move_task` in the
transaction that makes the input final, under the job's row lock: positions commit in
increasing order, so a reader that has seen position N has seen every input with a
smaller one, and a client that lost its stream (a network blip, a coordinator
restart) asks again after the last position it saw and misses nothing, repeats nothing.

The coordinator's event bus wakes a stream when a settlement touched its job; the
database is read again on a timer anyway, which covers changes made by another
coordinator process.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from runsurge.coordinator import jobs
from runsurge.coordinator.events import JobEvents
from runsurge.coordinator.views import TaskResultView
from runsurge.errors import NotFound
from runsurge.kinds import TaskKind
from runsurge.store.blobs import BlobStore
from runsurge.store.database import Database
from runsurge.store.models import Job, Task
from runsurge.store.states import JobState

PAGE = 100  # results read per transaction (each may carry up to 1 MiB inline)
POLL_SECONDS = 1.0  # the fallback when no event arrives (another coordinator's change)


@dataclass(frozen=True)
class FinishedResult:
    """One final input's outcome and its position in the job's finishing order."""

    position: int
    view: TaskResultView


@dataclass(frozen=True)
class FinishedPage:
    """Final inputs after a position, and whether they are the last of the job's."""

    results: list[FinishedResult]
    complete: bool


def finished_after(
    session: Session,
    consumer_id: str,
    job_id: str,
    after: int,
    limit: int,
    blobs: BlobStore,
) -> FinishedPage:
    """Up to `limit` of the consumer's job's final inputs past position `after`, in order.

    `complete` is true when every input was already final before they were read and
    none is left past the page. NotFound for an unknown job or another consumer's.
    """
    job = session.get(Job, job_id)
    if job is None or job.consumer_id != consumer_id:
        raise NotFound(f"no job with id {job_id!r}")
    # Read before the tasks: once the job shows every input final, each of them had
    # committed its position, and the read below (a later snapshot) sees them all.
    inputs_final = job.state.final or job.state is JobState.AGGREGATING
    tasks = session.scalars(
        select(Task)
        .where(
            Task.job_id == job_id,
            Task.kind == TaskKind.PROCESS,
            Task.finished_seq > after,
        )
        .order_by(Task.finished_seq)
        .limit(limit)
    ).all()
    views = jobs.result_views(session, tasks, blobs)
    results = [
        FinishedResult(task.finished_seq or 0, view)
        for task, view in zip(tasks, views, strict=True)
    ]
    return FinishedPage(results, inputs_final and len(results) < limit)


async def follow(
    db: Database,
    blobs: BlobStore,
    events: JobEvents,
    consumer_id: str,
    job_id: str,
    after: int = 0,
) -> AsyncIterator[FinishedResult]:
    """The job's final inputs past `after` as they are recorded; ends after the last."""
    with events.subscribe(job_id) as changes:
        while True:
            changes.clear()  # before reading: a change from here on wakes us
            page = await db.run(finished_after, consumer_id, job_id, after, PAGE, blobs)
            for found in page.results:
                yield found
                after = found.position
            if page.complete:
                return
            if len(page.results) < PAGE:
                await changes.wait(POLL_SECONDS)
