"""Jobs and their tasks: creation, snapshots, cancellation and the job's derived state.

Plain synchronous functions over a Session; the servicers call them through
`Database.run`. Two rules keep concurrent transactions correct on PostgreSQL:
every transaction that moves a task first locks its job row (`lock_job`), always in
the order job → task → attempt; and `move_task` is the only way a task changes state,
so the job's per-state counters stay exact. `settle_job` is the one place a job's own
state is derived from those counters.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import Select, bindparam, func, select, update
from sqlalchemy.orm import Session

from runsurge.billing import ledger
from runsurge.billing.pricing import quote_for
from runsurge.billing.terms import Billing
from runsurge.coordinator.auth import new_id
from runsurge.coordinator.job_options import JobOptions, labels_from_json
from runsurge.coordinator.reservations import StartingEstimate
from runsurge.coordinator.views import (
    ErrorView,
    JobView,
    TaskCounts,
    TaskLogsView,
    TaskMemoryView,
    TaskResultView,
)
from runsurge.errors import Conflict, InvalidRequest, LimitExceeded, NotFound
from runsurge.kinds import JobKind, OnError, OutcomeKind, TaskKind
from runsurge.store.blobs import BlobRef, BlobStore
from runsurge.store.models import Attempt, Job, Task, utcnow
from runsurge.store.states import AttemptState, JobState, TaskState, transition

COUNTER = {
    TaskState.QUEUED: "queued_count",
    TaskState.RUNNING: "running_count",
    TaskState.SUCCEEDED: "succeeded_count",
    TaskState.FAILED: "failed_count",
    TaskState.CANCELLED: "cancelled_count",
}
RESULT_INLINE_LIMIT = 1024 * 1024
LIST_LIMIT_DEFAULT = 50  # jobs listed when the consumer asks for no number
LIST_LIMIT_MAX = 1000

CancelList = list[tuple[int, str]]  # (attempt id, contributor id) to tell to stop


@dataclass(frozen=True)
class GroupOptions:
    """How a group's results are combined and what a failure does."""

    aggregate_specs: tuple[str, ...] = ()
    aggregate_script: bool = False
    on_error: OnError = OnError.CONTINUE

    @property
    def aggregates(self) -> bool:
        """Whether the group has an aggregate step."""
        return bool(self.aggregate_specs) or self.aggregate_script


# Final states: jobs in any other state count against max_active_jobs.
_UNFINISHED_EXCLUDED = [state for state in JobState if state.final]


def create_job(
    session: Session,
    consumer_id: str,
    *,
    kind: JobKind,
    name: str,
    script_sha256: str,
    script_name: str,
    options: GroupOptions | None = None,
    max_active: int | None = None,
    memory_limit_bytes: int = 0,
    job_options: JobOptions | None = None,
) -> str:
    """A new job in SUBMITTING; its tasks are added as inputs arrive.

    LimitExceeded if the consumer already has `max_active` unfinished jobs.
    """
    if max_active is not None:
        active = session.scalar(
            select(func.count())
            .select_from(Job)
            .where(
                Job.consumer_id == consumer_id,
                Job.state.not_in([st for st in JobState if st.final]),
            )
        )
        if (active or 0) >= max_active:
            raise LimitExceeded(
                f"you have {active} unfinished jobs; the limit is {max_active} (max_active_jobs)"
            )
    job_id = new_id()
    options = options or GroupOptions()
    chosen = job_options or JobOptions()
    session.add(
        Job(
            id=job_id,
            consumer_id=consumer_id,
            kind=kind,
            name=name,
            script_sha256=script_sha256,
            script_name=script_name,
            state=JobState.SUBMITTING,
            submission_activity_at=utcnow(),
            on_error=options.on_error,
            aggregate_specs=json.dumps(list(options.aggregate_specs)),
            aggregate_script=options.aggregate_script,
            memory_limit_bytes=memory_limit_bytes,
            wall_seconds=chosen.wall_seconds,
            cpu_seconds=chosen.cpu_seconds,
            max_attempts=chosen.max_attempts,
            priority=chosen.priority,
            labels=chosen.labels_json(),
            idempotency_key=chosen.idempotency_key or None,
        )
    )
    session.flush()  # a second job under the same idempotency key fails here
    return job_id


def lock_job(session: Session, job_id: str) -> Job:
    """The job row, locked for this transaction (PostgreSQL; SQLite has one writer)."""
    job = session.scalar(_job_for_update(), {"job_id": job_id})
    if job is None:
        raise NotFound(f"no job with id {job_id!r}")
    return job


