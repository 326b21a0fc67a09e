"""`Client`: the consumer's connection to a coordinator."""

from __future__ import annotations

import datetime as dt
import os
import time
from collections.abc import Iterable, Iterator, Sequence
from typing import Any, Unpack

import grpc

from runsurge.client import _results, _upload, _wire
from runsurge.client._errors import translate, translated
from runsurge.client._options import JobOptions, LocalOptions
from runsurge.client._specs import (
    AggregateSpec,
    Connection,
    ScriptSource,
    group_spec,
    single_spec,
)
from runsurge.client._upload import InputSource, check_inputs, open_input
from runsurge.client.billing import Balance, Invoice, balance_from, invoice_from
from runsurge.client.job import InputResult, Job, JobStatus, TaskLogs
from runsurge.client.mapping import JobFutures, map_futures
from runsurge.client.monitoring import TaskOutput, TaskSample
from runsurge.config import ClientSettings
from runsurge.errors import NotFound
from runsurge.proto.v1 import consumer_pb2, consumer_pb2_grpc
from runsurge.tls import channel
from runsurge.wire_limits import MESSAGE_SIZE_OPTIONS

WATCH_RECONNECT_SECONDS = 1.0
WATCH_OUTAGE_SECONDS = 30.0


class Client:
    """A connection to a RunSurge coordinator.

    Address and token come from the arguments, else RUNSURGE_COORDINATOR and
    RUNSURGE_TOKEN, else the config file `runsurge up` writes. `tls_ca` (the CA that
    signed the coordinator's certificate) turns TLS on, else RUNSURGE_TLS_CA, else the
    config file's; `tls_cert` and `tls_key` add a client certificate.

    `local=True` needs no coordinator: jobs run on this machine, through the
    contributor's harness (`runsurge.client.local.LocalClient`, which takes `workers`,
    `scan` and `require_sandbox`; docs/sdk.md, "Local mode").
    """

    def __new__(cls, *args: Any, local: bool = False, **kwargs: Any) -> Client:
        if local and cls is Client:
            from runsurge.client.local import LocalClient

            return super().__new__(LocalClient)
        return super().__new__(cls)

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
        local: bool = False,
        **local_options: Unpack[LocalOptions],
    ) -> None:
        if local_options:
            names = ", ".join(sorted(local_options))
            raise TypeError(f"{names} applies to Client(local=True) only")
        target = Connection.resolve(coordinator, token, settings, tls_ca, tls_cert, tls_key)
        self.address = target.address
        self._metadata = target.metadata
        self._timeout = timeout
        self.tls = target.tls.enabled  # whether the channel is TLS (errors hint by it)
        self._channel = channel(
            self.address, target.tls, "client", options=list(MESSAGE_SIZE_OPTIONS)
        )
        self._stub = consumer_pb2_grpc.ConsumerServiceStub(self._channel)

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def close(self) -> None:
        """Close the connection."""
        self._channel.close()

    def submit(
        self,
        script: ScriptSource,
        input: InputSource,
        *,
        name: str = "",
        memory: int | str | None = None,
        **options: Unpack[JobOptions],
    ) -> Job:
        """Submit a single job: one script, one input. Returns at once with a Job handle.

        `memory` caps the task's memory (bytes, or a size such as "2GiB"): it is never
        given more, and fails saying so if it needs more. `options` are the per-job
        options of docs/sdk.md (wall_time, cpu_time, max_attempts, priority, labels,
        idempotency_key), each refused with InvalidRequest above the coordinator's
        maximum. Raises InvalidInput, naming the file, when the input cannot be read.
        """
        spec = single_spec(script, name, memory, options)
        stream = open_input(input)  # before the call: a missing file fails here
        try:
            return self._submit(spec, [stream])
        finally:
            stream.close()

    def submit_group(
        self,
        script: ScriptSource,
        inputs: Iterable[InputSource],
        *,
        aggregate: AggregateSpec = None,
        on_error: str = "continue",
        name: str = "",
        memory: int | str | None = None,
        **options: Unpack[JobOptions],
    ) -> Job:
        """Submit one script with many inputs; returns once every input is uploaded.

        `inputs` may be any iterable, a generator included; it is consumed lazily and
        each input streamed, so no group needs to fit in memory. `aggregate` is a list
        of "FIELD=REDUCER" specs (or a {field: reducer} dict) for built-in reducers,
        or "script" to run the script's own `aggregate(results) -> dict`.
        `on_error` is "continue" (aggregate what succeeded) or "fail-fast".
        `memory` caps each task's memory and `options` apply, as for `submit`.

        The files of a list of inputs are opened before anything is sent; an input that
        cannot be read raises InvalidInput naming it. An exception raised by a lazy
        `inputs` reaches the caller as itself, and the half-sent job is dropped.
        """
        spec = group_spec(script, aggregate, on_error, name, memory, options)
        check_inputs(inputs)
        return self._submit(spec, inputs)

    def map(
        self,
        script: ScriptSource,
        inputs: Iterable[str],
        *,
        name: str = "",
        memory: int | str | None = None,
        **options: Unpack[JobOptions],
    ) -> JobFutures:
        """Submit `script` over text `inputs` as one group; one Future per input.

        Returns once every input is uploaded: a list of `concurrent.futures.Future`
        in input order (with `.job`), each resolved as its input finishes, with the
        result dict or a JobFailed. Inputs must be `str` (TypeError otherwise).
        `memory` and `options` are as for `submit`.
        """
        return map_futures(self, script, inputs, name=name, memory=memory, **options)

    def _submit(self, spec: consumer_pb2.JobSpec, inputs: Iterable[InputSource]) -> Job:
        reply = _upload.submit(self._stub, spec, inputs, self._metadata, self.address, self.tls)
        status = _wire.job_status(reply)
        return Job(self, status.id, status)

    def job(self, job_id: str) -> Job:
        """A handle on an existing job (checked to exist)."""
        status = self._get_job(job_id)
        return Job(self, job_id, status)

    def jobs(
        self, limit: int = 50, state: str | Sequence[str] = (), name: str = ""
    ) -> list[JobStatus]:
        """Your most recent jobs, newest first; only in `state` (one or several) and
        whose name contains `name` (ignoring case) when given."""
        with translated(self.address, self.tls):
            reply = self._stub.ListJobs(
                _wire.list_jobs_request(limit, state, name),
                metadata=self._metadata,
                timeout=self._timeout,
            )
        return [_wire.job_status(j) for j in reply.jobs]

    def contributors(self) -> list[dict[str, Any]]:
        """The contributors the coordinator knows, online or not."""
        with translated(self.address, self.tls):
            reply = self._stub.ListContributors(
                consumer_pb2.ListContributorsRequest(),
                metadata=self._metadata,
                timeout=self._timeout,
            )
        return [_wire.contributor(c) for c in reply.contributors]

    def _task_samples(self, job_id: str, after: int) -> list[TaskSample]:
        with translated(self.address, self.tls):
            reply = self._stub.ListTaskSamples(
                consumer_pb2.ListTaskSamplesRequest(job_id=job_id, after_id=after),
                metadata=self._metadata,
                timeout=self._timeout,
            )
        return [_wire.task_sample(s) for s in reply.samples]

    def _task_outputs(
        self, job_id: str, since: dt.datetime | None, after_index: int
    ) -> list[TaskOutput]:
        request = _wire.task_outputs_request(job_id, since, after_index)
        with translated(self.address, self.tls):
            call = self._stub.ListTaskOutputs(
                request, metadata=self._metadata, timeout=self._timeout
            )
            return [_wire.task_output(o) for o in call]

    def balance(self) -> Balance:
        """Your balance, spending limit and what unfinished jobs hold (docs/billing.md)."""
        with translated(self.address, self.tls):
            reply = self._stub.GetBalance(
                consumer_pb2.GetBalanceRequest(), metadata=self._metadata, timeout=self._timeout
            )
        return balance_from(reply)

    # -- used by Job ---------------------------------------------------------------

    def _invoice(self, job_id: str) -> Invoice:
        with translated(self.address, self.tls):
            reply = self._stub.GetInvoice(
                consumer_pb2.GetJobRequest(job_id=job_id),
                metadata=self._metadata,
                timeout=self._timeout,
            )
        return invoice_from(reply)

    def _get_job(self, job_id: str) -> JobStatus:
        with translated(self.address, self.tls):
            reply = self._stub.GetJob(
                consumer_pb2.GetJobRequest(job_id=job_id),
                metadata=self._metadata,
                timeout=self._timeout,
            )
        return _wire.job_status(reply)

    def _cancel_job(self, job_id: str) -> JobStatus:
        with translated(self.address, self.tls):
            reply = self._stub.CancelJob(
                consumer_pb2.GetJobRequest(job_id=job_id),
                metadata=self._metadata,
                timeout=self._timeout,
            )
        return _wire.job_status(reply)

    def _watch_job(self, job_id: str, deadline: float | None) -> Iterator[JobStatus]:
        """Job snapshots as they change, until final or `deadline` (monotonic).

        A dropped connection (coordinator restart) is retried for up to
        WATCH_OUTAGE_SECONDS before the wait gives up with CoordinatorUnreachable.
        """
        outage_since: float | None = None
        while True:
            remaining = None if deadline is None else deadline - time.monotonic()
            if remaining is not None and remaining <= 0:
                return
            call = self._stub.WatchJob(
                consumer_pb2.GetJobRequest(job_id=job_id),
                metadata=self._metadata,
                timeout=remaining,
            )
            try:
                for msg in call:
                    outage_since = None
                    status = _wire.job_status(msg)
                    yield status
                    if status.done:
                        return
            except grpc.RpcError as exc:
                code = exc.code() if isinstance(exc, grpc.Call) else None
                if code == grpc.StatusCode.DEADLINE_EXCEEDED:
                    return
                now = time.monotonic()
                outage_since = outage_since or now
                if code != grpc.StatusCode.UNAVAILABLE or now - outage_since > WATCH_OUTAGE_SECONDS:
                    raise translate(exc, self.address, self.tls) from None
                # The coordinator restarted or the connection blipped: watch again.
                time.sleep(WATCH_RECONNECT_SECONDS)

    def _fetch_result(self, job_id: str, index: int, aggregate: bool = False) -> bytes:
        parts: list[bytes] = []
        with translated(self.address, self.tls):
            for chunk in self._stub.FetchResult(
                consumer_pb2.FetchResultRequest(
                    job_id=job_id, task_index=index, aggregate=aggregate
                ),
                metadata=self._metadata,
            ):
                parts.append(chunk.data)
        return b"".join(parts)

    def _task_logs(self, job_id: str, index: int) -> TaskLogs:
        if index < 0:
            raise NotFound(f"job {job_id} has no input number {index}")
        with translated(self.address, self.tls):
            reply = self._stub.GetTaskLogs(
                consumer_pb2.GetTaskLogsRequest(job_id=job_id, task_index=index),
                metadata=self._metadata,
                timeout=self._timeout,
            )
        return TaskLogs(reply.logs.decode("utf-8", "replace"), reply.truncated, reply.state)

    def _task_results(self, job_id: str, start: int) -> Iterator[InputResult]:
        return _results.listed(self, job_id, start)

    def _finished_results(self, job_id: str) -> Iterator[InputResult]:
        return _results.finished(self, job_id)
