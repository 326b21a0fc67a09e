"""Warm sessions: one harness imports a script once, then runs inputs one at a time.

The agent's side of ``mode=session`` (the harness's side is at the end of
``harness.py``).  Per input it does what a cold run does — fresh result and log
pipes, a fresh nonce, the same `supervise` loop, `FrameReader` and `classify` —
but instead of spawning a sandbox it sends the request on the session's control
socket, and instead of killing the sandbox afterwards it waits for the reporter's
"ready".  Usage is per input: CPU as the cgroup's (or process tree's) delta, the
memory peak restarted before each input where the kernel allows it.

A timeout, cancel or CPU limit observed by the agent, a reporter that does not
answer "ready", or a zygote that died all end the session (`alive` turns False):
killing the whole sandbox is the one way to be sure nothing of that input goes on.
What spawns the harness and tears it down is a `SessionHost` (``sandbox.py`` for
bubblewrap, ``subprocess_runner.py`` for insecure development).
"""

from __future__ import annotations

import dataclasses
import logging
import os
import socket
import threading
import time
from pathlib import Path
from typing import Protocol

from runsurge.sandbox import harness
from runsurge.sandbox.classify import outcome_of
from runsurge.sandbox.feed import InputFeed
from runsurge.sandbox.framing import FrameReader, LogCapture, new_nonce
from runsurge.sandbox.live import LiveUsage
from runsurge.sandbox.monitor import UsageMonitor, UsageSource
from runsurge.sandbox.outcome import Outcome, OutcomeKind, ScriptError
from runsurge.sandbox.policy import SandboxPolicy
from runsurge.sandbox.supervise import Child, StopReason, Streams, drain, supervise

log = logging.getLogger(__name__)

READY_TIMEOUT = 5.0  # the reporter kills what the input left running before it answers
DIAGNOSTICS_LIMIT = 64 * 1024


class SessionHost(Protocol):
    """The running harness of a session and how to measure and end it."""

    @property
    def child(self) -> Child:
        """The directly spawned process (bubblewrap, or the harness itself)."""
        ...

    @property
    def diag_fd(self) -> int:
        """Its stderr (bubblewrap's and the reporter's diagnostics)."""
        ...

    def rlimits_for(self, policy: SandboxPolicy) -> str:
        """The harness rlimits spec a worker applies for one input."""
        ...

    def usage_source(self) -> UsageSource:
        """Memory and CPU of the whole session, read fresh for one input."""
        ...

    def before_input(self) -> bool:
        """Prepare per-input accounting; True when the kernel peak now starts afresh."""
        ...

    def pause(self) -> None:
        """Stop every process of the idle session (cgroup freezer), so it uses no CPU."""
        ...

    def resume(self) -> None:
        """Let the session run again, before an input."""
        ...

    def oom_kills(self) -> int:
        """OOM kills in the session so far (0 without a cgroup)."""
        ...

    def kill_all(self) -> None:
        """SIGKILL every process of the session and reap the spawned one."""
        ...

    def teardown(self) -> tuple[str, ...]:
        """Kill everything, remove cgroup and work dir, verify; what could not be cleaned."""
        ...


def check_within(policy: SandboxPolicy, session: SandboxPolicy) -> None:
    """ValueError unless every limit of `policy` is at most the session's."""
    for field in dataclasses.fields(SandboxPolicy):
        if getattr(policy, field.name) > getattr(session, field.name):
            raise ValueError(
                f"the input's {field.name} ({getattr(policy, field.name)}) exceeds the "
                f"session's ({getattr(session, field.name)})"
            )