@functools.cache
def _job_for_update() -> Select[Job]:
    # Every claim and settle locks its job: the statement is built once.
    return (
        select(Job)
        .where(Job.id == bindparam("job_id"))
        .with_for_update()
        .execution_options(populate_existing=True)
    )


def move_task(job: Job, task: Task, target: TaskState) -> None:
    """Move a task to `target` (validated) and keep the job's counters in step."""
    old = task.state
    task.state = transition(old, target, f"task {task.id}")
    if task.kind is TaskKind.PROCESS:  # the aggregate task is not an input
        setattr(job, COUNTER[old], getattr(job, COUNTER[old]) - 1)
        setattr(job, COUNTER[target], getattr(job, COUNTER[target]) + 1)
        if target.final:
            # Under the job's row lock: positions commit in the order they are given.
            job.finished_seq += 1
            task.finished_seq = job.finished_seq


def add_tasks(
    session: Session,
    job_id: str,
    first_index: int,
    inputs: list[BlobRef],
    reservation: int,
    starts: Sequence[StartingEstimate] | None = None,
) -> None:
    """Add one queued task per input, numbered from `first_index` in input order.

    Each task reserves its starting estimate's reservation when `starts` (one per
    input) is given, else `reservation`.
    """
    job = lock_job(session, job_id)
    _require_submitting(job)
    job.submission_activity_at = utcnow()
    plans = list(starts) if starts is not None else [StartingEstimate(reservation)] * len(inputs)
    if len(plans) != len(inputs):
        raise ValueError(f"{len(plans)} starting estimates for {len(inputs)} inputs")
    session.add_all(
        Task(
            job_id=job_id,
            index=first_index + offset,
            input_sha256=ref.sha256,
            input_size=ref.size,
            memory_reservation_bytes=start.reservation_bytes,
            estimate_bytes=start.estimate_bytes,
            estimate_method=start.source,
            estimate_confidence=start.confidence,
            estimate_raw_bytes=start.raw_bytes,
            state=TaskState.QUEUED,
        )
        for offset, (ref, start) in enumerate(zip(inputs, plans, strict=True))
    )
    job.queued_count += len(inputs)


def touch_submission(session: Session, job_id: str) -> None:
    """The upload is still receiving input: it is not abandoned (submission_reaper.py)."""
    job = lock_job(session, job_id)
    _require_submitting(job)
    job.submission_activity_at = utcnow()


def _require_submitting(job: Job) -> None:
    # A job reaped as abandoned (or failed otherwise) takes no more input.
    if job.state is not JobState.SUBMITTING:
        detail = f": {job.error_message}" if job.error_message else ""
        raise Conflict(f"job {job.id} is no longer receiving inputs ({job.state.value}){detail}")


def seal_job(
    session: Session, job_id: str, task_count: int, billing: Billing | None = None
) -> None:
    """All inputs arrived: the job is quoted, its hold placed, and it becomes schedulable.

    LimitExceeded when the consumer cannot cover the quote (billing/ledger.py).
    """
    billing = billing or Billing()
    job = lock_job(session, job_id)
    reservation = session.scalar(
        select(func.max(Task.memory_reservation_bytes)).where(Task.job_id == job_id)
    )
    quote = quote_for(task_count, reservation or 0, billing.pricing)
    ledger.place_hold(session, job, quote, billing.rules)
    job.task_count = task_count
    job.state = transition(job.state, JobState.QUEUED, f"job {job_id}")
    settle_job(session, job)


def abort_submission(session: Session, job_id: str, reason: str) -> None:
    """The upload broke off: the job fails and none of its tasks will run."""
    job = session.get(Job, job_id)
    if job is None or job.state is not JobState.SUBMITTING:
        return
    job = lock_job(session, job_id)
    _stop_unfinished(session, job)
    job.state = transition(job.state, JobState.FAILED, f"job {job_id}")
    job.error_kind, job.error_message = "SUBMISSION", reason
    job.finished_at = utcnow()
    job.idempotency_key = None  # free the key: the retry of a broken upload starts afresh


def counts(job: Job) -> TaskCounts:
    """The job's input tasks per state, from its counters."""
    return TaskCounts(
        total=job.task_count,
        queued=job.queued_count,
        running=job.running_count,
        succeeded=job.succeeded_count,
        failed=job.failed_count,
        cancelled=job.cancelled_count,
    )


