"""Protobuf ⇄ domain conversions of live monitoring: samples and finished outputs."""

from __future__ import annotations

import datetime as dt

from google.protobuf.timestamp_pb2 import Timestamp

from runsurge.coordinator.outputs import TaskOutputView
from runsurge.coordinator.samples import TaskSampleView
from runsurge.proto.v1 import consumer_pb2, contributor_pb2
from runsurge.readings import NodeReading, TaskReading


def _timestamp(value: dt.datetime) -> Timestamp:
    stamp = Timestamp()
    stamp.FromDatetime(value)
    return stamp


def node_reading(msg: contributor_pb2.NodeSample) -> NodeReading:
    """An agent's node sample."""
    return NodeReading(
        cpu_percent=msg.cpu_percent,
        memory_used_bytes=msg.memory_used_bytes,
        memory_free_bytes=msg.memory_free_bytes,
        load_1m=msg.load_1m,
        disk_free_bytes=msg.disk_free_bytes,
    )


def task_readings(msg: contributor_pb2.TaskSamples) -> list[TaskReading]:
    """An agent's batch of task samples."""
    return [TaskReading(s.attempt_id, s.cpu_percent, s.memory_bytes) for s in msg.samples]


def task_samples_message(views: list[TaskSampleView]) -> consumer_pb2.ListTaskSamplesResponse:
    """Stored task samples for their job's consumer."""
    return consumer_pb2.ListTaskSamplesResponse(
        samples=[
            consumer_pb2.TaskSampleInfo(
                id=v.id,
                task_index=v.task_index,
                attempt_id=v.attempt_id,
                at=_timestamp(v.at),
                cpu_percent=v.cpu_percent,
                memory_bytes=v.memory_bytes,
            )
            for v in views
        ]
    )


def outputs_cursor(msg: consumer_pb2.ListTaskOutputsRequest) -> tuple[dt.datetime | None, int]:
    """The (finished at, index) cursor of a ListTaskOutputs request."""
    if not msg.HasField("since"):
        return None, 0
    return msg.since.ToDatetime(tzinfo=dt.UTC), msg.after_index


def task_output_message(view: TaskOutputView) -> consumer_pb2.TaskOutput:
    """One finished input's output."""
    return consumer_pb2.TaskOutput(
        task_index=view.index,
        state=view.state,
        logs=view.logs,
        truncated=view.truncated,
        finished_at=_timestamp(view.finished_at),
    )