class HarnessSession:
    """A `WarmSession` over a `SessionHost`; not thread-safe (one input at a time)."""

    def __init__(self, host: SessionHost, control: socket.socket, policy: SandboxPolicy) -> None:
        self._host = host
        self._control = control
        self._policy = policy
        self._runs = 0
        self._alive = True
        self._closed = False
        # The session's CPU counter when the last input ended: whatever the session
        # uses between inputs (threads started at import) is charged to the next one.
        self._cpu_mark: float | None = None
        self.leftovers: tuple[str, ...] = ()

    @property
    def alive(self) -> bool:
        """False once it died, was killed, or hit a limit that ends it."""
        return self._alive and not self._host.child.poll()

    @property
    def runs(self) -> int:
        """Inputs run so far."""
        return self._runs

    def run(
        self,
        input: Path,
        policy: SandboxPolicy,
        cancel: threading.Event | None = None,
        label: str = "",
        live: LiveUsage | None = None,
    ) -> Outcome:
        """One input; the same Outcome a cold run would give (`live` gets its samples)."""
        check_within(policy, self._policy)
        if not self.alive:
            return infrastructure("SessionClosed", "the warm session has ended")
        self._runs += 1
        try:
            pipes = _InputPipes.open(input)
        except OSError as exc:
            return infrastructure("SandboxStartFailed", f"cannot open the input: {exc}")
        try:
            return self._run(pipes, policy, cancel, label, live)
        finally:
            pipes.close()

    def close(self) -> None:
        """Kill everything, remove the cgroup and work dir, verify; idempotent."""
        if self._closed:
            return
        self._closed = True
        self._alive = False
        self._control.close()
        self.leftovers = self._host.teardown()
        if self.leftovers:
            log.error("warm session clean-up incomplete: %s", "; ".join(self.leftovers))

    def _run(
        self,
        pipes: _InputPipes,
        policy: SandboxPolicy,
        cancel: threading.Event | None,
        label: str,
        live: LiveUsage | None,
    ) -> Outcome:
        nonce = new_nonce()
        self._host.resume()
        kernel_peak = self._host.before_input()
        oom_before = self._host.oom_kills()
        source = self._host.usage_source()
        monitor = UsageMonitor(_InputUsage(source, kernel_peak, self._cpu_mark), live=live)
        started = time.monotonic()
        monitor.start(started)
        request = nonce + f"{policy.max_output_bytes} {self._host.rlimits_for(policy)}".encode()
        try:
            harness.send_fds(self._control, request, pipes.child_fds)
        except OSError as exc:
            self.close()
            return infrastructure("SessionClosed", f"the warm session has ended: {exc}")
        pipes.close_child_ends()
        streams = Streams(
            result_fd=pipes.result_read,
            reader=FrameReader(nonce, policy.max_output_bytes),
            log_fd=pipes.log_read,
            logs=LogCapture(policy.max_log_bytes),
            diag_fd=self._host.diag_fd,
            diagnostics=LogCapture(DIAGNOSTICS_LIMIT),
            feed=pipes.feed,
        )
        stop = supervise(self._host.child, streams, monitor, policy, cancel, started)
        stopped = time.monotonic()
        goes_on = stop is StopReason.REPORTED and self._await_ready()
        if not goes_on:
            self._host.kill_all()
        drain(streams)
        usage = monitor.finish(stopped)
        oom_kills = self._host.oom_kills() - oom_before
        if goes_on:
            self._cpu_mark = source.cpu_seconds()
            self._host.pause()
        else:
            self.close()
        exit_info = self._host.child.exit
        leftovers = self.leftovers if self._closed else ()
        if leftovers:
            log.error("warm session clean-up incomplete for %s", label)
        returncode = exit_info.returncode if exit_info else None
        return outcome_of(stop, streams, policy, usage, oom_kills, returncode, leftovers)

    def _await_ready(self) -> bool:
        """The reporter answers "ready" when the session goes on, or exits."""
        self._control.settimeout(READY_TIMEOUT)
        try:
            return self._control.recv(1) == harness.SESSION_READY
        except OSError:  # includes the timeout
            return False


class UnstartedSession:
    """A session whose sandbox could not start: every run says why."""

    def __init__(self, message: str) -> None:
        self._message = message
        self._runs = 0

    @property
    def alive(self) -> bool:
        """Never."""
        return False

    @property
    def runs(self) -> int:
        """Inputs attempted."""
        return self._runs

    def run(
        self,
        input: Path,
        policy: SandboxPolicy,
        cancel: threading.Event | None = None,
        label: str = "",
        live: LiveUsage | None = None,
    ) -> Outcome:
        """INFRASTRUCTURE, with the start-up error."""
        self._runs += 1
        return infrastructure("SandboxStartFailed", self._message)

    def close(self) -> None:
        """Nothing was started."""


class _InputUsage:
    """The session's usage source, with CPU counted from the end of the last input.

    The first input counts from its own start; each later one from where the one
    before it stopped, so no CPU the session uses is left uncharged.
    """

    def __init__(
        self, source: UsageSource, kernel_peak: bool, cpu_base: float | None = None
    ) -> None:
        self._source = source
        self._kernel_peak = kernel_peak
        self._cpu_base = cpu_base if cpu_base is not None else source.cpu_seconds() or 0.0

    @property
    def name(self) -> str:
        """The session source's name."""
        return self._source.name

    def memory_bytes(self) -> int | None:
        """Memory of the whole session now (the reporter and zygote included, as cold)."""
        return self._source.memory_bytes()

    def peak_memory_bytes(self) -> int | None:
        """The kernel's peak, only when it was restarted for this input."""
        return self._source.peak_memory_bytes() if self._kernel_peak else None

    def cpu_seconds(self) -> float | None:
        """CPU since the last input ended (the first: since it started)."""
        cpu = self._source.cpu_seconds()
        return None if cpu is None else max(0.0, cpu - self._cpu_base)


@dataclasses.dataclass
class _InputPipes:
    """The result and log pipes and the input feed (``feed.py``) of one input."""

    result_read: int
    result_write: int
    log_read: int
    log_write: int
    feed: InputFeed
    _closed: set[int] = dataclasses.field(default_factory=set)

    @classmethod
    def open(cls, input_path: Path) -> _InputPipes:
        feed = InputFeed.open(input_path)
        fds: list[int] = []
        try:
            fds.extend(os.pipe())
            fds.extend(os.pipe())
        except BaseException:
            feed.close()
            for fd in fds:
                os.close(fd)
            raise
        return cls(fds[0], fds[1], fds[2], fds[3], feed)

    @property
    def child_fds(self) -> list[int]:
        """What the reporter receives, in the harness's order."""
        return [self.result_write, self.log_write, self.feed.read_fd]

    def close_child_ends(self) -> None:
        for fd in (self.result_write, self.log_write):
            self._close(fd)
        self.feed.close_child_end()

    def close(self) -> None:
        for fd in (self.result_write, self.log_write, self.result_read, self.log_read):
            self._close(fd)
        self.feed.close()

    def _close(self, fd: int) -> None:
        if fd not in self._closed:
            self._closed.add(fd)
            os.close(fd)


def control_socketpair() -> tuple[socket.socket, socket.socket]:
    """(agent end, harness end) of a session's control socket."""
    return socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)


def infrastructure(type_name: str, message: str) -> Outcome:
    """An Outcome that is not the script's fault."""
    return Outcome(kind=OutcomeKind.INFRASTRUCTURE, error=ScriptError(type_name, message))
