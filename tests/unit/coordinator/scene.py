"""A small world for the coordinator's domain functions: a real migrated database,
a real blob store, and one-line ways to add consumers, contributors and jobs.

Every helper runs one transaction through `Database.call`, exactly as the servicers
do through `Database.run`; nothing here touches gRPC.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.orm import Session

from runsurge.billing.terms import Billing
from runsurge.coordinator import jobs
from runsurge.coordinator.attempts import (
    RetryLimits,
    Settlement,
    claim_task,
    finish_attempt,
    with_input,
)
from runsurge.coordinator.auth import new_id, token_hash
from runsurge.coordinator.job_options import JobOptions
from runsurge.coordinator.jobs import GroupOptions
from runsurge.coordinator.reservations import StartingEstimate
from runsurge.coordinator.results import store_result
from runsurge.coordinator.views import (
    AssignmentView,
    ErrorView,
    FinishedAttempt,
    ProbeEstimate,
)
from runsurge.kinds import JobKind, OutcomeKind
from runsurge.sandbox.policy import SandboxPolicy
from runsurge.store.blobs import DirectoryBlobStore
from runsurge.store.database import Database
from runsurge.store.models import Attempt, Consumer, Contributor, Job, Task
from runsurge.store.states import ContributorState

MiB = 1024 * 1024
GiB = 1024 * MiB
SCRIPT = b"def process(input_data):\n    return {'n': len(input_data)}\n"
RESULT = b'{"n": 1}'


@dataclass
class Scene:
    """The database and blob store of one test, with helpers to populate and drive them."""

    db: Database
    blobs: DirectoryBlobStore
    limits: RetryLimits = field(default_factory=lambda: RetryLimits(3, 4 * GiB))
    lease_seconds: float = 30.0
    policy_defaults: SandboxPolicy = field(default_factory=SandboxPolicy)
    billing: Billing = field(default_factory=Billing)

    # -- populating ------------------------------------------------------------------

    def consumer(self, name: str = "consumer") -> str:
        """A consumer row; returns its id."""
        consumer_id = new_id()
        self.db.call(
            lambda s: s.add(Consumer(id=consumer_id, name=name, token_sha256=token_hash(new_id())))
        )
        return consumer_id

    def contributor(self, name: str = "machine", cores: int = 1, memory: int = 4 * GiB) -> str:
        """An online contributor row; returns its id."""
        contributor_id = new_id()
        self.db.call(
            lambda s: s.add(
                Contributor(
                    id=contributor_id,
                    name=name,
                    state=ContributorState.ONLINE,
                    cores=cores,
                    memory_bytes=memory,
                )
            )
        )
        return contributor_id

    def submit(
        self,
        consumer_id: str,
        inputs: Sequence[bytes] = (b"x",),
        *,
        kind: JobKind | None = None,
        reservation: int = 512 * MiB,
        options: GroupOptions | None = None,
        script: bytes = SCRIPT,
        memory_limit: int = 0,
        job_options: JobOptions | None = None,
    ) -> str:
        """A sealed (queued) job with one task per input; returns its id."""
        if kind is None:
            kind = JobKind.SINGLE if len(inputs) == 1 and options is None else JobKind.GROUP
        script_ref = self.blobs.put(script)
        job_id = self.db.call(
            lambda s: jobs.create_job(
                s,
                consumer_id,
                kind=kind,
                name="test job",
                script_sha256=script_ref.sha256,
                script_name="script.py",
                options=options,
                memory_limit_bytes=memory_limit,
                job_options=job_options,
            )
        )
        refs = [self.blobs.put(data) for data in inputs]
        if refs:
            self.db.call(jobs.add_tasks, job_id, 0, refs, reservation)
        self.db.call(jobs.seal_job, job_id, len(refs), self.billing)
        return job_id

    # -- driving ---------------------------------------------------------------------

    def claim(self, contributor_id: str, free: int = 4 * GiB) -> AssignmentView | None:
        """What the dispatcher does for one free slot."""
        assignment = self.db.call(
            claim_task, contributor_id, free, self.lease_seconds, self.policy_defaults
        )
        return None if assignment is None else with_input(assignment, self.blobs)

    def claimed(self, contributor_id: str, free: int = 4 * GiB) -> AssignmentView:
        """A claim that must succeed."""
        assignment = self.claim(contributor_id, free)
        assert assignment is not None, "expected a task to claim"
        return assignment

    def report(
        self,
        contributor_id: str,
        attempt_id: int,
        outcome: OutcomeKind = OutcomeKind.OK,
        *,
        result: bytes | None = RESULT,
        result_sha256: str = "",
        error: ErrorView | None = None,
        wall_seconds: float = 1.5,
        average_memory_bytes: int = 5 * MiB,
        estimate: ProbeEstimate | None = None,
    ) -> Settlement:
        """A contributor's AttemptFinished report."""
        report = FinishedAttempt(
            attempt_id=attempt_id,
            outcome=outcome,
            result_json=result if outcome is OutcomeKind.OK and not result_sha256 else None,
            result_sha256=result_sha256,
            error=error,
            wall_seconds=wall_seconds,
            cpu_seconds=1.0,
            peak_memory_bytes=max(10 * MiB, average_memory_bytes),
            average_memory_bytes=average_memory_bytes,
            memory_source="cgroup",
            logs=b"log line\n",
            estimate=estimate,
        )
        result = store_result(report, self.blobs)  # before the transaction, as the app does
        return self.db.call(
            finish_attempt, contributor_id, report, result, self.limits, self.billing
        )

    def run_estimated(self, estimated: Sequence[tuple[StartingEstimate, int]]) -> None:
        """A group whose tasks start from these estimates and succeed at these peaks (MiB),
        one after another on one contributor: the record calibration and quality read."""
        consumer = self.consumer()
        script = self.blobs.put(b"def process(input_data):\n    return {}\n")
        job_id = self.db.call(
            lambda s: jobs.create_job(
                s,
                consumer,
                kind=JobKind.GROUP,
                name="estimated",
                script_sha256=script.sha256,
                script_name="estimated.py",
            )
        )
        refs = [self.blobs.put(f"input {i}".encode()) for i in range(len(estimated))]
        starts = [start for start, _ in estimated]
        self.db.call(jobs.add_tasks, job_id, 0, refs, 0, starts)
        self.db.call(jobs.seal_job, job_id, len(refs), self.billing)
        machine = self.contributor()
        for _, peak_mib in estimated:
            attempt = self.claimed(machine)
            self.report(
                machine, attempt.attempt_id, OutcomeKind.OK, average_memory_bytes=peak_mib * MiB
            )

    def backdate(self, attempt_id: int, seconds: float) -> None:
        """Move an attempt's start and lease `seconds` into the past."""
        delta = dt.timedelta(seconds=seconds)

        def move(session: Session) -> None:
            attempt = session.get(Attempt, attempt_id)
            assert attempt is not None
            attempt.started_at -= delta
            attempt.lease_expires_at -= delta

        self.db.call(move)

    # -- reading ---------------------------------------------------------------------

    def job(self, job_id: str) -> Job:
        """The job row as stored now."""
        job = self.db.call(lambda s: s.get(Job, job_id))
        assert job is not None
        return job

    def task(self, job_id: str, index: int) -> Task:
        """One task row as stored now."""
        task = self.db.call(
            lambda s: s.scalar(select(Task).where(Task.job_id == job_id, Task.index == index))
        )
        assert task is not None
        return task

    def attempt(self, attempt_id: int) -> Attempt:
        """One attempt row as stored now."""
        attempt = self.db.call(lambda s: s.get(Attempt, attempt_id))
        assert attempt is not None
        return attempt

    def attempts_of(self, job_id: str, index: int) -> list[Attempt]:
        """Every attempt at one task, oldest first."""

        def read(session: Session) -> list[Attempt]:
            return list(
                session.scalars(
                    select(Attempt)
                    .join(Task, Task.id == Attempt.task_id)
                    .where(Task.job_id == job_id, Task.index == index)
                    .order_by(Attempt.id)
                ).all()
            )

        return self.db.call(read)

    def contributor_row(self, contributor_id: str) -> Contributor:
        """One contributor row as stored now."""
        row = self.db.call(lambda s: s.get(Contributor, contributor_id))
        assert row is not None
        return row
