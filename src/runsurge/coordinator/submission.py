"""Receiving a job: scan and check the script, then stream its inputs into blobs.

The script is checked (parse, `process` present) and scanned before anything is
stored; a refused script leaves no trace. Inputs arrive as chunks and go straight to
the blob store while being hashed and validated as UTF-8, so no input is ever held
whole in memory; tasks are created in batches as inputs complete.
"""

from __future__ import annotations

import asyncio
import codecs
import hashlib
import logging
import time
from collections.abc import AsyncIterable
from dataclasses import dataclass, field
from typing import Protocol, TypeAlias

from sqlalchemy.exc import IntegrityError

from runsurge.billing import ledger
from runsurge.billing.pricing import quote_for
from runsurge.billing.terms import Billing
from runsurge.config import format_size
from runsurge.coordinator import idempotency, jobs
from runsurge.coordinator.idempotency import PriorJob
from runsurge.coordinator.job_options import JobOptions, OptionMaxima
from runsurge.coordinator.jobs import GroupOptions
from runsurge.coordinator.reducers import parse_specs
from runsurge.coordinator.reservations import (
    MIN_TASK_MEMORY,
    StartingEstimate,
    initial_reservation,
)
from runsurge.coordinator.starting_estimates import InputSketch, StartingEstimator
from runsurge.errors import InvalidInput, InvalidRequest, LimitExceeded
from runsurge.kinds import JobKind
from runsurge.sandbox.policy import SandboxPolicy
from runsurge.scan.script_check import check_script
from runsurge.store.blobs import BlobRef, BlobStore, BlobWriter
from runsurge.store.database import Database

log = logging.getLogger(__name__)

TASK_BATCH = 500


class ScriptGate(Protocol):
    """The security scan: raises ScriptRejected (or ScanUnavailable) for a bad script."""

    def enforce(self, source: bytes) -> object:
        """Scan `source`; return a report, raise if it must not run."""
        ...


@dataclass(frozen=True)
class SubmissionLimits:
    """Size limits applied while receiving a job."""

    max_script_bytes: int
    max_input_bytes: int
    memory_reservation_bytes: int
    max_group_inputs: int = 1_000_000
    max_active_jobs: int = 1000
    # How often a flowing upload records that it is alive, so the reaper (which
    # fails uploads silent for the submission timeout) leaves it alone.
    activity_seconds: float = 60.0
    billing: Billing = field(default_factory=Billing)  # quotes and holds (billing/ledger.py)
    # The coordinator's own limits, which a job's options may lower but not raise.
    maxima: OptionMaxima = field(
        default_factory=lambda: OptionMaxima(
            SandboxPolicy().wall_seconds, SandboxPolicy().cpu_seconds, 3
        )
    )


@dataclass(frozen=True)
class JobSpecIn:
    """The header of a submission."""

    script: bytes
    kind: JobKind
    name: str
    script_name: str
    options: GroupOptions = field(default_factory=GroupOptions)
    memory_limit_bytes: int = 0  # the consumer's per-task limit (`--memory`); 0: none
    job_options: JobOptions = field(default_factory=JobOptions)

    def validate(self) -> None:
        """Refuse options that do not fit the job kind, naming the fix."""
        if 0 < self.memory_limit_bytes < MIN_TASK_MEMORY:
            raise InvalidRequest(
                f"memory limit {format_size(self.memory_limit_bytes)} is below the "
                f"{format_size(MIN_TASK_MEMORY)} a task needs to start (--memory)"
            )
        if self.kind is JobKind.SINGLE and self.options.aggregates:
            raise InvalidRequest("aggregation applies to groups; a single job has one result")
        if self.options.aggregate_script and self.options.aggregate_specs:
            raise InvalidRequest("choose the script's aggregate() or built-in reducers, not both")
        parse_specs(self.options.aggregate_specs)


@dataclass(frozen=True)
class InputStart:
    """A new input begins; `size` is what the consumer declared (0 when unknown)."""

    size: int


@dataclass(frozen=True)
class InputEnd:
    """The current input is complete; `sha256` is its hash as the consumer claims it."""

    sha256: str


# One piece of a submission stream: the spec first, then per input its start, its
# bytes in chunks, and its end.
SubmissionItem: TypeAlias = JobSpecIn | InputStart | bytes | InputEnd


