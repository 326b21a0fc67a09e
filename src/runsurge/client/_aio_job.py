"""`AsyncJob`: the asyncio twin of `Job`, and the resumable streams it follows.

What a job shows while it runs (`outputs`, `samples`, `watch`) is read in
`_aio_monitoring`, as `Job`'s is in `monitoring`.

Both streams survive a lost connection as the sync ones do (`_results.finished`,
`Client._watch_job`): `as_completed` calls StreamTaskResults again after the position
of the last outcome it yielded, `wait` calls WatchJob again, each for as long as the
sync client allows an outage.
"""

from __future__ import annotations

import asyncio
import inspect
import json
import time
from collections.abc import AsyncIterator, Callable
from typing import TYPE_CHECKING, Any

import grpc

from runsurge.client import _aio_monitoring, _results, _wire
from runsurge.client._errors import translate, translated
from runsurge.client.billing import Invoice, invoice_from
from runsurge.client.client import WATCH_OUTAGE_SECONDS, WATCH_RECONNECT_SECONDS
from runsurge.client.job import FINAL_STATES, InputResult, JobStatus, TaskLogs, job_failure
from runsurge.client.monitoring import TaskOutput, TaskSample
from runsurge.errors import NotFound, RunSurgeError
from runsurge.proto.v1 import consumer_pb2

if TYPE_CHECKING:
    from runsurge.client.aio import Client


