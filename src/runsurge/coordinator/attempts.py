"""Attempts: claiming a queued task for a contributor and recording how it ended.

A claim moves the task to RUNNING and creates the attempt with its lease in one
transaction. A task's result is recorded once: only the attempt that is still RUNNING
may settle its task; late reports from lost or cancelled attempts are ignored. Rows
are locked job → task → attempt (see jobs.py) so concurrent transactions never
deadlock. Contributors may lie: a reported result must be a JSON object, checked and
stored before the job is locked (results.py), and its usage is recorded once and
within the attempt's limits (usage.py).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import logging
from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.orm import Session

from runsurge.billing.charges import charge_attempt
from runsurge.billing.terms import Billing
from runsurge.coordinator import estimates, retries
from runsurge.coordinator.fairness import SCHEDULABLE_JOBS, next_task
from runsurge.coordinator.jobs import CancelList, lock_job, move_task, settle_job
from runsurge.coordinator.policy import policy_for, record_policy, wants_probe
from runsurge.coordinator.quarantine import INFRASTRUCTURE_OUTCOMES
from runsurge.coordinator.reservations import MIN_TASK_MEMORY
from runsurge.coordinator.results import StoredResult
from runsurge.coordinator.usage import record_usage
from runsurge.coordinator.views import AssignmentView, FinishedAttempt
from runsurge.errors import InvalidRequest, NotFound
from runsurge.kinds import EstimateSource, JobKind, OutcomeKind
from runsurge.sandbox.policy import SandboxPolicy
from runsurge.store.blobs import BlobStore
from runsurge.store.models import Attempt, Contributor, Job, Task, utcnow
from runsurge.store.states import AttemptState, JobState, TaskState, transition
from runsurge.tasklog import TaskIds

log = logging.getLogger(__name__)
MAX_ESTIMATE_BYTES = 1 << 50  # 1 PiB: a reported estimate is clamped here

MAX_LOG_BYTES_KEPT = 64 * 1024
INPUT_INLINE_LIMIT = 64 * 1024


@dataclass(frozen=True)
class RetryLimits:
    """How often and how large a task may be retried."""

    max_attempts: int
    max_reservation_bytes: int  # the largest connected contributor's offer
    memory_growth_factor: float = 2.0  # an OOM retry reserves the peak times this


@dataclass
class Settlement:
    """What recording a report changed: the job, and attempts that must now stop."""

    job_id: str | None = None
    cancel: CancelList = field(default_factory=list)
    aggregating: bool = False  # the job just reached (or is in) its fan-in
    # The contributor an infrastructure failure was just recorded on (quarantine.py).
    failed_on: str = ""
    requeued: int = 0  # tasks queued again after a failed or lost attempt
    # A group just reached a success count at which its queued tasks are re-estimated.
    recalibrate: bool = False


@dataclass(frozen=True)
class Claims:
    """What one claiming transaction took for one contributor."""

    placeable: bool  # whether the contributor may be given work at all
    assignments: list[AssignmentView]


def claim_tasks(
    session: Session,
    contributor_id: str,
    free_memory_bytes: int,
    count: int,
    lease_seconds: float,
    defaults: SandboxPolicy,
) -> Claims:
    """Take up to `count` next tasks (see fairness.py) that fit together in the memory.

    One transaction for the batch: the contributor is read once, and each claimed
    task's reservation is taken off `free_memory_bytes` before the next is chosen, so
    the batch as a whole fits. Each choice is made afresh (`next_task`), after the
    claims before it moved the job counters, so a batch is as fair as single claims.
    Only an ONLINE contributor gets work (see ContributorState.placeable).

    Jobs are locked in the order they are chosen; only the dispatcher claims, one
    batch at a time, so two claiming transactions never hold each other's jobs.
    """
    state = session.scalar(select(Contributor.state).where(Contributor.id == contributor_id))
    if state is None or not state.placeable:
        return Claims(False, [])  # SUSPECT, DRAINING, QUARANTINED or OFFLINE: no new work
    claimed: list[AssignmentView] = []
    free = free_memory_bytes
    while len(claimed) < count:
        assignment = _claim_one(session, contributor_id, free, lease_seconds, defaults)
        if assignment is None:
            break
        claimed.append(assignment)
        free -= assignment.memory_bytes
    return Claims(True, claimed)


def claim_task(
    session: Session,
    contributor_id: str,
    free_memory_bytes: int,
    lease_seconds: float,
    defaults: SandboxPolicy,
) -> AssignmentView | None:
    """Take the next task (see fairness.py) that fits in `free_memory_bytes`, or None.

    A batch of one (`claim_tasks`).
    """
    claims = claim_tasks(session, contributor_id, free_memory_bytes, 1, lease_seconds, defaults)
    return claims.assignments[0] if claims.assignments else None


def _claim_one(
    session: Session,
    contributor_id: str,
    free_memory_bytes: int,
    lease_seconds: float,
    defaults: SandboxPolicy,
) -> AssignmentView | None:
    """Claim one task for a placeable contributor, or None when none fits.

    The attempt's sandbox policy is decided here, once (policy.py, from `defaults`),
    stored on the attempt and carried in the assignment. The input is not read here:
    this transaction holds the job's row lock, so `with_input` reads it after commit.
    """
    candidate = next_task(session, free_memory_bytes)
    if candidate is None:
        return None
    task_id, job_id = candidate
    job = lock_job(session, job_id)
    task = session.get(Task, task_id, with_for_update=True, populate_existing=True)
    if task is None or task.state is not TaskState.QUEUED or job.state not in SCHEDULABLE_JOBS:
        return None  # taken or cancelled meanwhile; the dispatcher asks again
    now = utcnow()
    queued_since, rerun = _history(session, task)
    move_task(job, task, TaskState.RUNNING)
    task.attempt_count += 1
    attempt = Attempt(
        task_id=task.id,
        contributor_id=contributor_id,
        state=AttemptState.RUNNING,
        memory_reservation_bytes=task.memory_reservation_bytes,
        started_at=now,
        lease_expires_at=now + dt.timedelta(seconds=lease_seconds),
    )
    policy = policy_for(task, job, defaults)
    record_policy(attempt, policy)
    attempt.probe_requested = wants_probe(task)
    session.add(attempt)
    session.flush()
    if job.state is JobState.QUEUED:
        job.state = transition(job.state, JobState.RUNNING, f"job {job.id}")
    return AssignmentView(
        attempt_id=attempt.id,
        job_id=job.id,
        task_index=task.index,
        script_sha256=job.script_sha256,
        script_name=job.script_name,
        input_sha256=task.input_sha256,
        input_size=task.input_size,
        memory_bytes=task.memory_reservation_bytes,
        policy=policy,
        entrypoint=task.kind,
        queued_seconds=max(0.0, (now - queued_since).total_seconds()),
        rerun=rerun,
        probe_memory=attempt.probe_requested,
    )


def _history(session: Session, task: Task) -> tuple[dt.datetime, bool]:
    """Since when the task has been queued, and whether claiming it now reruns work.

    It reruns work when an earlier attempt succeeded, or was lost after reaching its
    agent (which may have run it to the end); an assignment lost on its way, or a
    failed attempt being retried, is not a rerun.
    """
    if task.attempt_count == 0:
        return task.created_at, False
    rows = session.execute(
        select(Attempt.state, Attempt.reached_agent, Attempt.finished_at).where(
            Attempt.task_id == task.id
        )
    ).all()
    ended = [row.finished_at for row in rows if row.finished_at is not None]
    rerun = any(
        row.state is AttemptState.SUCCEEDED
        or (row.state is AttemptState.LOST and row.reached_agent)
        for row in rows
    )
    return max(ended, default=task.created_at), rerun


def running_on(session: Session, contributor_id: str) -> dict[int, int]:
    """The contributor's RUNNING attempts and their reservations (attempt id → bytes)."""
    rows = session.execute(
        select(Attempt.id, Attempt.memory_reservation_bytes).where(
            Attempt.contributor_id == contributor_id, Attempt.state == AttemptState.RUNNING
        )
    ).all()
    return {row.id: row.memory_reservation_bytes for row in rows}


