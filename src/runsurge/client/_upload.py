"""Uploading a job: inputs become readers, readers become the SubmitJob request stream.

An input that cannot be opened or read is an InvalidInput naming it, raised to the
caller. Inputs given as a list are opened before the stream starts; a lazy iterable
can only fail while the stream runs, on gRPC's thread. There the error is kept, the
call cancelled (the coordinator then drops the half-sent job), and the caller gets
the error itself instead of gRPC's "Exception iterating requests!".
"""

from __future__ import annotations

import io
import os
import threading
from collections.abc import Iterable, Iterator, Sequence
from typing import IO, Any, BinaryIO

import grpc

from runsurge.client import _wire
from runsurge.client._errors import translate
from runsurge.errors import InvalidInput, RunSurgeError
from runsurge.proto.v1 import consumer_pb2

InputSource = str | bytes | os.PathLike[str] | IO[str] | IO[bytes]
# The stream starts on gRPC's thread as soon as the call exists; attaching follows at once.
_ATTACH_TIMEOUT_SECONDS = 30.0


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
            raise InvalidInput(f"cannot read input {os.fspath(data)}: {exc.strerror}") from None
    if isinstance(data.read(0), str):
        return _EncodingReader(data)  # type: ignore[arg-type,return-value]
    return data  # type: ignore[return-value]


def check_inputs(inputs: Iterable[InputSource]) -> None:
    """Open and close every file of a list of inputs, so none fails once uploading."""
    if isinstance(inputs, Sequence):
        for item in inputs:
            if isinstance(item, os.PathLike):
                open_input(item).close()


class _EncodingReader(io.RawIOBase):
    """Reads a text stream as UTF-8 bytes, piece by piece, never all at once."""

    def __init__(self, text: IO[str]) -> None:
        self._text = text
        self._pending = b""
        self.name = getattr(text, "name", "")

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


class _GuardedRequests:
    """The request stream of one call; an exception in it cancels the call and is kept."""

    def __init__(self, requests: Iterator[consumer_pb2.SubmitJobRequest]) -> None:
        self._requests = requests
        self._call: grpc.Future | None = None
        self._attached = threading.Event()
        self.error: Exception | None = None

    def attach(self, call: grpc.Future) -> None:
        """The call this stream feeds (known only once the call has started)."""
        self._call = call
        self._attached.set()

    def __iter__(self) -> Iterator[consumer_pb2.SubmitJobRequest]:
        try:
            yield from self._requests
        except Exception as exc:
            self.error = exc
            if not self._attached.wait(_ATTACH_TIMEOUT_SECONDS) or self._call is None:
                raise  # gRPC cancels the call itself; the caller still gets `exc`
            # Cancel rather than end the stream: a stream that ends is a complete job.
            self._call.cancel()


def submit(
    stub: Any,
    spec: consumer_pb2.JobSpec,
    inputs: Iterable[InputSource],
    metadata: tuple[tuple[str, str], ...],
    address: str,
    tls: bool = False,
) -> consumer_pb2.Job:
    """Stream `spec` and `inputs` to SubmitJob; the reply, or the error that stopped it."""
    streams = (open_input(item) for item in inputs)
    requests = _GuardedRequests(_wire.submit_requests(spec, streams))
    call = stub.SubmitJob.future(iter(requests), metadata=metadata)
    requests.attach(call)
    try:
        reply: consumer_pb2.Job = call.result()
    except (grpc.RpcError, grpc.FutureCancelledError) as exc:
        if requests.error is not None:
            raise requests.error from None
        if isinstance(exc, grpc.RpcError):
            raise translate(exc, address, tls) from None
        raise RunSurgeError("the submission was cancelled") from None
    except BaseException:
        call.cancel()  # Ctrl-C: the coordinator drops the half-sent job
        raise
    return reply
