"""Watching one running harness: read its pipes, sample usage, enforce time and cancel.

One loop per run, in the caller's thread: ``select`` on the result, log and
diagnostics pipes (and, while the input is being delivered, on the input pipe's
free space: ``feed.py``) with a 20 ms timeout, so a cancel, the wall-clock deadline
and the CPU budget are all noticed within one sampling interval.  The loop only decides
*why* to stop; killing and clean-up belong to the runner that started the process.
"""

from __future__ import annotations

import enum
import os
import selectors
import subprocess
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

import psutil

from runsurge.sandbox.feed import InputFeed
from runsurge.sandbox.framing import FrameReader, LogCapture
from runsurge.sandbox.monitor import UsageMonitor
from runsurge.sandbox.policy import SandboxPolicy

_READ_CHUNK = 64 * 1024
_DRAIN_LIMIT = 4 * 1024 * 1024  # after the kill, never read more than this per pipe


class StopReason(enum.Enum):
    """Why supervision ended."""

    REPORTED = "reported"  # the EXIT frame arrived, or the channel turned out bad/too large
    CHANNEL_CLOSED = "channel closed"  # the reporter's pipe closed without a final frame
    PROCESS_EXITED = "process exited"
    TIMEOUT = "timeout"
    CANCELLED = "cancelled"
    CPU_LIMIT = "cpu limit"


@dataclass(frozen=True)
class Exit:
    """How the directly spawned process ended."""

    returncode: int  # negative: killed by that signal (subprocess convention)
    cpu_seconds: float  # rusage of it and every descendant it waited for


class Child:
    """The spawned process, reaped with wait4 so its descendants' CPU time is known."""

    def __init__(self, process: subprocess.Popen[bytes]) -> None:
        self.process = process
        self.exit: Exit | None = None

    @property
    def pid(self) -> int:
        """The host PID."""
        return self.process.pid

    def poll(self) -> bool:
        """Reap without blocking; True once it has exited."""
        if self.exit is None:
            try:
                pid, status, usage = os.wait4(self.process.pid, os.WNOHANG)
            except ChildProcessError:  # reaped elsewhere; nothing more to learn
                self.exit = Exit(self.process.returncode or 0, 0.0)
                return True
            if pid == self.process.pid:
                returncode = os.waitstatus_to_exitcode(status)
                self.process.returncode = returncode  # keep Popen consistent
                self.exit = Exit(returncode, usage.ru_utime + usage.ru_stime)
        return self.exit is not None

    def wait(self, timeout: float) -> bool:
        """Reap, waiting up to `timeout` seconds; True once it has exited."""
        deadline = time.monotonic() + timeout
        while not self.poll():
            if time.monotonic() >= deadline:
                return False
            time.sleep(0.0005)
        return True


def process_group_alive(pgid: int) -> bool:
    """True while the group has a member that is not a zombie.

    A zombie has finished running; when its parent died first it waits for the host's
    init to reap it, which some container inits never do.
    """
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass  # a member we may not signal: look closer
    for proc in psutil.process_iter(["status"]):
        try:
            if os.getpgid(proc.pid) == pgid and proc.info["status"] != psutil.STATUS_ZOMBIE:
                return True
        except (ProcessLookupError, psutil.Error):
            continue
    return False


@dataclass
class Streams:
    """Where each pipe's bytes go."""

    result_fd: int
    reader: FrameReader
    log_fd: int
    logs: LogCapture
    diag_fd: int | None = None
    diagnostics: LogCapture | None = None
    feed: InputFeed | None = None  # the input still to deliver, if any


def supervise(
    child: Child,
    streams: Streams,
    monitor: UsageMonitor,
    policy: SandboxPolicy,
    cancel: threading.Event | None,
    started: float,
) -> StopReason:
    """Run until the harness reports, dies, or a limit or cancel stops it."""
    deadline = started + policy.wall_seconds
    selector = selectors.DefaultSelector()
    sinks: dict[int, Callable[[bytes], None]] = {
        streams.result_fd: streams.reader.feed,
        streams.log_fd: streams.logs.feed,
    }
    if streams.diag_fd is not None and streams.diagnostics is not None:
        sinks[streams.diag_fd] = streams.diagnostics.feed
    for fd in sinks:
        os.set_blocking(fd, False)
        selector.register(fd, selectors.EVENT_READ)
    feed = streams.feed
    if feed is not None and not feed.pump():
        selector.register(feed.write_fd, selectors.EVENT_WRITE)
    result_open = True
    try:
        while True:
            now = time.monotonic()
            if cancel is not None and cancel.is_set():
                return StopReason.CANCELLED
            if now >= deadline:
                return StopReason.TIMEOUT
            if monitor.due(now):
                monitor.sample(now)
                cpu = monitor.cpu_seconds
                if cpu is not None and cpu > policy.cpu_seconds:
                    return StopReason.CPU_LIMIT
            if streams.reader.done:
                return StopReason.REPORTED
            if not result_open:
                streams.reader.end_of_stream()
                return StopReason.CHANNEL_CLOSED
            if child.poll():
                drain(streams)
                return StopReason.REPORTED if streams.reader.done else StopReason.PROCESS_EXITED
            timeout = max(0.0, min(deadline - now, 0.02))
            for key, _ in selector.select(timeout):
                fd = int(key.fd)
                if feed is not None and fd == feed.write_fd:
                    if feed.pump():
                        selector.unregister(fd)
                    continue
                data = _read(fd)
                if data is None:
                    continue
                if data:
                    sinks[fd](data)
                if not data or (fd == streams.result_fd and streams.reader.done):
                    selector.unregister(fd)
                    if fd == streams.result_fd:
                        result_open = bool(data)
    finally:
        selector.close()


def _read(fd: int) -> bytes | None:
    """Bytes, b"" at end of file, or None on a spurious wake-up."""
    try:
        return os.read(fd, _READ_CHUNK)
    except BlockingIOError:
        return None
    except OSError:
        return b""


def drain(streams: Streams) -> None:
    """Read what is left in every pipe after the writers died (bounded)."""
    targets: list[tuple[int, Callable[[bytes], None]]] = [
        (streams.log_fd, streams.logs.feed),
        (streams.result_fd, streams.reader.feed),
    ]
    if streams.diag_fd is not None and streams.diagnostics is not None:
        targets.append((streams.diag_fd, streams.diagnostics.feed))
    for fd, sink in targets:
        total = 0
        while total < _DRAIN_LIMIT:
            try:
                data = os.read(fd, _READ_CHUNK)
            except (BlockingIOError, OSError):
                break
            if not data:
                break
            total += len(data)
            sink(data)