def settle_job(session: Session, job: Job) -> CancelList:
    """Derive the (locked) job's state from its tasks'; return attempts to stop.

    The only place a job's state follows its tasks. A fail-fast group stops at its
    first failed input; a group whose inputs are all final moves to AGGREGATING when
    it has an aggregate step, the aggregator finishing it from there.
    """
    if job.state.final or job.state is JobState.SUBMITTING:
        return []
    if job.state is JobState.AGGREGATING:
        _settle_script_aggregate(session, job)
        return []
    if job.running_count and job.state is JobState.QUEUED:
        job.state = transition(job.state, JobState.RUNNING, f"job {job.id}")
    if job.kind is JobKind.GROUP and job.on_error is OnError.FAIL_FAST and job.failed_count:
        return _fail_fast(session, job)
    done = job.succeeded_count + job.failed_count + job.cancelled_count
    if done < job.task_count or job.running_count or job.queued_count:
        return []
    _inputs_done(job)
    return []


def _inputs_done(job: Job) -> None:
    if job.kind is JobKind.SINGLE:
        target = JobState.SUCCEEDED if job.succeeded_count == job.task_count else JobState.FAILED
    elif job.task_count and not job.succeeded_count:
        target = JobState.FAILED
        job.error_kind, job.error_message = "ALL_FAILED", "every input of the group failed"
    elif job.aggregate_script or json.loads(job.aggregate_specs):
        job.state = transition(job.state, JobState.AGGREGATING, f"job {job.id}")
        return
    else:
        target = JobState.SUCCEEDED
    job.state = transition(job.state, target, f"job {job.id}")
    job.finished_at = utcnow()


def _settle_script_aggregate(session: Session, job: Job) -> None:
    task = aggregate_task(session, job.id)
    if task is None or not task.state.final:
        return
    if task.state is TaskState.SUCCEEDED:
        job.aggregate_sha256, job.aggregate_size = task.result_sha256, task.result_size
        job.state = transition(job.state, JobState.SUCCEEDED, f"job {job.id}")
    else:
        job.state = transition(job.state, JobState.FAILED, f"job {job.id}")
        job.error_kind = "AGGREGATION"
        job.error_message = f"aggregate() failed: {task.error_kind}: {task.error_type}: " + (
            task.error_message
        )
    job.finished_at = utcnow()


def aggregate_task(session: Session, job_id: str) -> Task | None:
    """The task running a group's own aggregate(), once it exists."""
    return session.scalar(
        select(Task).where(Task.job_id == job_id, Task.kind == TaskKind.AGGREGATE)
    )


def _fail_fast(session: Session, job: Job) -> CancelList:
    failed = session.scalar(
        select(Task)
        .where(Task.job_id == job.id, Task.state == TaskState.FAILED, Task.kind == TaskKind.PROCESS)
        .order_by(Task.finished_at, Task.index)
        .limit(1)
    )
    running = _stop_unfinished(session, job)
    job.state = transition(job.state, JobState.FAILED, f"job {job.id}")
    job.finished_at = utcnow()
    job.error_kind = "FAIL_FAST"
    if failed is not None:
        job.error_message = (
            f"input {failed.index} failed ({failed.error_kind}: {failed.error_type}: "
            f"{failed.error_message}); the remaining inputs were cancelled (--on-error fail-fast)"
        )
    return running


def _stop_unfinished(session: Session, job: Job) -> CancelList:
    """Cancel every unfinished task of a (locked) job in bulk; recount its counters.

    Bulk statements make the same moves `move_task` allows (QUEUED/RUNNING →
    CANCELLED, RUNNING attempts → CANCELLED), in one statement each for big groups.
    """
    now = utcnow()
    running = session.execute(
        select(Attempt.id, Attempt.contributor_id)
        .join(Task, Task.id == Attempt.task_id)
        .where(Task.job_id == job.id, Attempt.state == AttemptState.RUNNING)
    ).all()
    session.execute(
        update(Attempt)
        .where(Attempt.id.in_([a for a, _ in running]))
        .values(state=AttemptState.CANCELLED, outcome=OutcomeKind.CANCELLED, finished_at=now)
    )
    session.execute(
        update(Task)
        .where(Task.job_id == job.id, Task.state.in_([TaskState.QUEUED, TaskState.RUNNING]))
        .values(
            state=TaskState.CANCELLED,
            finished_at=now,
            error_kind=OutcomeKind.CANCELLED.value,
            # One statement for any size: past every position given so far, in input
            # order (gaps are allowed; only the order matters to result streams).
            finished_seq=Task.index + job.finished_seq + 1,
        )
    )
    last_index = session.scalar(
        select(func.max(Task.index)).where(Task.job_id == job.id, Task.kind == TaskKind.PROCESS)
    )
    job.finished_seq += (last_index if last_index is not None else -1) + 1
    recount(session, job)
    return [(attempt_id, contributor_id) for attempt_id, contributor_id in running]


