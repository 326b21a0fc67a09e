"""Protobuf ⇄ domain conversions and channel settings for the agent (only here)."""

from __future__ import annotations

from collections.abc import Iterator

from runsurge.billing.benchmark import BenchmarkResult
from runsurge.proto.v1 import common_pb2, contributor_pb2
from runsurge.readings import NodeReading, TaskReading
from runsurge.sandbox.outcome import Outcome
from runsurge.sandbox.policy import SandboxPolicy
from runsurge.wire_limits import MESSAGE_SIZE_OPTIONS

CHANNEL_OPTIONS = [
    *MESSAGE_SIZE_OPTIONS,
    ("grpc.keepalive_time_ms", 20_000),
    ("grpc.keepalive_timeout_ms", 10_000),
]


def bearer(token: str) -> tuple[tuple[str, str], ...]:
    """Call metadata carrying a bearer token."""
    return (("authorization", f"Bearer {token}"),)


def policy_from_message(msg: common_pb2.SandboxPolicy) -> SandboxPolicy:
    """The coordinator's limits, with defaults for anything it left unset."""
    default = SandboxPolicy()
    return SandboxPolicy(
        memory_bytes=msg.memory_bytes or default.memory_bytes,
        pids=msg.pids or default.pids,
        cpu_seconds=msg.cpu_seconds or default.cpu_seconds,
        wall_seconds=msg.wall_seconds or default.wall_seconds,
        max_output_bytes=msg.max_output_bytes or default.max_output_bytes,
        max_log_bytes=msg.max_log_bytes or default.max_log_bytes,
        workdir_bytes=msg.workdir_bytes or default.workdir_bytes,
    )


def chunks(data: bytes, size: int) -> Iterator[common_pb2.Chunk]:
    """A payload as upload chunks, the last one carrying nothing extra."""
    for offset in range(0, max(len(data), 1), size):
        yield common_pb2.Chunk(data=data[offset : offset + size])


def finished_message(
    attempt_id: int, outcome: Outcome, inline_result: bytes, result_sha: str
) -> contributor_pb2.AttemptFinished:
    """An AttemptFinished report for an outcome."""
    usage = outcome.usage
    msg = contributor_pb2.AttemptFinished(
        attempt_id=attempt_id,
        outcome=outcome.kind.value,
        result_json=inline_result,
        result_sha256=result_sha,
        usage=common_pb2.Usage(
            wall_seconds=usage.wall_seconds,
            cpu_seconds=usage.cpu_seconds,
            peak_memory_bytes=usage.peak_memory_bytes,
            average_memory_bytes=usage.average_memory_bytes,
            samples=usage.samples,
            memory_source=usage.memory_source,
        ),
        logs=outcome.logs,
        logs_truncated=outcome.logs_truncated,
    )
    if outcome.error is not None:
        msg.error.CopyFrom(
            common_pb2.TaskError(
                kind=outcome.kind.value,
                type=outcome.error.type,
                message=outcome.error.message,
                traceback=outcome.error.traceback,
            )
        )
    return msg


def node_sample_message(reading: NodeReading) -> contributor_pb2.AgentMessage:
    """A node sample for the work stream."""
    return contributor_pb2.AgentMessage(
        node_sample=contributor_pb2.NodeSample(
            cpu_percent=reading.cpu_percent,
            memory_used_bytes=reading.memory_used_bytes,
            memory_free_bytes=reading.memory_free_bytes,
            load_1m=reading.load_1m,
            disk_free_bytes=reading.disk_free_bytes,
        )
    )


def task_samples_message(readings: list[TaskReading]) -> contributor_pb2.AgentMessage:
    """Every running attempt's reading in one message."""
    return contributor_pb2.AgentMessage(
        task_samples=contributor_pb2.TaskSamples(
            samples=[
                contributor_pb2.TaskSample(
                    attempt_id=r.attempt_id, cpu_percent=r.cpu_percent, memory_bytes=r.memory_bytes
                )
                for r in readings
            ]
        )
    )


def benchmark_message(result: BenchmarkResult) -> contributor_pb2.BenchmarkResult:
    """The wire form of a benchmark run: its parts, cores and duration."""
    return contributor_pb2.BenchmarkResult(
        **result.parts, cores=result.cores, seconds=result.seconds
    )