class AsyncJob:
    """A handle on a submitted job, for use inside an event loop."""

    def __init__(self, client: Client, job_id: str, status: JobStatus | None = None) -> None:
        self._client = client
        self.id = job_id
        self._last = status

    def __repr__(self) -> str:
        state = self._last.state if self._last else "?"
        return f"<AsyncJob {self.id} {state}>"

    async def status(self) -> JobStatus:
        """The job's current state (one call to the coordinator)."""
        with translated(self._client.address, self._client.tls):
            reply = await self._client._stub.GetJob(
                consumer_pb2.GetJobRequest(job_id=self.id),
                metadata=self._client._metadata,
                timeout=self._client._timeout,
            )
        self._last = _wire.job_status(reply)
        return self._last

    async def wait(
        self,
        timeout: float | None = None,
        on_update: Callable[[JobStatus], object] | None = None,
    ) -> JobStatus:
        """Until the job is final (TimeoutError after `timeout` seconds); its status.

        `on_update` is called with each snapshot as the job changes, as for the sync
        `Job.wait`; it may be a coroutine function, whose result is awaited.
        """
        deadline = None if timeout is None else time.monotonic() + timeout
        async for status in self._watch(deadline):
            self._last = status
            if on_update is not None and inspect.isawaitable(reply := on_update(status)):
                await reply
            if status.done:
                return status
        raise TimeoutError(f"job {self.id} still {self._last.state if self._last else '?'}")

    async def result(self, timeout: float | None = None) -> dict[str, Any]:
        """Wait, then a single job's result or a group's aggregate (as `Job.result`).

        Raises JobFailed (error_type, message, traceback as attributes) when the job
        did not succeed, RunSurgeError for a group that declared no aggregate.
        """
        status = self._last if self._last and self._last.done else await self.wait(timeout)
        if status.state != "SUCCEEDED":
            raise job_failure(status)
        if status.result is not None:
            return status.result
        if status.kind == "group" and not (status.aggregate or status.aggregate_script):
            raise RunSurgeError(
                f"group {self.id} declared no aggregate; iterate job.results() instead"
            )
        parsed: dict[str, Any] = json.loads(
            await self._client._fetch_result(self.id, 0, aggregate=status.kind == "group")
        )
        return parsed

    async def results(self, start: int = 0) -> AsyncIterator[InputResult]:
        """Every input's current outcome in input order, from `start` (as `Job.results`)."""
        client = self._client
        call = client._stub.ListTaskResults(
            consumer_pb2.ListTaskResultsRequest(job_id=self.id, start_index=start),
            metadata=client._metadata,
        )
        with translated(client.address, client.tls):
            async for msg in call:
                yield await self._outcome(msg)

    async def as_completed(self) -> AsyncIterator[InputResult]:
        """Each input's final outcome as it is recorded, in finishing order, each once.

        A failed input is yielded (`ok` false), never raised. After a dropped
        connection or a coordinator restart the stream resumes after the last
        outcome yielded, for up to `_results.RESUME_OUTAGE_SECONDS`.
        """
        client = self._client
        after = 0
        outage_since: float | None = None
        while True:
            call = client._stub.StreamTaskResults(
                consumer_pb2.StreamTaskResultsRequest(job_id=self.id, after_position=after),
                metadata=client._metadata,
            )
            try:
                async for msg in call:
                    outage_since = None
                    outcome = await self._outcome(msg.result)
                    after = msg.position  # before yielding: the consumer may never come back
                    yield outcome
                return
            except grpc.aio.AioRpcError as exc:
                now = time.monotonic()
                outage_since = outage_since or now
                if (
                    exc.code() not in _results._RESUMABLE
                    or now - outage_since > _results.RESUME_OUTAGE_SECONDS
                ):
                    raise translate(exc, client.address, client.tls) from None
                await asyncio.sleep(_results.RESUME_RETRY_SECONDS)

    async def cancel(self) -> JobStatus:
        """Stop the job: queued tasks never run, running ones are killed."""
        with translated(self._client.address, self._client.tls):
            reply = await self._client._stub.CancelJob(
                consumer_pb2.GetJobRequest(job_id=self.id),
                metadata=self._client._metadata,
                timeout=self._client._timeout,
            )
        self._last = _wire.job_status(reply)
        return self._last

    async def logs(
        self, index: int = 0, *, follow: bool = False, timeout: float | None = None
    ) -> TaskLogs:
        """The captured stdout/stderr of input `index` (0 for a single job), as `Job.logs`.

        Empty until an attempt at it finishes; with `follow`, waits until the input is
        final first (TimeoutError after `timeout` seconds). NotFound for an index the
        job does not have.
        """
        logs = await self._task_logs(index)
        if not follow or logs.state in FINAL_STATES:
            return logs
        deadline = None if timeout is None else time.monotonic() + timeout
        # Each change of the job may be this input finishing: look again at each one.
        async for status in self._watch(deadline):
            logs = await self._task_logs(index)
            if logs.state in FINAL_STATES or status.done:
                return logs
        raise TimeoutError(f"input {index} of job {self.id} still {logs.state.lower()}")

    async def outputs(self, follow: bool = False) -> AsyncIterator[TaskOutput]:
        """Each finished input's captured output, in the order the inputs finished.

        Without `follow`, those finished so far; with it, also the rest as they
        finish, until the job is final.
        """
        async for output in _aio_monitoring.outputs(self, follow):
            yield output

    async def samples(self, after: int = 0) -> list[TaskSample]:
        """CPU and memory samples of the job's tasks with an id above `after`, oldest first.

        Poll with the last sample's id to get only new ones (as `Job.samples`).
        """
        return await _aio_monitoring.SampleCursor(self._client, self.id, after).new()

    async def watch(
        self, poll_seconds: float = 1.0
    ) -> AsyncIterator[JobStatus | TaskSample | TaskOutput]:
        """Follow the job until it is final, yielding what happens as `Job.watch` does.

        A `JobStatus` whenever the job changes (the first at once), a `TaskSample` per
        CPU/memory sample of a running task, a `TaskOutput` as an input finishes;
        polls every `poll_seconds`; the last event is the final status.
        """
        async for event in _aio_monitoring.watch(self, poll_seconds):
            yield event

    async def invoice(self) -> Invoice:
        """What the job's attempts were charged so far: per task and in total."""
        with translated(self._client.address, self._client.tls):
            reply = await self._client._stub.GetInvoice(
                consumer_pb2.GetJobRequest(job_id=self.id),
                metadata=self._client._metadata,
                timeout=self._client._timeout,
            )
        return invoice_from(reply)

    async def _task_logs(self, index: int) -> TaskLogs:
        if index < 0:
            raise NotFound(f"job {self.id} has no input number {index}")
        with translated(self._client.address, self._client.tls):
            reply = await self._client._stub.GetTaskLogs(
                consumer_pb2.GetTaskLogsRequest(job_id=self.id, task_index=index),
                metadata=self._client._metadata,
                timeout=self._client._timeout,
            )
        return TaskLogs(reply.logs.decode("utf-8", "replace"), reply.truncated, reply.state)

    async def _outcome(self, msg: consumer_pb2.TaskResult) -> InputResult:
        fetched = None
        if _results.needs_fetch(msg):
            fetched = json.loads(await self._client._fetch_result(self.id, msg.index))
        return _results.outcome(msg, fetched)

    async def _watch(self, deadline: float | None) -> AsyncIterator[JobStatus]:
        """Job snapshots as they change, until final or `deadline`; reconnects on outage."""
        client = self._client
        outage_since: float | None = None
        while True:
            remaining = None if deadline is None else deadline - time.monotonic()
            if remaining is not None and remaining <= 0:
                return
            call = client._stub.WatchJob(
                consumer_pb2.GetJobRequest(job_id=self.id),
                metadata=client._metadata,
                timeout=remaining,
            )
            try:
                async for msg in call:
                    outage_since = None
                    status = _wire.job_status(msg)
                    yield status
                    if status.done:
                        return
            except grpc.aio.AioRpcError as exc:
                if exc.code() == grpc.StatusCode.DEADLINE_EXCEEDED:
                    return
                now = time.monotonic()
                outage_since = outage_since or now
                if (
                    exc.code() != grpc.StatusCode.UNAVAILABLE
                    or now - outage_since > WATCH_OUTAGE_SECONDS
                ):
                    raise translate(exc, client.address, client.tls) from None
                await asyncio.sleep(WATCH_RECONNECT_SECONDS)
