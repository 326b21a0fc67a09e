"""Protobuf → SDK types and request streams for the client (generated code stays here)."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Generator, Iterator, Sequence
from typing import Any, BinaryIO, Literal

from google.protobuf.timestamp_pb2 import Timestamp

from runsurge.client.job import JobStatus, TaskCounts, TaskErrorInfo, TaskMemory
from runsurge.client.monitoring import TaskOutput, TaskSample
from runsurge.errors import InvalidInput
from runsurge.proto.v1 import common_pb2, consumer_pb2

CHUNK = 1024 * 1024
STATE_NAMES = {
    consumer_pb2.JOB_STATE_SUBMITTING: "SUBMITTING",
    consumer_pb2.JOB_STATE_QUEUED: "QUEUED",
    consumer_pb2.JOB_STATE_RUNNING: "RUNNING",
    consumer_pb2.JOB_STATE_SUCCEEDED: "SUCCEEDED",
    consumer_pb2.JOB_STATE_FAILED: "FAILED",
    consumer_pb2.JOB_STATE_CANCELLED: "CANCELLED",
    consumer_pb2.JOB_STATE_AGGREGATING: "AGGREGATING",
}
ON_ERROR = {
    "continue": consumer_pb2.ON_ERROR_CONTINUE,
    "fail-fast": consumer_pb2.ON_ERROR_FAIL_FAST,
}
ON_ERROR_NAMES = {v: k for k, v in ON_ERROR.items()}
KIND_NAMES = {consumer_pb2.JOB_KIND_SINGLE: "single", consumer_pb2.JOB_KIND_GROUP: "group"}


def _time(msg: consumer_pb2.Job, field: Literal["created_at", "finished_at"]) -> dt.datetime | None:
    if not msg.HasField(field):
        return None
    stamp: Timestamp = getattr(msg, field)
    return stamp.ToDatetime(tzinfo=dt.UTC)


def job_status(msg: consumer_pb2.Job) -> JobStatus:
    """An SDK JobStatus from the wire message."""
    error = error_info(msg.error) if msg.HasField("error") else None
    c = msg.tasks
    return JobStatus(
        id=msg.id,
        kind=KIND_NAMES.get(msg.kind, "single"),
        state=STATE_NAMES.get(msg.state, "UNKNOWN"),
        name=msg.name,
        script_sha256=msg.script_sha256,
        tasks=TaskCounts(c.total, c.queued, c.running, c.succeeded, c.failed, c.cancelled),
        created_at=_time(msg, "created_at"),
        finished_at=_time(msg, "finished_at"),
        error=error,
        result=json.loads(msg.result_json) if msg.result_inline else None,
        aggregate=list(msg.aggregate),
        aggregate_script=msg.aggregate_script,
        on_error=ON_ERROR_NAMES.get(msg.on_error, "continue"),
        waiting_reason=msg.waiting_reason,
        memory_limit_bytes=msg.memory_limit_bytes,
        wall_seconds=msg.wall_seconds,
        cpu_seconds=msg.cpu_seconds,
        max_attempts=msg.max_attempts,
        priority=msg.priority,
        labels=dict(sorted(msg.labels.items())),
        idempotency_key=msg.idempotency_key,
    )


def task_memory(msg: consumer_pb2.TaskResult) -> TaskMemory:
    """What one listed input reserved, used, and ran out of memory at."""
    return TaskMemory(
        reservation_bytes=msg.memory_reservation_bytes,
        peak_bytes=msg.peak_memory_bytes,
        out_of_memory_at_bytes=list(msg.out_of_memory_at_bytes),
        attempts=msg.attempts,
        estimate_bytes=msg.estimate_bytes,
        estimate_method=msg.estimate_method or "default",
        estimate_confidence=msg.estimate_confidence,
    )


def error_info(msg: common_pb2.TaskError) -> TaskErrorInfo:
    """An SDK error from the wire message."""
    return TaskErrorInfo(msg.kind, msg.type, msg.message, msg.traceback)


def list_jobs_request(
    limit: int, state: str | Sequence[str], name: str
) -> consumer_pb2.ListJobsRequest:
    """The ListJobs request of `jobs(limit, state, name)`: `state` is one state or several."""
    states = [state] if isinstance(state, str) else list(state)
    return consumer_pb2.ListJobsRequest(limit=limit, states=states, name_contains=name)


def contributor(c: consumer_pb2.ContributorInfo) -> dict[str, Any]:
    """One row of `Client.contributors()`: what the coordinator knows of a contributor."""
    return {
        "id": c.id,
        "name": c.name,
        "online": c.online,
        "cores": c.cores,
        "memory_bytes": c.memory_bytes,
        "isolation_level": c.isolation_level,
        "insecure": c.insecure,
        "running_tasks": c.running_tasks,
        "state": c.state or ("ONLINE" if c.online else "OFFLINE"),
        "state_reason": c.state_reason,
        "claimed_factor": c.claimed_factor or "1.000000",
        "machine_factor": c.machine_factor or "1.000000",
        "factor_flagged": c.factor_flagged,
        "factor_note": c.factor_note,
        "last_seen": c.last_seen.ToDatetime().isoformat() + "Z"
        if c.HasField("last_seen")
        else None,
        "load_1m": c.load_1m,
        "free_memory_bytes": c.free_memory_bytes,
        "cpu_percent": c.cpu_percent,
        "disk_free_bytes": c.disk_free_bytes,
    }


def task_sample(s: consumer_pb2.TaskSampleInfo) -> TaskSample:
    """An SDK TaskSample from the wire message."""
    return TaskSample(
        s.id,
        s.task_index,
        s.attempt_id,
        s.at.ToDatetime(tzinfo=dt.UTC),
        s.cpu_percent,
        s.memory_bytes,
    )


def task_outputs_request(
    job_id: str, since: dt.datetime | None, after_index: int
) -> consumer_pb2.ListTaskOutputsRequest:
    """The ListTaskOutputs request for the outputs after (`since`, `after_index`)."""
    request = consumer_pb2.ListTaskOutputsRequest(job_id=job_id, after_index=after_index)
    if since is not None:
        request.since.FromDatetime(since)
    return request


def task_output(o: consumer_pb2.TaskOutput) -> TaskOutput:
    """An SDK TaskOutput from the wire message (undecodable bytes replaced)."""
    return TaskOutput(
        o.task_index,
        o.state,
        o.logs.decode("utf-8", "replace"),
        o.truncated,
        o.finished_at.ToDatetime(tzinfo=dt.UTC),
    )


def submit_requests(
    spec: consumer_pb2.JobSpec, inputs: Iterator[BinaryIO]
) -> Generator[consumer_pb2.SubmitJobRequest]:
    """The SubmitJob request stream: spec, then each input in chunks (closed once sent).

    An input that fails while being read raises InvalidInput naming it.
    """
    yield consumer_pb2.SubmitJobRequest(spec=spec)
    for index, stream in enumerate(inputs):
        try:
            yield consumer_pb2.SubmitJobRequest(input_start=consumer_pb2.InputStart())
            while data := _read_chunk(stream, index):
                yield consumer_pb2.SubmitJobRequest(input_data=data)
            yield consumer_pb2.SubmitJobRequest(input_end=consumer_pb2.InputEnd())
        finally:
            stream.close()


def _read_chunk(stream: BinaryIO, index: int) -> bytes:
    try:
        return stream.read(CHUNK)
    except (OSError, UnicodeError) as exc:
        name = getattr(stream, "name", "") or f"#{index}"
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        raise InvalidInput(f"cannot read input {name}: {reason}") from None