def with_input(assignment: AssignmentView, blobs: BlobStore) -> AssignmentView:
    """The claimed assignment with its input inline when small; run outside any transaction.

    Raises NotFound when the input blob is missing, or (inline) does not match its hash:
    the attempt can never run, and `fail_unreadable_input` fails it alone.
    """
    sha = assignment.input_sha256
    if assignment.input_size > INPUT_INLINE_LIMIT:
        if not blobs.exists(sha):
            raise NotFound(f"input blob {sha} is missing")
        return assignment  # the agent streams it, verifying its hash
    try:
        with blobs.open(sha) as f:
            data = f.read()
    except (NotFound, OSError) as exc:
        raise NotFound(f"input blob {sha} is missing or unreadable ({exc})") from exc
    if hashlib.sha256(data).hexdigest() != sha:
        raise NotFound(f"input blob {sha} is corrupt: its content does not match its hash")
    return dataclasses.replace(assignment, input_inline=data)


def lock_attempt(session: Session, attempt_id: int) -> tuple[Job, Attempt, Task] | None:
    """An attempt with its job and task, locked job → attempt → task; None if unknown.

    The one lock order every transaction that moves an attempt takes (see jobs.py).
    """
    job_id = session.scalar(
        select(Task.job_id)
        .join(Attempt, Attempt.task_id == Task.id)
        .where(Attempt.id == attempt_id)
    )
    if job_id is None:
        return None
    job = lock_job(session, job_id)
    attempt = session.get(Attempt, attempt_id, with_for_update=True, populate_existing=True)
    if attempt is None:
        return None
    task = session.get(Task, attempt.task_id, with_for_update=True, populate_existing=True)
    assert task is not None
    return job, attempt, task