class _InputReceiver:
    """One input in flight: written to a blob while hashed and UTF-8 checked."""

    def __init__(self, writer: BlobWriter, index: int, declared_size: int, limit: int) -> None:
        self.writer = writer
        self.index = index
        self.declared_size = declared_size
        self.limit = limit
        self.size = 0
        self.sketch = InputSketch()
        self._decoder = codecs.getincrementaldecoder("utf-8")("strict")
        self._sha = hashlib.sha256()

    def write(self, data: bytes) -> None:
        if self.size + len(data) > self.limit:
            raise LimitExceeded(
                f"input {self.index} is larger than the limit of {self.limit} bytes "
                "(max_input_bytes)"
            )
        try:
            self._decoder.decode(data)
        except UnicodeDecodeError as exc:
            raise InvalidInput(
                f"input {self.index} is not valid UTF-8 (byte {self.size + exc.start}); "
                "RunSurge passes inputs to process() as str"
            ) from None
        self._sha.update(data)
        self.writer.write(data)
        self.sketch.feed(data)
        self.size += len(data)

    def finish(self, claimed_sha: str) -> BlobRef:
        try:
            self._decoder.decode(b"", final=True)
        except UnicodeDecodeError:
            raise InvalidInput(
                f"input {self.index} is not valid UTF-8 (truncated character at its end)"
            ) from None
        if self.declared_size and self.declared_size != self.size:
            raise InvalidInput(
                f"input {self.index}: declared {self.declared_size} bytes, received {self.size}"
            )
        if claimed_sha and claimed_sha != self._sha.hexdigest():
            raise InvalidInput(f"input {self.index}: sha256 does not match the bytes received")
        return self.writer.commit()


