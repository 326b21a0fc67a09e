"""Protobuf → SDK types and request streams for the client (generated code stays here)."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from typing import BinaryIO

from runsurge.client.job import JobStatus, TaskCounts, TaskErrorInfo
from runsurge.proto.v1 import consumer_pb2

CHUNK = 1024 * 1024
STATE_NAMES = {
    consumer_pb2.JOB_STATE_SUBMITTING: "SUBMITTING",
    consumer_pb2.JOB_STATE_QUEUED: "QUEUED",
    consumer_pb2.JOB_STATE_RUNNING: "RUNNING",
    consumer_pb2.JOB_STATE_SUCCEEDED: "SUCCEEDED",
    consumer_pb2.JOB_STATE_FAILED: "FAILED",
    consumer_pb2.JOB_STATE_CANCELLED: "CANCELLED",
}
KIND_NAMES = {consumer_pb2.JOB_KIND_SINGLE: "single", consumer_pb2.JOB_KIND_GROUP: "group"}


def _time(msg: consumer_pb2.Job, field: str) -> dt.datetime | None:
    if not msg.HasField(field):
        return None
    return getattr(msg, field).ToDatetime(tzinfo=dt.UTC)  # type: ignore[no-any-return]


def job_status(msg: consumer_pb2.Job) -> JobStatus:
    """An SDK JobStatus from the wire message."""
    error = None
    if msg.HasField("error"):
        error = TaskErrorInfo(
            msg.error.kind, msg.error.type, msg.error.message, msg.error.traceback
        )
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
    )


def submit_requests(
    script: bytes, script_name: str, name: str, inputs: Iterator[BinaryIO], kind: int
) -> Iterator[consumer_pb2.SubmitJobRequest]:
    """The SubmitJob request stream: spec, then each input in chunks."""
    yield consumer_pb2.SubmitJobRequest(
        spec=consumer_pb2.JobSpec(script=script, kind=kind, name=name, script_name=script_name)
    )
    for stream in inputs:
        yield consumer_pb2.SubmitJobRequest(input_start=consumer_pb2.InputStart())
        while data := stream.read(CHUNK):
            yield consumer_pb2.SubmitJobRequest(input_data=data)
        yield consumer_pb2.SubmitJobRequest(input_end=consumer_pb2.InputEnd())
