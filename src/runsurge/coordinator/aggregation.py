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

Each group's fan-in is isolated: whatever one group raises, the loop goes on with the
others. A failure that lies in the results themselves (a result that is not JSON, a
value its reducer cannot take, a reducer that breaks on it) fails the group at once,
naming the input: trying again would read the same bytes. Any other failure (a result
blob missing or unreadable, the database or the blob store failing) is retried with
backoff (`FaninRetry`), counted on the job row so that the bound survives a restart;
after the last try the group fails with error kind AGGREGATION and the last error.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import json
import logging
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from runsurge.coordinator.jobs import aggregate_task, lock_job
from runsurge.coordinator.reducers import AggregationError, reduce_results
from runsurge.errors import NotFound
from runsurge.kinds import TaskKind
from runsurge.store.blobs import BlobRef, BlobStore
from runsurge.store.database import Database
from runsurge.store.models import AGGREGATE_INDEX, Job, Task, utcnow
from runsurge.store.states import JobState, TaskState, transition
from runsurge.strict_json import StrictJSONError, parse_object

log = logging.getLogger(__name__)
PAGE = 1000
POLL_SECONDS = 2.0


@dataclass(frozen=True)
class FaninRetry:
    """How a fan-in that failed for an infrastructure reason is tried again."""

    max_failures: int = 5
    first_delay_seconds: float = 2.0
    max_delay_seconds: float = 300.0

    def delay(self, failures: int) -> float:
        """Seconds to wait after the `failures`-th failure: doubling from the first delay."""
        return min(self.max_delay_seconds, self.first_delay_seconds * 2.0 ** max(0, failures - 1))


def aggregating_jobs(session: Session, now: dt.datetime | None = None) -> list[str]:
    """Jobs waiting for their fan-in whose next try is due, oldest first."""
    now = now or utcnow()
    return list(
        session.scalars(
            select(Job.id)
            .where(
                Job.state == JobState.AGGREGATING,
                (Job.aggregation_retry_at.is_(None)) | (Job.aggregation_retry_at <= now),
            )
            .order_by(Job.created_at, Job.id)
        ).all()
    )


def next_retry_at(session: Session) -> dt.datetime | None:
    """When the soonest postponed fan-in is due, if any is."""
    return session.scalar(
        select(func.min(Job.aggregation_retry_at)).where(
            Job.state == JobState.AGGREGATING, Job.aggregation_retry_at.is_not(None)
        )
    )


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
            yield index, _read_result(blobs, index, sha)
        after = page[-1][0]


def _read_result(blobs: BlobStore, index: int, sha: str) -> Any:
    try:
        with blobs.open(sha) as f:
            return parse_object(f.read())  # stored results were checked; bounded anyway
    except NotFound:
        raise NotFound(
            f"the result of input {index} (blob {sha}) is missing from the blob store"
        ) from None
    except StrictJSONError as exc:
        raise AggregationError(
            f"the stored result of input {index} is not strict JSON: {exc.reason}"
        ) from None


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


def fail_aggregation(session: Session, job_id: str, error: str) -> bool:
    """The group's fan-in cannot succeed: the job fails with error kind AGGREGATION."""
    return _finish(session, job_id, None, error)


def record_failure(
    session: Session, job_id: str, error: str, retry: FaninRetry, now: dt.datetime | None = None
) -> bool:
    """Count one failed fan-in try; postpone the next, or fail the job after the last.

    True if the job failed.
    """
    job = lock_job(session, job_id)
    if job.state is not JobState.AGGREGATING:
        return False
    job.aggregation_failures += 1
    if job.aggregation_failures >= retry.max_failures:
        return _finish(
            session,
            job_id,
            None,
            f"the fan-in failed {job.aggregation_failures} times; last error: {error}",
        )
    delay = retry.delay(job.aggregation_failures)
    job.aggregation_retry_at = (now or utcnow()) + dt.timedelta(seconds=delay)
    return False


def run_builtin(db: Database, blobs: BlobStore, job_id: str, specs: list[str]) -> bool:
    """Reduce the group's results with its built-in reducers and finish the job.

    Raises AggregationError when the results cannot be reduced; anything else it
    raises (a missing blob, a database error) is worth trying again.
    """
    aggregate = reduce_results(specs, successful_results(db, blobs, job_id))
    ref = blobs.put(aggregate)
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
    """Background loop that advances every AGGREGATING job, one group at a time."""

    def __init__(
        self,
        db: Database,
        blobs: BlobStore,
        reservation: int,
        retry: FaninRetry | None = None,
    ) -> None:
        self._db = db
        self._blobs = blobs
        self._reservation = reservation
        self._retry = retry or FaninRetry()
        self._wake = asyncio.Event()

    def wake(self) -> None:
        """A job may have entered AGGREGATING."""
        self._wake.set()

    async def run(self, on_change: Any) -> None:
        """Forever: handle aggregating jobs; `on_change(job_ids)` after each one moved."""
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout=await self._timeout())
            self._wake.clear()
            try:
                changed = await self.round()
            except Exception:  # the database itself; the next round tries again
                log.exception("aggregation round failed")
                continue
            if changed:
                on_change(changed)

    async def _timeout(self) -> float:
        try:
            due = await self._db.run(next_retry_at)
        except Exception:
            return POLL_SECONDS
        if due is None:
            return POLL_SECONDS
        return min(POLL_SECONDS, max(0.0, (due - utcnow()).total_seconds()))

    async def round(self) -> list[str]:
        """Advance every due aggregating job, each on its own; return those that moved."""
        changed = []
        for job_id in await self._db.run(aggregating_jobs):
            if await asyncio.to_thread(self.advance_isolated, job_id):
                changed.append(job_id)
        return changed

    def advance_isolated(self, job_id: str) -> bool:
        """`advance`, with whatever it raises turned into that job's failure or retry."""
        try:
            return self.advance(job_id)
        except AggregationError as exc:
            log.warning("aggregation of job %s failed: %s", job_id, exc)
            return self._db.call(fail_aggregation, job_id, str(exc))
        except Exception as exc:
            log.exception("aggregation of job %s failed; it will be retried", job_id)
            error = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
            return self._db.call(record_failure, job_id, error, self._retry)

    def advance(self, job_id: str) -> bool:
        """Take one aggregating job one step further; True if something changed.

        Raises what broke the step: AggregationError when the group's results cannot
        be aggregated, anything else for a failure worth retrying.
        """
        job = self._db.call(lambda s: s.get(Job, job_id))
        if job is None or job.state is not JobState.AGGREGATING:
            return False
        if job.aggregate_script:
            return prepare_script_aggregate(self._db, self._blobs, job_id, self._reservation)
        log.info("aggregating job %s", job_id)
        return run_builtin(self._db, self._blobs, job_id, json.loads(job.aggregate_specs))
