"""Protobuf ⇄ domain conversions for the coordinator's servicers (and nowhere else)."""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator, Iterator

from google.protobuf.timestamp_pb2 import Timestamp

from runsurge.billing.benchmark import PART_NAMES, BenchmarkError, BenchmarkResult, check_parts
from runsurge.coordinator.contributors import Registration
from runsurge.coordinator.job_options import JobOptions
from runsurge.coordinator.jobs import GroupOptions
from runsurge.coordinator.submission import InputEnd, InputStart, JobSpecIn, SubmissionItem
from runsurge.coordinator.uploads import UploadChunk
from runsurge.coordinator.views import (
    AssignmentView,
    ContributorView,
    ErrorView,
    FinishedAttempt,
    JobView,
    ProbeEstimate,
    TaskResultView,
)
from runsurge.errors import InvalidRequest
from runsurge.kinds import JobKind, OnError, OutcomeKind
from runsurge.proto.v1 import common_pb2, consumer_pb2, contributor_pb2
from runsurge.sandbox.policy import SandboxPolicy
from runsurge.store.blobs import CHUNK_SIZE, BlobStore
from runsurge.store.states import JobState

_JOB_STATES = {
    JobState.SUBMITTING: consumer_pb2.JOB_STATE_SUBMITTING,
    JobState.QUEUED: consumer_pb2.JOB_STATE_QUEUED,
    JobState.RUNNING: consumer_pb2.JOB_STATE_RUNNING,
    JobState.SUCCEEDED: consumer_pb2.JOB_STATE_SUCCEEDED,
    JobState.FAILED: consumer_pb2.JOB_STATE_FAILED,
    JobState.CANCELLED: consumer_pb2.JOB_STATE_CANCELLED,
    JobState.AGGREGATING: consumer_pb2.JOB_STATE_AGGREGATING,
}
_KINDS = {JobKind.SINGLE: consumer_pb2.JOB_KIND_SINGLE, JobKind.GROUP: consumer_pb2.JOB_KIND_GROUP}
_KIND_OF = {v: k for k, v in _KINDS.items()}
_ON_ERROR = {
    OnError.CONTINUE: consumer_pb2.ON_ERROR_CONTINUE,
    OnError.FAIL_FAST: consumer_pb2.ON_ERROR_FAIL_FAST,
}
_ON_ERROR_OF = {v: k for k, v in _ON_ERROR.items()}


def job_spec_from_message(spec: consumer_pb2.JobSpec) -> JobSpecIn:
    """The header of a submission; an unset kind is a single job, an unset policy continue."""
    return JobSpecIn(
        script=spec.script,
        kind=_KIND_OF.get(spec.kind, JobKind.SINGLE),
        name=spec.name,
        script_name=spec.script_name or "script.py",
        options=GroupOptions(
            aggregate_specs=tuple(spec.aggregate),
            aggregate_script=spec.aggregate_script,
            on_error=_ON_ERROR_OF.get(spec.on_error, OnError.CONTINUE),
        ),
        memory_limit_bytes=spec.memory_limit_bytes,
        job_options=JobOptions.of_spec(spec),
    )


async def submission_items(
    messages: AsyncIterator[consumer_pb2.SubmitJobRequest],
) -> AsyncIterator[SubmissionItem]:
    """A SubmitJob request stream as plain submission items."""
    async for message in messages:
        item = message.WhichOneof("item")
        if item == "spec":
            yield job_spec_from_message(message.spec)
        elif item == "input_start":
            yield InputStart(message.input_start.size)
        elif item == "input_data":
            yield message.input_data
        elif item == "input_end":
            yield InputEnd(message.input_end.sha256)
        else:
            raise InvalidRequest("empty SubmitJobRequest")


def timestamp(value: dt.datetime | None) -> Timestamp | None:
    """A protobuf Timestamp, or None for a missing time."""
    if value is None:
        return None
    ts = Timestamp()
    ts.FromDatetime(value.astimezone(dt.UTC))
    return ts