def recount(session: Session, job: Job) -> None:
    """Recompute the job's counters from its tasks (after bulk changes)."""
    rows = session.execute(
        select(Task.state, func.count())
        .where(Task.job_id == job.id, Task.kind == TaskKind.PROCESS)
        .group_by(Task.state)
    ).all()
    by_state = dict(rows)
    for state, column in COUNTER.items():
        setattr(job, column, by_state.get(state, 0))


def _owned_job(session: Session, consumer_id: str, job_id: str) -> Job:
    job = session.get(Job, job_id)
    # Someone else's job is reported as missing: ids are not secrets, but existence
    # of other consumers' work should not leak either.
    if job is None or job.consumer_id != consumer_id:
        raise NotFound(f"no job with id {job_id!r}")
    return job


def job_view(
    session: Session, consumer_id: str, job_id: str, blobs: BlobStore, inline_limit: int
) -> JobView:
    """A consumer's view of one of their jobs."""
    return _view(session, _owned_job(session, consumer_id, job_id), blobs, inline_limit)


def _view(session: Session, job: Job, blobs: BlobStore, inline_limit: int) -> JobView:
    error: ErrorView | None = None
    result_sha, result_size = job.aggregate_sha256, job.aggregate_size
    if job.kind is JobKind.SINGLE and job.state.final:
        task = session.scalar(select(Task).where(Task.job_id == job.id, Task.index == 0))
        if task is not None and task.state is TaskState.FAILED:
            error = ErrorView(
                task.error_kind, task.error_type, task.error_message, task.error_traceback
            )
        if task is not None:
            result_sha, result_size = task.result_sha256, task.result_size
    result: bytes | None = None
    if result_sha and result_size <= inline_limit:
        with blobs.open(result_sha) as f:
            result = f.read()
    if error is None and job.error_kind:
        error = ErrorView(job.error_kind, "", job.error_message)
    return JobView(
        id=job.id,
        kind=job.kind,
        state=job.state,
        name=job.name,
        script_sha256=job.script_sha256,
        counts=counts(job),
        created_at=job.created_at,
        finished_at=job.finished_at,
        error=error,
        result_json=result,
        result_available=bool(result_sha),
        aggregate_specs=tuple(json.loads(job.aggregate_specs)),
        aggregate_script=job.aggregate_script,
        on_error=job.on_error,
        waiting_reason="" if job.state.final else job.waiting_reason,
        memory_limit_bytes=job.memory_limit_bytes,
        job_options=JobOptions(
            wall_seconds=job.wall_seconds,
            cpu_seconds=job.cpu_seconds,
            max_attempts=job.max_attempts,
            priority=job.priority,
            labels=labels_from_json(job.labels),
            idempotency_key=job.idempotency_key or "",
        ),
    )


def list_jobs(
    session: Session,
    consumer_id: str,
    limit: int,
    blobs: BlobStore,
    inline_limit: int,
    states: Sequence[str] = (),
    name_contains: str = "",
) -> list[JobView]:
    """The consumer's `limit` most recent jobs (default 50, at most 1000), newest first.

    `states` keeps jobs in those states (InvalidRequest naming the known ones for
    another), `name_contains` those whose name contains it, ignoring case.
    """
    limit = min(limit or LIST_LIMIT_DEFAULT, LIST_LIMIT_MAX)
    query = select(Job).where(Job.consumer_id == consumer_id)
    if states:
        query = query.where(Job.state.in_([_job_state(s) for s in states]))
    if name_contains:
        pattern = (
            name_contains.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        )
        query = query.where(func.lower(Job.name).like(f"%{pattern}%", escape="\\"))
    jobs = session.scalars(query.order_by(Job.created_at.desc()).limit(limit)).all()
    return [_view(session, job, blobs, inline_limit) for job in jobs]


def _job_state(name: str) -> JobState:
    try:
        return JobState(name.upper())
    except ValueError:
        known = ", ".join(s.value for s in JobState)
        raise InvalidRequest(f"unknown job state {name[:40]!r}; the states are {known}") from None


def result_ref(
    session: Session, consumer_id: str, job_id: str, index: int, aggregate: bool = False
) -> str:
    """The blob hash of one task's result (or the group's aggregate); NotFound if none."""
    job = _owned_job(session, consumer_id, job_id)
    if aggregate:
        if not job.aggregate_sha256:
            raise NotFound(f"job {job_id} has no aggregate ({job.state.value.lower()})")
        return job.aggregate_sha256
    task = session.scalar(select(Task).where(Task.job_id == job.id, Task.index == index))
    if task is None or task.kind is not TaskKind.PROCESS:
        raise NotFound(f"job {job_id} has no input number {index}")
    if not task.result_sha256:
        state = task.state.value.lower()
        raise NotFound(f"job {job_id} input {index} has no result ({state})")
    return task.result_sha256


