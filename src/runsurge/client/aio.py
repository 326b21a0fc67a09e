"""`runsurge.aio.Client`: the consumer SDK for code running inside an asyncio event loop.

The same methods as `runsurge.Client`, awaited, over a `grpc.aio` channel. Everything
that is not I/O is the sync client's own code: where to connect (`Connection`), how a
job's options are validated and become a JobSpec (`single_spec`, `group_spec`), how
inputs become the SubmitJob request stream (`_wire.submit_requests`) and how replies
become SDK types (`_wire`, `_results`). Inputs are read a chunk at a time in a worker
thread, so a large file never sits in memory nor blocks the loop.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Generator, Iterable, Sequence
from typing import Any, Unpack

import grpc

from runsurge.client import _results, _wire
from runsurge.client._aio_job import AsyncJob
from runsurge.client._errors import translate, translated
from runsurge.client._options import JobOptions
from runsurge.client._specs import (
    AggregateSpec,
    Connection,
    ScriptSource,
    group_spec,
    single_spec,
)
from runsurge.client._upload import InputSource, check_inputs, open_input
from runsurge.client.billing import Balance, balance_from
from runsurge.client.job import JobStatus
from runsurge.client.mapping import text_inputs
from runsurge.config import ClientSettings
from runsurge.errors import RunSurgeError
from runsurge.proto.v1 import consumer_pb2, consumer_pb2_grpc
from runsurge.tls import aio_channel
from runsurge.wire_limits import MESSAGE_SIZE_OPTIONS

Result = dict[str, Any]


class AsyncJobFutures(list["asyncio.Future[Result]"]):
    """`Client.map`'s futures, in input order; `job` is the group they belong to."""

    def __init__(self, job: AsyncJob, futures: Iterable[asyncio.Future[Result]]) -> None:
        super().__init__(futures)
        self.job = job


