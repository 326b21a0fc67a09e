"""The agent's side of the result channel: parse the harness's frames and cap the logs.

The harness (``harness.py``) writes, on a pipe only its reporter process holds,
``HELLO [RESULT | ERROR] EXIT``; each frame carries the per-run nonce the agent
passed on the control fd.  `FrameReader` accepts exactly that sequence and nothing
else: a wrong magic, nonce, kind or order, or any byte after EXIT, is a protocol
violation.  It never buffers more than ``max_output_bytes`` of payload: a frame that
announces more is reported as too large before its payload is read.

Logs (the worker's stdout and stderr, one pipe) are never parsed; `LogCapture`
keeps the first ``max_log_bytes`` and counts the rest.
"""

from __future__ import annotations

import hmac
import os
from dataclasses import dataclass

from runsurge.sandbox import harness
from runsurge.sandbox.outcome import ScriptError
from runsurge.strict_json import StrictJSONError, parse_object

NONCE_BYTES = harness.NONCE_BYTES
_CONTROL_PAYLOAD_LIMIT = 64 * 1024  # HELLO and EXIT payloads are tiny JSON


def new_nonce() -> bytes:
    """A fresh random per-run nonce."""
    return os.urandom(NONCE_BYTES)


@dataclass(frozen=True)
class ExitReport:
    """How the worker ended, as the reporter saw it."""

    exit_code: int | None
    signal: int | None
    problem: str | None  # one of harness.PROBLEM_*, or None
    result_bytes: int  # the size the worker announced


@dataclass
class HarnessReport:
    """Everything the result channel said during one run."""

    hello: bool = False
    result: bytes | None = None
    error: ScriptError | None = None
    exit: ExitReport | None = None
    violation: str | None = None  # why the channel's content cannot be trusted
    too_large: int | None = None  # announced payload size beyond the cap


class FrameReader:
    """Incremental, bounded parser for the harness's frames."""

    def __init__(self, nonce: bytes, max_output_bytes: int) -> None:
        self._nonce = nonce
        self._max_output = max_output_bytes
        self._buffer = bytearray()
        self._expected_length: int | None = None
        self._kind = 0
        self.report = HarnessReport()

    @property
    def done(self) -> bool:
        """True once nothing more should be read: EXIT seen, or the channel is bad."""
        report = self.report
        return (
            report.exit is not None or report.violation is not None or report.too_large is not None
        )

    def feed(self, data: bytes) -> None:
        """Consume bytes as they arrive; data after the end is itself a violation."""
        if not data:
            return
        if self.done:
            if self.report.violation is None and self.report.too_large is None:
                self.report.violation = "data after the final frame"
            return
        self._buffer += data
        while not self.done and self._parse_one():
            pass

    def end_of_stream(self) -> None:
        """The pipe closed; an unfinished frame means the reporter died mid-write."""
        # An incomplete frame is not a forgery: the reporter may have been killed (OOM).
        self._buffer.clear()

    def _parse_one(self) -> bool:
        if self._expected_length is None:
            if len(self._buffer) < harness.HEADER_BYTES:
                return False
            self._parse_header(bytes(self._buffer[: harness.HEADER_BYTES]))
            del self._buffer[: harness.HEADER_BYTES]
            return not self.done
        if len(self._buffer) < self._expected_length:
            return False
        payload = bytes(self._buffer[: self._expected_length])
        del self._buffer[: self._expected_length]
        kind, self._expected_length = self._kind, None
        self._accept(kind, payload)
        return True

    def _parse_header(self, header: bytes) -> None:
        magic_end = len(harness.MAGIC)
        nonce_end = magic_end + NONCE_BYTES
        if header[:magic_end] != harness.MAGIC:
            self.report.violation = "bad frame magic"
            return
        if not hmac.compare_digest(header[magic_end:nonce_end], self._nonce):
            self.report.violation = "frame with a wrong nonce"
            return
        kind = header[nonce_end]
        length = int.from_bytes(header[nonce_end + 1 :], "big")
        problem = self._order_problem(kind)
        if problem:
            self.report.violation = problem
            return
        if kind in (harness.KIND_RESULT, harness.KIND_ERROR):
            if length > self._max_output:
                self.report.too_large = length
                return
        elif length > _CONTROL_PAYLOAD_LIMIT:
            self.report.violation = f"oversized control frame ({length} bytes)"
            return
        self._kind, self._expected_length = kind, length

    def _order_problem(self, kind: int) -> str | None:
        report = self.report
        if kind == harness.KIND_HELLO:
            return "duplicate HELLO frame" if report.hello else None
        if not report.hello:
            return f"frame kind {kind} before HELLO"
        if kind in (harness.KIND_RESULT, harness.KIND_ERROR):
            if report.result is not None or report.error is not None:
                return "more than one result frame"
            return None
        if kind == harness.KIND_EXIT:
            return None
        return f"unknown frame kind {kind}"

    def _accept(self, kind: int, payload: bytes) -> None:
        if kind == harness.KIND_HELLO:
            self.report.hello = True
        elif kind == harness.KIND_RESULT:
            self.report.result = payload
        elif kind == harness.KIND_ERROR:
            self.report.error = _parse_error(payload)
            if self.report.error is None:
                self.report.violation = "malformed ERROR frame"
        else:
            self.report.exit = _parse_exit(payload)
            if self.report.exit is None:
                self.report.violation = "malformed EXIT frame"


def _parse_error(payload: bytes) -> ScriptError | None:
    try:
        data = parse_object(payload)
    except StrictJSONError:
        return None
    fields = (data.get("type"), data.get("message"), data.get("traceback"))
    if not all(isinstance(value, str) for value in fields):
        return None
    return ScriptError(
        type=_valid_text(data["type"]),
        message=_valid_text(data["message"]),
        traceback=_valid_text(data["traceback"]),
    )


def _valid_text(text: str) -> str:
    """Replace lone surrogates (valid in JSON escapes, invalid in UTF-8) so the error can travel."""
    return text.encode("utf-8", "replace").decode("utf-8")


def _parse_exit(payload: bytes) -> ExitReport | None:
    try:
        data = parse_object(payload)
    except StrictJSONError:
        return None
    exit_code, signal = data.get("exit_code"), data.get("signal")
    problem, result_bytes = data.get("problem"), data.get("result_bytes")
    if not all(value is None or isinstance(value, int) for value in (exit_code, signal)):
        return None
    if problem is not None and not isinstance(problem, str):
        return None
    if not isinstance(result_bytes, int):
        return None
    return ExitReport(exit_code, signal, problem, result_bytes)


class LogCapture:
    """Keeps the first `limit` bytes of the worker's output; drops and counts the rest."""

    def __init__(self, limit: int) -> None:
        self._limit = limit
        self._data = bytearray()
        self.dropped = 0

    def feed(self, data: bytes) -> None:
        """Append as much as fits; the pipe is still drained so the writer never blocks."""
        room = self._limit - len(self._data)
        if room > 0:
            self._data += data[:room]
        self.dropped += max(0, len(data) - max(room, 0))

    @property
    def truncated(self) -> bool:
        """True when output beyond the cap was dropped."""
        return self.dropped > 0

    def value(self) -> bytes:
        """The captured bytes."""
        return bytes(self._data)
