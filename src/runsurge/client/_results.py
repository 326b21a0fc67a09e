"""Per-input outcomes off the wire: listed in input order, or streamed as they finish.

`finished` follows `StreamTaskResults` and survives a lost connection: it remembers
the position of the last outcome it yielded and, when the stream breaks because the
coordinator went away (a restart, a network blip), calls again after that position
for up to RESUME_OUTAGE_SECONDS. The positions are stored by the coordinator, so a
restarted coordinator resumes the stream exactly where it broke.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import grpc

from runsurge.client import _wire
from runsurge.client._errors import translate, translated
from runsurge.client.job import InputResult
from runsurge.errors import JobFailed
from runsurge.proto.v1 import consumer_pb2

if TYPE_CHECKING:
    from runsurge.client.client import Client

RESUME_OUTAGE_SECONDS = 60.0
RESUME_RETRY_SECONDS = 0.5
# How a stream ends when its coordinator stops or the connection drops under it.
_RESUMABLE = {grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.CANCELLED}


def input_result(client: Client, job_id: str, msg: consumer_pb2.TaskResult) -> InputResult:
    """An SDK InputResult; a result too large to travel inline is fetched here."""
    fetched = None
    if needs_fetch(msg):
        fetched = json.loads(client._fetch_result(job_id, msg.index))
    return outcome(msg, fetched)


def needs_fetch(msg: consumer_pb2.TaskResult) -> bool:
    """Whether a succeeded input's result must be fetched (too large to travel inline)."""
    return not msg.result_inline and msg.state == "SUCCEEDED"


def outcome(msg: consumer_pb2.TaskResult, fetched: dict[str, Any] | None) -> InputResult:
    """The InputResult of `msg`, with `fetched` as its result when it was not inline."""
    result = json.loads(msg.result_json) if msg.result_inline else fetched
    error = _wire.error_info(msg.error) if msg.HasField("error") else None
    return InputResult(msg.index, msg.state, result, error, _wire.task_memory(msg))


def listed(client: Client, job_id: str, start: int) -> Iterator[InputResult]:
    """Each input's current outcome in input order, from index `start` on."""
    with translated(client.address, client.tls):
        for msg in client._stub.ListTaskResults(
            consumer_pb2.ListTaskResultsRequest(job_id=job_id, start_index=start),
            metadata=client._metadata,
        ):
            yield input_result(client, job_id, msg)


def finished(client: Client, job_id: str) -> Iterator[InputResult]:
    """Each input's final outcome as it is recorded, in finishing order, each once."""
    after = 0
    outage_since: float | None = None
    while True:
        call = client._stub.StreamTaskResults(
            consumer_pb2.StreamTaskResultsRequest(job_id=job_id, after_position=after),
            metadata=client._metadata,
        )
        try:
            for msg in call:
                outage_since = None
                outcome = input_result(client, job_id, msg.result)
                after = msg.position  # before yielding: the consumer may never come back
                yield outcome
            return
        except grpc.RpcError as exc:
            code = exc.code() if isinstance(exc, grpc.Call) else None
            now = time.monotonic()
            outage_since = outage_since or now
            if code not in _RESUMABLE or now - outage_since > RESUME_OUTAGE_SECONDS:
                raise translate(exc, client.address, client.tls) from None
            time.sleep(RESUME_RETRY_SECONDS)


def failure(job_id: str, outcome: InputResult) -> JobFailed:
    """The error a failed (or cancelled) input raises where its result was expected."""
    error = outcome.error
    state = outcome.state.lower()
    detail = error.describe() if error is not None else state
    return JobFailed(
        f"input {outcome.index} of job {job_id} {state}: {detail}",
        job_id=job_id,
        index=outcome.index,
        kind=error.kind if error is not None else outcome.state,
        error_type=error.type if error is not None else "",
        message=error.message if error is not None else state,
        traceback=error.traceback if error is not None else "",
    )
