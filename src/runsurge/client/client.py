"""`Client`: the consumer's connection to a coordinator."""

from __future__ import annotations

import io
import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any, BinaryIO

import grpc

from runsurge.client import _wire
from runsurge.client._errors import translate, translated
from runsurge.client.job import Job, JobStatus
from runsurge.config import ClientSettings
from runsurge.errors import ConfigError, InvalidInput
from runsurge.proto.v1 import consumer_pb2, consumer_pb2_grpc

ScriptSource = str | os.PathLike[str] | IO[str] | IO[bytes]
InputSource = str | bytes | os.PathLike[str] | IO[str] | IO[bytes]
WATCH_RECONNECT_SECONDS = 1.0
WATCH_OUTAGE_SECONDS = 30.0


def read_script(script: ScriptSource) -> tuple[bytes, str]:
    """The script's bytes and a file name for tracebacks.

    A Path (or a str naming an existing .py file) is read from disk; any other str is
    taken as the source itself; a file object is read.
    """
    if isinstance(script, os.PathLike) or (
        isinstance(script, str) and "\n" not in script and script.endswith(".py")
    ):
        path = Path(script)
        try:
            return path.read_bytes(), path.name
        except OSError as exc:
            raise InvalidInput(f"cannot read script {path}: {exc.strerror}") from None
    if isinstance(script, str):
        return script.encode(), "script.py"
    data = script.read()
    name = Path(getattr(script, "name", "script.py")).name
    return (data.encode() if isinstance(data, str) else data), name


def open_input(data: InputSource) -> BinaryIO:
    """A binary reader over an input: a str or bytes is the content, a Path is a file."""
    if isinstance(data, str):
        return io.BytesIO(data.encode())
    if isinstance(data, bytes):
        return io.BytesIO(data)
    if isinstance(data, os.PathLike):
        try:
            return open(data, "rb")
        except OSError as exc:
            raise InvalidInput(f"cannot read input {data}: {exc.strerror}") from None
    if isinstance(data.read(0), str):
        return _EncodingReader(data)  # type: ignore[arg-type,return-value]
    return data  # type: ignore[return-value]


class _EncodingReader(io.RawIOBase):
    """Reads a text stream as UTF-8 bytes, piece by piece, never all at once."""

    def __init__(self, text: IO[str]) -> None:
        self._text = text
        self._pending = b""

    def readable(self) -> bool:
        return True

    def read(self, size: int = -1) -> bytes:
        if size < 0:
            return self._pending + self._text.read().encode()
        while len(self._pending) < size:
            piece = self._text.read(size)
            if not piece:
                break
            self._pending += piece.encode()
        out, self._pending = self._pending[:size], self._pending[size:]
        return out


class Client:
    """A connection to a RunSurge coordinator.

    Address and token come from the arguments, else RUNSURGE_COORDINATOR and
    RUNSURGE_TOKEN, else the config file `runsurge up` writes.
    """

    def __init__(
        self,
        coordinator: str | None = None,
        token: str | None = None,
        *,
        settings: ClientSettings | None = None,
        timeout: float = 30.0,
    ) -> None:
        base = settings or ClientSettings()
        resolved = base.model_copy(
            update={k: v for k, v in (("coordinator", coordinator), ("token", token)) if v}
        ).resolved()
        if not resolved.coordinator:
            raise ConfigError(
                "no coordinator configured: pass --coordinator, set RUNSURGE_COORDINATOR, "
                "or start a local one with `runsurge up`"
            )
        self.address = resolved.coordinator
        self._metadata = (("authorization", f"Bearer {resolved.token}"),)
        self._timeout = timeout
        self._channel = grpc.insecure_channel(
            self.address,
            options=[
                ("grpc.max_receive_message_length", 8 * 1024 * 1024),
                ("grpc.max_send_message_length", 8 * 1024 * 1024),
            ],
        )
        self._stub = consumer_pb2_grpc.ConsumerServiceStub(self._channel)

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def close(self) -> None:
        """Close the connection."""
        self._channel.close()

    def submit(self, script: ScriptSource, input: InputSource, *, name: str = "") -> Job:
        """Submit a single job: one script, one input. Returns at once with a Job handle."""
        source, script_name = read_script(script)
        stream = open_input(input)
        try:
            requests = _wire.submit_requests(
                source, script_name, name, iter([stream]), consumer_pb2.JOB_KIND_SINGLE
            )
            with translated(self.address):
                reply = self._stub.SubmitJob(requests, metadata=self._metadata)
        finally:
            stream.close()
        status = _wire.job_status(reply)
        return Job(self, status.id, status)

    def job(self, job_id: str) -> Job:
        """A handle on an existing job (checked to exist)."""
        status = self._get_job(job_id)
        return Job(self, job_id, status)

    def jobs(self, limit: int = 50) -> list[JobStatus]:
        """Your most recent jobs, newest first."""
        with translated(self.address):
            reply = self._stub.ListJobs(
                consumer_pb2.ListJobsRequest(limit=limit),
                metadata=self._metadata,
                timeout=self._timeout,
            )
        return [_wire.job_status(j) for j in reply.jobs]

    def contributors(self) -> list[dict[str, Any]]:
        """The contributors the coordinator knows, online or not."""
        with translated(self.address):
            reply = self._stub.ListContributors(
                consumer_pb2.ListContributorsRequest(),
                metadata=self._metadata,
                timeout=self._timeout,
            )
        return [
            {
                "id": c.id,
                "name": c.name,
                "online": c.online,
                "cores": c.cores,
                "memory_bytes": c.memory_bytes,
                "isolation_level": c.isolation_level,
                "insecure": c.insecure,
                "running_tasks": c.running_tasks,
                "last_seen": c.last_seen.ToDatetime().isoformat() + "Z"
                if c.HasField("last_seen")
                else None,
            }
            for c in reply.contributors
        ]

    # -- used by Job ---------------------------------------------------------------

    def _get_job(self, job_id: str) -> JobStatus:
        with translated(self.address):
            reply = self._stub.GetJob(
                consumer_pb2.GetJobRequest(job_id=job_id),
                metadata=self._metadata,
                timeout=self._timeout,
            )
        return _wire.job_status(reply)

    def _cancel_job(self, job_id: str) -> JobStatus:
        with translated(self.address):
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
                    raise translate(exc, self.address) from None
                # The coordinator restarted or the connection blipped: watch again.
                time.sleep(WATCH_RECONNECT_SECONDS)

    def _fetch_result(self, job_id: str, index: int) -> bytes:
        parts: list[bytes] = []
        with translated(self.address):
            for chunk in self._stub.FetchResult(
                consumer_pb2.FetchResultRequest(job_id=job_id, task_index=index),
                metadata=self._metadata,
            ):
                parts.append(chunk.data)
        return b"".join(parts)