def error_message(error: ErrorView | None) -> common_pb2.TaskError | None:
    """A TaskError message from a domain error."""
    if error is None:
        return None
    return common_pb2.TaskError(
        kind=error.kind, type=error.type, message=error.message, traceback=error.traceback
    )


def job_message(view: JobView) -> consumer_pb2.Job:
    """The wire form of a job snapshot."""
    c = view.counts
    return consumer_pb2.Job(
        id=view.id,
        kind=_KINDS.get(view.kind, consumer_pb2.JOB_KIND_UNSPECIFIED),
        state=_JOB_STATES[view.state],
        name=view.name,
        script_sha256=view.script_sha256,
        tasks=consumer_pb2.TaskCounts(
            total=c.total,
            queued=c.queued,
            running=c.running,
            succeeded=c.succeeded,
            failed=c.failed,
            cancelled=c.cancelled,
        ),
        created_at=timestamp(view.created_at),
        finished_at=timestamp(view.finished_at),
        error=error_message(view.error),
        result_json=view.result_json or b"",
        result_inline=view.result_json is not None,
        result_available=view.result_available,
        aggregate=list(view.aggregate_specs),
        aggregate_script=view.aggregate_script,
        on_error=_ON_ERROR.get(view.on_error, consumer_pb2.ON_ERROR_UNSPECIFIED),
        waiting_reason=view.waiting_reason,
        memory_limit_bytes=view.memory_limit_bytes,
        wall_seconds=view.job_options.wall_seconds,
        cpu_seconds=view.job_options.cpu_seconds,
        max_attempts=view.job_options.max_attempts,
        priority=view.job_options.priority,
        labels=dict(view.job_options.labels),
        idempotency_key=view.job_options.idempotency_key,
    )


def task_result_message(view: TaskResultView) -> consumer_pb2.TaskResult:
    """The wire form of one input's outcome."""
    message = consumer_pb2.TaskResult(
        index=view.index,
        state=view.state,
        result_json=view.result_json or b"",
        result_inline=view.result_json is not None,
        result_size=view.result_size,
        error=error_message(view.error),
    )
    if view.memory is not None:
        message.memory_reservation_bytes = view.memory.reservation_bytes
        message.peak_memory_bytes = view.memory.peak_bytes
        message.out_of_memory_at_bytes.extend(view.memory.out_of_memory_at_bytes)
        message.attempts = view.memory.attempts
        message.estimate_bytes = view.memory.estimate_bytes
        message.estimate_method = view.memory.estimate_method
        message.estimate_confidence = view.memory.estimate_confidence
    return message


def contributor_message(view: ContributorView) -> consumer_pb2.ContributorInfo:
    """The wire form of a contributor listing."""
    return consumer_pb2.ContributorInfo(
        id=view.id,
        name=view.name,
        online=view.online,
        cores=view.cores,
        memory_bytes=view.memory_bytes,
        isolation_level=view.isolation_level,
        insecure=view.insecure,
        running_tasks=view.running_tasks,
        last_seen=timestamp(view.last_seen),
        state=view.state,
        state_reason=view.state_reason,
        load_1m=view.load_1m,
        free_memory_bytes=view.free_memory_bytes,
        cpu_percent=view.cpu_percent,
        disk_free_bytes=view.disk_free_bytes,
        claimed_factor=str(view.claimed_factor),
        machine_factor=str(view.machine_factor),
        factor_flagged=view.factor_flagged,
        factor_note=view.factor_note,
    )


def policy_message(policy: SandboxPolicy) -> common_pb2.SandboxPolicy:
    """The wire form of a sandbox policy."""
    return common_pb2.SandboxPolicy(
        memory_bytes=policy.memory_bytes,
        pids=policy.pids,
        cpu_seconds=policy.cpu_seconds,
        wall_seconds=policy.wall_seconds,
        max_output_bytes=policy.max_output_bytes,
        max_log_bytes=policy.max_log_bytes,
        workdir_bytes=policy.workdir_bytes,
    )