def fail_unreadable_input(session: Session, attempt_id: int, why: str) -> Settlement:
    """Fail a just-claimed attempt whose input cannot be read, and its task for good.

    A content-addressed blob that is missing or corrupt does not come back, so a retry
    would only fail again; the task's error says which blob and why.
    """
    locked = lock_attempt(session, attempt_id)
    if locked is None:
        return Settlement()
    job, attempt, task = locked
    if attempt.state is not AttemptState.RUNNING:
        return Settlement(job.id)  # cancelled meanwhile
    now = utcnow()
    attempt.state = transition(attempt.state, AttemptState.FAILED, f"attempt {attempt.id}")
    attempt.outcome, attempt.finished_at = OutcomeKind.INFRASTRUCTURE, now
    ids = TaskIds(job.id, task.index, attempt.id)
    log.error("%s cannot run: %s", ids, why, extra=ids.extra)
    if not task.state.final:
        move_task(job, task, TaskState.FAILED)
        task.finished_at = now
        task.error_kind, task.error_type = OutcomeKind.INFRASTRUCTURE.value, ""
        task.error_message, task.error_traceback = why, ""
    cancel = settle_job(session, job)
    return Settlement(job.id, cancel, job.state is JobState.AGGREGATING)


def finish_attempt(
    session: Session,
    contributor_id: str,
    report: FinishedAttempt,
    result: StoredResult | None,
    limits: RetryLimits,
    billing: Billing | None = None,
) -> Settlement:
    """Record a contributor's report about one of its attempts, and bill it.

    An OK report's result was checked and stored before this transaction
    (results.py): it holds the job's lock, so it reads no blob and parses nothing.
    The charge (billing/charges.py) is written in this same transaction, from the
    usage just recorded; only the report that settles the attempt gets that far.
    """
    found = session.execute(
        select(Attempt.contributor_id, Task.job_id, Task.index.label("task_index"))
        .join(Task, Task.id == Attempt.task_id)
        .where(Attempt.id == report.attempt_id)
    ).first()
    if found is None or found.contributor_id != contributor_id:
        raise InvalidRequest(f"attempt {report.attempt_id} is not assigned to you")
    ids = TaskIds(found.job_id, found.task_index, report.attempt_id)
    job = lock_job(session, found.job_id)
    attempt = session.get(Attempt, report.attempt_id, with_for_update=True, populate_existing=True)
    assert attempt is not None
    if attempt.state is not AttemptState.RUNNING:
        # Its usage too: only the report that settles an attempt writes it (usage.py).
        log.info("%s late report ignored (%s)", ids, attempt.state.value, extra=ids.extra)
        return Settlement()
    log.info("%s reported %s", ids, report.outcome.value, extra=ids.extra)
    if report.outcome is OutcomeKind.OK and result is None:
        raise InvalidRequest(f"attempt {attempt.id} reported OK without a stored result")
    record_usage(attempt, report, utcnow())
    attempt.reached_agent = True
    task = session.get(Task, attempt.task_id, with_for_update=True, populate_existing=True)
    assert task is not None
    task.logs = report.logs[-MAX_LOG_BYTES_KEPT:]
    requeued = 0
    predicted = _take_estimate(attempt, task, report)
    if result is not None:
        _succeed(job, attempt, task, result)
    else:
        requeued = int(_fail(job, attempt, task, report, limits, predicted))
    charge_attempt(session, job, task, attempt, billing or Billing())
    cancel = settle_job(session, job)
    failed_on = contributor_id if report.outcome in INFRASTRUCTURE_OUTCOMES else ""
    recalibrate = (
        result is not None and job.kind is JobKind.GROUP and estimates.due(job.succeeded_count)
    )
    return Settlement(
        job.id,
        cancel,
        job.state is JobState.AGGREGATING,
        failed_on=failed_on,
        requeued=requeued,
        recalibrate=recalibrate,
    )