class Client:
    """An asyncio connection to a RunSurge coordinator: `async with Client() as client:`.

    Address, token and TLS are resolved exactly as for `runsurge.Client`. Create it
    inside the event loop that uses it.
    """

    def __init__(
        self,
        coordinator: str | None = None,
        token: str | None = None,
        *,
        settings: ClientSettings | None = None,
        timeout: float = 30.0,
        tls_ca: str | os.PathLike[str] | None = None,
        tls_cert: str | os.PathLike[str] | None = None,
        tls_key: str | os.PathLike[str] | None = None,
    ) -> None:
        target = Connection.resolve(coordinator, token, settings, tls_ca, tls_cert, tls_key)
        self.address = target.address
        self._metadata = target.metadata
        self._timeout = timeout
        self.tls = target.tls.enabled
        self._channel = aio_channel(
            self.address, target.tls.credentials("client"), list(MESSAGE_SIZE_OPTIONS)
        )
        self._stub = consumer_pb2_grpc.ConsumerServiceStub(self._channel)
        self._followers: set[asyncio.Task[None]] = set()  # map()'s result readers

    async def __aenter__(self) -> Client:
        return self

    async def __aexit__(self, *_: object) -> None:
        await self.close()

    async def close(self) -> None:
        """Stop following map() results and close the connection."""
        for task in list(self._followers):
            task.cancel()
        await asyncio.gather(*self._followers, return_exceptions=True)
        await self._channel.close()

    async def submit(
        self,
        script: ScriptSource,
        input: InputSource,
        *,
        name: str = "",
        memory: int | str | None = None,
        **options: Unpack[JobOptions],
    ) -> AsyncJob:
        """Submit a single job (as `runsurge.Client.submit`); an AsyncJob handle."""
        spec = single_spec(script, name, memory, options)
        stream = open_input(input)  # before the call: a missing file fails here
        return await self._submit(spec, [stream])

    async def submit_group(
        self,
        script: ScriptSource,
        inputs: Iterable[InputSource],
        *,
        aggregate: AggregateSpec = None,
        on_error: str = "continue",
        name: str = "",
        memory: int | str | None = None,
        **options: Unpack[JobOptions],
    ) -> AsyncJob:
        """Submit one script with many inputs (as `runsurge.Client.submit_group`).

        `inputs` is a (possibly lazy) iterable, consumed and streamed an input at a
        time; an exception it raises reaches the caller and the half-sent job is dropped.
        """
        spec = group_spec(script, aggregate, on_error, name, memory, options)
        check_inputs(inputs)
        return await self._submit(spec, inputs)

    async def map(
        self,
        script: ScriptSource,
        inputs: Iterable[str],
        *,
        name: str = "",
        memory: int | str | None = None,
        **options: Unpack[JobOptions],
    ) -> AsyncJobFutures:
        """Submit `script` over text `inputs` as one group; an `asyncio.Future` per input.

        Returns once every input is uploaded: futures in input order (with `.job`),
        each resolved as its input finishes with its result dict, or a JobFailed.
        `asyncio.as_completed(futures)` gives them in finishing order,
        `asyncio.gather(*futures)` in input order.
        """
        job = await self.submit_group(
            script, text_inputs(inputs), name=name, memory=memory, **options
        )
        loop = asyncio.get_running_loop()
        status = await job.status()
        futures = AsyncJobFutures(job, (loop.create_future() for _ in range(status.tasks.total)))
        follower = asyncio.create_task(_resolve(job, futures))
        self._followers.add(follower)
        follower.add_done_callback(self._followers.discard)
        return futures

    async def job(self, job_id: str) -> AsyncJob:
        """A handle on an existing job (checked to exist: NotFound otherwise)."""
        job = AsyncJob(self, job_id)
        await job.status()
        return job

    async def jobs(
        self, limit: int = 50, state: str | Sequence[str] = (), name: str = ""
    ) -> list[JobStatus]:
        """Your most recent jobs, newest first; only in `state` (one or several) and
        whose name contains `name` (ignoring case) when given."""
        with translated(self.address, self.tls):
            reply = await self._stub.ListJobs(
                _wire.list_jobs_request(limit, state, name),
                metadata=self._metadata,
                timeout=self._timeout,
            )
        return [_wire.job_status(j) for j in reply.jobs]

    async def contributors(self) -> list[dict[str, Any]]:
        """The contributors the coordinator knows, online or not (as `Client.contributors`)."""
        with translated(self.address, self.tls):
            reply = await self._stub.ListContributors(
                consumer_pb2.ListContributorsRequest(),
                metadata=self._metadata,
                timeout=self._timeout,
            )
        return [_wire.contributor(c) for c in reply.contributors]

    async def balance(self) -> Balance:
        """Your balance, spending limit and what unfinished jobs hold (docs/billing.md)."""
        with translated(self.address, self.tls):
            reply = await self._stub.GetBalance(
                consumer_pb2.GetBalanceRequest(), metadata=self._metadata, timeout=self._timeout
            )
        return balance_from(reply)

    async def _submit(self, spec: consumer_pb2.JobSpec, inputs: Iterable[InputSource]) -> AsyncJob:
        """Write the request stream ourselves, so a bad input raises here, in the caller."""
        requests = _wire.submit_requests(spec, (open_input(item) for item in inputs))
        call = self._stub.SubmitJob(metadata=self._metadata)
        try:
            while (request := await asyncio.to_thread(_next_request, requests)) is not None:
                await call.write(request)
            await call.done_writing()
            reply: consumer_pb2.Job = await call
        except grpc.aio.AioRpcError as exc:
            raise translate(exc, self.address, self.tls) from None
        except asyncio.InvalidStateError:  # the coordinator ended the call: why is in the call
            code, details = await call.code(), await call.details()
            raise RunSurgeError(f"submission refused: {code.name}: {details}") from None
        except BaseException:
            call.cancel()  # a stream that ends is a complete job: cancel, never end it
            requests.close()
            raise
        status = _wire.job_status(reply)
        return AsyncJob(self, status.id, status)

    async def _fetch_result(self, job_id: str, index: int, aggregate: bool = False) -> bytes:
        parts: list[bytes] = []
        call = self._stub.FetchResult(
            consumer_pb2.FetchResultRequest(job_id=job_id, task_index=index, aggregate=aggregate),
            metadata=self._metadata,
        )
        with translated(self.address, self.tls):
            async for chunk in call:
                parts.append(chunk.data)
        return b"".join(parts)


def _next_request(
    requests: Generator[consumer_pb2.SubmitJobRequest],
) -> consumer_pb2.SubmitJobRequest | None:
    """The next request (reading the next chunk of an input), None at the end."""
    return next(requests, None)


async def _resolve(job: AsyncJob, futures: AsyncJobFutures) -> None:
    """Settle each future as its input finishes; all left pending on a lost stream."""
    try:
        async for outcome in job.as_completed():
            future = futures[outcome.index]
            if future.done():
                continue  # cancelled by its caller
            if outcome.ok:
                future.set_result(outcome.result or {})
            else:
                future.set_exception(_results.failure(job.id, outcome))
    except asyncio.CancelledError:
        for future in futures:
            future.cancel()
        raise
    except Exception as exc:
        for future in futures:
            if not future.done():
                future.set_exception(exc)