def task_logs(session: Session, consumer_id: str, job_id: str, index: int) -> TaskLogsView:
    """One input's captured stdout/stderr; NotFound for another's job or an unknown input.

    Only the kept tail survives (`attempts.MAX_LOG_BYTES_KEPT`) and the sandbox keeps
    at most the attempt's `max_log_bytes`; logs that fill either cap are reported as
    truncated (the agent's own flag is not stored).
    """
    # attempts.py imports this module; its cap is read here, at call time.
    from runsurge.coordinator.attempts import MAX_LOG_BYTES_KEPT

    job = _owned_job(session, consumer_id, job_id)
    task = session.scalar(select(Task).where(Task.job_id == job.id, Task.index == index))
    if task is None or task.kind is not TaskKind.PROCESS:
        raise NotFound(f"job {job_id} has no input number {index}")
    caps = [MAX_LOG_BYTES_KEPT]
    cap = session.scalar(
        select(Attempt.policy_max_log_bytes)
        .where(Attempt.task_id == task.id, Attempt.finished_at.is_not(None))
        .order_by(Attempt.id.desc())
        .limit(1)
    )
    if cap:
        caps.append(cap)
    logs = task.logs or b""
    return TaskLogsView(logs, len(logs) >= min(caps), task.state.value)


def task_results(
    session: Session,
    consumer_id: str,
    job_id: str,
    start: int,
    limit: int,
    blobs: BlobStore,
) -> list[TaskResultView]:
    """Up to `limit` inputs' outcomes from index `start` on, in input order."""
    _owned_job(session, consumer_id, job_id)
    tasks = session.scalars(
        select(Task)
        .where(Task.job_id == job_id, Task.kind == TaskKind.PROCESS, Task.index >= start)
        .order_by(Task.index)
        .limit(limit)
    ).all()
    return result_views(session, tasks, blobs)


def result_views(session: Session, tasks: Sequence[Task], blobs: BlobStore) -> list[TaskResultView]:
    """The outcomes of these input tasks, as listed to their consumer."""
    memory = _task_memory(session, [task.id for task in tasks])
    views = []
    for task in tasks:
        result = None
        if task.result_sha256 and task.result_size <= RESULT_INLINE_LIMIT:
            with blobs.open(task.result_sha256) as f:
                result = f.read()
        error = None
        if task.state in (TaskState.FAILED, TaskState.CANCELLED):
            error = ErrorView(
                task.error_kind, task.error_type, task.error_message, task.error_traceback
            )
        peak, killed_at = memory.get(task.id, (0, []))
        views.append(
            TaskResultView(
                task.index,
                task.state.value,
                result,
                task.result_size,
                error,
                memory=TaskMemoryView(
                    task.memory_reservation_bytes,
                    peak,
                    tuple(killed_at),
                    task.attempt_count,
                    task.estimate_bytes,
                    task.estimate_method.value,
                    task.estimate_confidence,
                ),
            )
        )
    return views


def _task_memory(session: Session, task_ids: list[int]) -> dict[int, tuple[int, list[int]]]:
    """task id -> (peak of its latest finished attempt, reservations it was OOM-killed at)."""
    found: dict[int, tuple[int, list[int]]] = {}
    if not task_ids:
        return found
    rows = session.execute(
        select(
            Attempt.task_id,
            Attempt.outcome,
            Attempt.peak_memory_bytes,
            Attempt.memory_reservation_bytes,
        )
        .where(Attempt.task_id.in_(task_ids), Attempt.finished_at.is_not(None))
        .order_by(Attempt.task_id, Attempt.id)
    ).all()
    for row in rows:
        _, killed_at = found.get(row.task_id, (0, []))
        if row.outcome is OutcomeKind.OUT_OF_MEMORY:
            killed_at.append(row.memory_reservation_bytes)
        found[row.task_id] = (row.peak_memory_bytes, killed_at)
    return found


def cancel_job(session: Session, consumer_id: str, job_id: str) -> CancelList:
    """Cancel a job's unfinished tasks; return the running (attempt, contributor) pairs.

    The caller tells those contributors to stop. Cancelling a finished job is a Conflict.
    """
    _owned_job(session, consumer_id, job_id)
    job = lock_job(session, job_id)
    if job.state.final:
        raise Conflict(f"job {job_id} already {job.state.value.lower()}")
    running = _stop_unfinished(session, job)
    job.state = transition(job.state, JobState.CANCELLED, f"job {job_id}")
    job.finished_at = utcnow()
    return running