def _succeed(job: Job, attempt: Attempt, task: Task, result: StoredResult) -> None:
    now = utcnow()
    attempt.state = transition(attempt.state, AttemptState.SUCCEEDED, f"attempt {attempt.id}")
    attempt.outcome, attempt.finished_at = OutcomeKind.OK, now
    move_task(job, task, TaskState.SUCCEEDED)
    task.result_sha256, task.result_size, task.finished_at = result.sha256, result.size, now
    task.error_kind = task.error_type = task.error_message = task.error_traceback = ""


def _fail(
    job: Job,
    attempt: Attempt,
    task: Task,
    report: FinishedAttempt,
    limits: RetryLimits,
    predicted_bytes: int,
) -> bool:
    now = utcnow()
    outcome = report.outcome
    # CANCELLED here is the agent stopping on its own (shutdown): a cancelled job's
    # attempts are no longer RUNNING, so their reports never get this far.
    target = AttemptState.CANCELLED if outcome is OutcomeKind.CANCELLED else AttemptState.FAILED
    attempt.state = transition(attempt.state, target, f"attempt {attempt.id}")
    attempt.outcome, attempt.finished_at = outcome, now
    error = report.error
    task.error_kind = outcome.value
    task.error_type = error.type if error else ""
    task.error_message = error.message if error else ""
    task.error_traceback = error.traceback if error else ""
    return requeue_or_fail(
        job, task, attempt.id, outcome, limits, attempt.peak_memory_bytes, predicted_bytes
    )


def _take_estimate(attempt: Attempt, task: Task, report: FinishedAttempt) -> int:
    """Keep a probe estimate the coordinator asked for; the peak if it stopped the run.

    A contributor may lie: an estimate is taken only from an attempt that was asked
    to probe (its first), bounded, and it can only move this task's reservation,
    within the caps that bind every retry.
    """
    estimate = report.estimate
    if estimate is None or not attempt.probe_requested:
        return 0
    peak = min(max(estimate.peak_bytes, MIN_TASK_MEMORY), MAX_ESTIMATE_BYTES)
    confidence = estimate.confidence if 0.0 <= estimate.confidence <= 1.0 else 0.0
    task.estimate_bytes, task.estimate_confidence = peak, confidence
    task.estimate_method = EstimateSource.PROBES
    ran = (
        report.outcome is not OutcomeKind.OUT_OF_MEMORY or peak <= attempt.memory_reservation_bytes
    )
    return 0 if ran else peak


def requeue_or_fail(
    job: Job,
    task: Task,
    attempt_id: int,
    outcome: OutcomeKind,
    limits: RetryLimits,
    peak_bytes: int = 0,
    predicted_bytes: int = 0,
) -> bool:
    """After a failed or lost attempt: queue the task again (True) or fail it for good.

    `peak_bytes` is the memory the attempt reached, which an OOM retry grows from.
    """
    ids = TaskIds(job.id, task.index, attempt_id)
    decision = retries.decide(
        outcome,
        task.attempt_count,
        retries.allowed_attempts(job.max_attempts, limits.max_attempts),
        retries.MemoryContext(
            reservation_bytes=task.memory_reservation_bytes,
            largest_offer_bytes=limits.max_reservation_bytes,
            peak_bytes=peak_bytes,
            growth_factor=limits.memory_growth_factor,
            job_limit_bytes=job.memory_limit_bytes,
            predicted_bytes=predicted_bytes,
        ),
    )
    if decision.retry:
        move_task(job, task, TaskState.QUEUED)
        task.memory_reservation_bytes = decision.memory_reservation_bytes
        if not decision.counted:  # attempt_count is the budget: give this attempt back
            task.attempt_count = max(0, task.attempt_count - 1)
        log.info("%s requeued: %s", ids, decision.reason, extra=ids.extra)
        return True
    move_task(job, task, TaskState.FAILED)
    task.finished_at = utcnow()
    if not task.error_kind:
        task.error_kind = outcome.value
    retry_class = retries.RETRY_CLASS[outcome]
    if retry_class is retries.RetryClass.MORE_MEMORY:
        task.error_message = decision.reason  # at what size, and which cap stopped it
    elif retry_class is not retries.RetryClass.FINAL and not task.error_message:
        task.error_message = decision.reason  # why a retryable failure is final now
    log.info("%s failed for good: %s", ids, decision.reason, extra=ids.extra)
    return False