class Submission:
    """One SubmitJob call on the coordinator side, driven by the servicer."""

    def __init__(
        self,
        db: Database,
        blobs: BlobStore,
        gate: ScriptGate | None,
        consumer_id: str,
        limits: SubmissionLimits,
    ) -> None:
        self._db = db
        self._blobs = blobs
        self._gate = gate
        self._consumer_id = consumer_id
        self._limits = limits
        self.job_id: str | None = None
        self._kind = JobKind.SINGLE
        self._starting: StartingEstimator | None = None
        self._current: _InputReceiver | None = None
        self._pending: list[tuple[BlobRef, StartingEstimate]] = []
        self._count = 0
        self._touched = time.monotonic()
        # Set when the spec's idempotency key names an earlier job: this stream is a
        # retry, its inputs are counted but not stored, and the reply is that job.
        self._prior: PriorJob | None = None
        self._key = ""

    async def receive(self, items: AsyncIterable[SubmissionItem]) -> str:
        """Take a whole submission stream; return the queued job's id.

        Whatever breaks the stream (a refused script, a bad input, the consumer going
        away) fails the partial job, so none of its tasks ever runs.
        """
        try:
            async for item in items:
                await self._take(item)
            return await self.finish()
        except BaseException as exc:
            reason = (
                f"submission failed: {exc}"
                if str(exc)
                else "the upload never finished: the client went away or cancelled it"
            )
            await self.abort(reason)
            raise

    async def _take(self, item: SubmissionItem) -> None:
        if isinstance(item, JobSpecIn):
            await self.start(item)
        elif self._prior is not None:
            self._count += isinstance(item, InputEnd)  # a retry's inputs: counted, dropped
        elif isinstance(item, InputStart):
            self.begin_input(item.size)
        elif isinstance(item, InputEnd):
            await self.end_input(item.sha256)
        else:
            self.write(item)
        await self._keep_alive()

    async def _keep_alive(self) -> None:
        """Record, now and then, that data still flows (see submission_reaper.py)."""
        if (
            self.job_id is None
            or self._prior is not None
            or time.monotonic() - self._touched < self._limits.activity_seconds
        ):
            return
        await self._db.run(jobs.touch_submission, self.job_id)
        self._touched = time.monotonic()

    async def start(self, spec: JobSpecIn) -> None:
        """Validate and scan the script, store it, and open the job."""
        if self.job_id is not None:
            raise InvalidRequest("the job spec was sent twice")
        spec.validate()
        spec.job_options.validate(self._limits.maxima)
        if len(spec.script) > self._limits.max_script_bytes:
            raise LimitExceeded(
                f"script is {len(spec.script)} bytes; "
                f"the limit is {self._limits.max_script_bytes} (max_script_bytes)"
            )
        if await self._replays(spec):
            return
        required = ("process", "aggregate") if spec.options.aggregate_script else ("process",)
        check_script(spec.script, spec.script_name, required)
        if self._gate is not None:
            await asyncio.to_thread(self._gate.enforce, spec.script)
        reservation = initial_reservation(
            self._limits.memory_reservation_bytes, spec.memory_limit_bytes
        )
        await self._check_funds(reservation)
        ref = self._blobs.put(spec.script)
        self._kind = spec.kind
        try:
            self.job_id = await self._db.run(
                lambda s: jobs.create_job(
                    s,
                    self._consumer_id,
                    max_active=self._limits.max_active_jobs,
                    kind=spec.kind,
                    name=spec.name[:200],
                    script_sha256=ref.sha256,
                    script_name=spec.script_name[:200] or "script.py",
                    options=spec.options,
                    memory_limit_bytes=spec.memory_limit_bytes,
                    job_options=spec.job_options,
                )
            )
        except IntegrityError:
            if not self._key:
                raise
            raise idempotency.key_in_use(self._key) from None  # a concurrent first upload
        self._starting = await self._db.run(
            StartingEstimator.load,
            self._blobs,
            self._consumer_id,
            spec.script,
            ref.sha256,
            self._limits.memory_reservation_bytes,
            spec.memory_limit_bytes,
        )

    async def _replays(self, spec: JobSpecIn) -> bool:
        """Whether the spec's idempotency key names an earlier job this stream retries."""
        self._key = spec.job_options.idempotency_key
        prior = await self._db.run(idempotency.prior_job, self._consumer_id, self._key)
        if prior is None:
            return False
        prior.check_script(self._key, spec.kind, hashlib.sha256(spec.script).hexdigest())
        self._prior, self._kind, self.job_id = prior, spec.kind, prior.id
        return True

    async def _check_funds(self, reservation: int) -> None:
        """Refuse a consumer who cannot pay even one task before any input is uploaded.

        The whole job's quote is held when it is sealed (jobs.seal_job).
        """
        billing = self._limits.billing
        quote = quote_for(1, reservation, billing.pricing)
        await self._db.run(ledger.check_funds, self._consumer_id, quote, billing.rules)

    def begin_input(self, declared_size: int) -> None:
        """A new input starts."""
        self._require_started()
        if self._current is not None:
            raise InvalidRequest(f"input {self._current.index} was not ended before the next began")
        if self._kind is JobKind.SINGLE and self._count >= 1:
            raise InvalidRequest("a single job takes exactly one input; submit a group instead")
        if self._count >= self._limits.max_group_inputs:
            raise LimitExceeded(
                f"a group may have at most {self._limits.max_group_inputs} inputs "
                "(max_group_inputs)"
            )
        if declared_size > self._limits.max_input_bytes:
            raise LimitExceeded(
                f"input {self._count} is {declared_size} bytes; "
                f"the limit is {self._limits.max_input_bytes} (max_input_bytes)"
            )
        self._current = _InputReceiver(
            self._blobs.writer(), self._count, declared_size, self._limits.max_input_bytes
        )

    def write(self, data: bytes) -> None:
        """Bytes of the current input."""
        if self._current is None:
            raise InvalidRequest("input data arrived outside an input (send input_start first)")
        self._current.write(data)

    async def end_input(self, claimed_sha: str) -> None:
        """The current input is complete."""
        if self._current is None:
            raise InvalidRequest("input_end without input_start")
        ref = self._current.finish(claimed_sha)
        features = self._current.sketch.features()
        self._current = None
        assert self._starting is not None  # set with the job, before any input
        self._pending.append((ref, self._starting.for_input(features)))
        self._count += 1
        if len(self._pending) >= TASK_BATCH:
            await self._flush()

    async def finish(self) -> str:
        """The stream ended: create the remaining tasks and queue the job."""
        job_id = self._require_started()
        if self._prior is not None:
            self._prior.check_count(self._key, self._count)
            log.info("job %s submitted again under its idempotency key", job_id)
            return job_id
        if self._current is not None:
            raise InvalidRequest(f"the stream ended inside input {self._current.index}")
        if self._kind is JobKind.SINGLE and self._count != 1:
            raise InvalidRequest("a single job needs exactly one input")
        await self._flush()
        await self._db.run(jobs.seal_job, job_id, self._count, self._limits.billing)
        log.info("job %s queued with %d task(s)", job_id, self._count)
        return job_id

    async def abort(self, reason: str) -> None:
        """The submission failed: drop the partial input and fail the job if it exists."""
        if self._current is not None:
            self._current.writer.abort()
            self._current = None
        if self.job_id is not None and self._prior is None:  # never the job a retry named
            await self._db.run(jobs.abort_submission, self.job_id, reason)

    async def _flush(self) -> None:
        if not self._pending:
            return
        batch, self._pending = self._pending, []
        first = self._count - len(batch)
        job_id = self._require_started()
        refs = [ref for ref, _ in batch]
        starts = [start for _, start in batch]
        await self._db.run(jobs.add_tasks, job_id, first, refs, 0, starts)
        self._touched = time.monotonic()

    def _require_started(self) -> str:
        if self.job_id is None:
            raise InvalidRequest("the first message of SubmitJob must be the job spec")
        return self.job_id