def assignment_message(a: AssignmentView) -> contributor_pb2.Assignment:
    """The wire form of an assignment."""
    return contributor_pb2.Assignment(
        attempt_id=a.attempt_id,
        job_id=a.job_id,
        task_index=a.task_index,
        script_sha256=a.script_sha256,
        input_sha256=a.input_sha256,
        input_size=a.input_size,
        policy=policy_message(a.policy),
        entrypoint=a.entrypoint.value,
        script_name=a.script_name,
        input_inline=a.input_inline or b"",
        has_input_inline=a.input_inline is not None,
        probe_memory=a.probe_memory,
    )


def finished_from_message(msg: contributor_pb2.AttemptFinished) -> FinishedAttempt:
    """A contributor's report as a domain object; InvalidRequest for an unknown outcome."""
    try:
        outcome = OutcomeKind(msg.outcome)
    except ValueError:
        raise InvalidRequest(
            f"attempt {msg.attempt_id} reported an unknown outcome {msg.outcome[:40]!r}"
        ) from None
    error = None
    if msg.HasField("error"):
        error = ErrorView(msg.error.kind, msg.error.type, msg.error.message, msg.error.traceback)
    return FinishedAttempt(
        attempt_id=msg.attempt_id,
        outcome=outcome,
        result_json=msg.result_json
        if outcome is OutcomeKind.OK and not msg.result_sha256
        else None,
        result_sha256=msg.result_sha256,
        error=error,
        wall_seconds=msg.usage.wall_seconds,
        cpu_seconds=msg.usage.cpu_seconds,
        peak_memory_bytes=msg.usage.peak_memory_bytes,
        average_memory_bytes=msg.usage.average_memory_bytes,
        memory_source=msg.usage.memory_source,
        logs=msg.logs,
        estimate=ProbeEstimate(msg.estimate.peak_bytes, msg.estimate.confidence)
        if msg.HasField("estimate")
        else None,
    )


def registration_from_message(msg: contributor_pb2.RegisterRequest) -> Registration:
    """An agent's registration as a domain object."""
    return Registration(
        contributor_id=msg.contributor_id,
        name=msg.name,
        cores=msg.cores,
        memory_bytes=msg.memory_bytes,
        isolation_level=msg.isolation_level,
        insecure=msg.insecure,
        benchmark_score=msg.benchmark_score,
        agent_version=msg.agent_version,
        secret=msg.contributor_secret,
        restarted=msg.restarted,
        draining=msg.draining,
        benchmark=benchmark_from_message(msg.benchmark) if msg.HasField("benchmark") else None,
    )


def benchmark_from_message(msg: contributor_pb2.BenchmarkResult) -> BenchmarkResult:
    """An agent's benchmark as a domain object; InvalidRequest naming a bad part."""
    parts = {name: getattr(msg, name) for name in PART_NAMES}
    try:
        check_parts(parts)
    except BenchmarkError as exc:
        raise InvalidRequest(str(exc)) from None
    return BenchmarkResult(parts, max(msg.cores, 1), msg.seconds)


async def upload_chunks(messages: AsyncIterator[common_pb2.Chunk]) -> AsyncIterator[UploadChunk]:
    """An upload's chunk messages as plain chunks."""
    async for message in messages:
        yield UploadChunk(message.data, message.sha256)


def blob_chunks(blobs: BlobStore, sha256: str) -> Iterator[common_pb2.Chunk]:
    """A stored blob as a chunk stream whose last chunk carries the blob's hash."""
    chunks = blobs.iter_chunks(sha256, CHUNK_SIZE)
    previous = next(chunks, b"")
    for chunk in chunks:
        yield common_pb2.Chunk(data=previous)
        previous = chunk
    yield common_pb2.Chunk(data=previous, sha256=sha256)
