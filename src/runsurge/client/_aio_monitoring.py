"""What `AsyncJob` shows of a job while it runs: `monitoring`, read over `grpc.aio`.

Only the reading is here. The event types, how far each stream has been read
(`monitoring.OutputPosition`, `SamplePosition`) and the wire conversions (`_wire`)
are the sync client's; `watch` and `outputs` keep the order of `monitoring.watch` and
`Job.outputs`: each status is read before what it may have made new, so nothing
stored before the final status is missed, and that final status comes last.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING

from runsurge.client import _wire, monitoring
from runsurge.client._errors import translated
from runsurge.client.job import JobStatus
from runsurge.client.monitoring import TaskOutput, TaskSample
from runsurge.proto.v1 import consumer_pb2

if TYPE_CHECKING:
    from runsurge.client._aio_job import AsyncJob
    from runsurge.client.aio import Client


async def task_samples(client: Client, job_id: str, after: int) -> list[TaskSample]:
    """One page of the job's task samples with an id above `after`, oldest first."""
    with translated(client.address, client.tls):
        reply = await client._stub.ListTaskSamples(
            consumer_pb2.ListTaskSamplesRequest(job_id=job_id, after_id=after),
            metadata=client._metadata,
            timeout=client._timeout,
        )
    return [_wire.task_sample(s) for s in reply.samples]


async def task_outputs(
    client: Client, job_id: str, since: dt.datetime | None, after_index: int
) -> list[TaskOutput]:
    """One page of the job's finished outputs after (`since`, `after_index`)."""
    call = client._stub.ListTaskOutputs(
        _wire.task_outputs_request(job_id, since, after_index),
        metadata=client._metadata,
        timeout=client._timeout,
    )
    with translated(client.address, client.tls):
        return [_wire.task_output(o) async for o in call]


class OutputCursor(monitoring.OutputPosition):
    """Follows a job's finished outputs: each is returned once, in finishing order."""

    def __init__(self, client: Client, job_id: str) -> None:
        super().__init__()
        self._client = client
        self._job_id = job_id

    async def new(self) -> list[TaskOutput]:
        """Outputs of inputs that finished since the previous call (all, the first time)."""
        found: list[TaskOutput] = []
        while self.advance(
            page := await task_outputs(self._client, self._job_id, self.since, self.after_index)
        ):
            found.extend(page)
        return found


class SampleCursor(monitoring.SamplePosition):
    """Follows a job's task samples: each is returned once, oldest first."""

    def __init__(self, client: Client, job_id: str, after: int = 0) -> None:
        super().__init__(after)
        self._client = client
        self._job_id = job_id

    async def new(self) -> list[TaskSample]:
        """Samples stored since the previous call (all kept ones, the first time)."""
        found: list[TaskSample] = []
        while self.advance(page := await task_samples(self._client, self._job_id, self.after)):
            found.extend(page)
        return found


async def outputs(job: AsyncJob, follow: bool) -> AsyncIterator[TaskOutput]:
    """`AsyncJob.outputs`: those finished so far, and with `follow` the rest until final."""
    cursor = OutputCursor(job._client, job.id)
    while True:
        done = (await job.status()).done  # before reading: none is missed
        for output in await cursor.new():
            yield output
        if done or not follow:
            return
        await asyncio.sleep(monitoring.WATCH_POLL_SECONDS)


async def watch(
    job: AsyncJob, poll_seconds: float
) -> AsyncIterator[JobStatus | TaskSample | TaskOutput]:
    """`AsyncJob.watch`'s events, in the order `monitoring.watch` gives them."""
    samples = SampleCursor(job._client, job.id)
    outputs = OutputCursor(job._client, job.id)
    last: JobStatus | None = None
    while True:
        status = await job.status()
        if not status.done and status != last:
            yield status
            last = status
        news: list[TaskSample | TaskOutput] = [*await samples.new(), *await outputs.new()]
        for event in news:
            yield event
        if status.done:  # last, after what was stored before it
            yield status
            return
        await asyncio.sleep(poll_seconds)
