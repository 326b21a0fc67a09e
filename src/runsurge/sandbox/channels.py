"""The pipes between the agent and one harness, and the harness's arguments.

Both runners use the same harness protocol; only how the harness is started
differs.  `HarnessChannels.open()` creates the pipes and the input feed (a pipe the
agent fills from the input file: ``feed.py``); the child's ends are inherited by the
sandbox, the agent keeps the others.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path

from runsurge.sandbox.feed import InputFeed
from runsurge.sandbox.runner import Entrypoint, RunRequest

_UNSAFE_LABEL_CHARS = re.compile(r"[^A-Za-z0-9_.-]+")


def label_tag(label: str) -> str:
    """The request's label as a cgroup-name suffix, so the host sees which task runs.

    Host only: the sandbox has its own cgroup namespace, and the label is never on
    the harness's command line (``/proc/N/cmdline`` is readable inside).
    """
    return _UNSAFE_LABEL_CHARS.sub("_", label)[:64]


def config_fd(items: list[str]) -> int:
    """A memfd holding the harness's NUL-separated ``key=value`` configuration.

    The harness reads and closes it first thing (``config=FD`` is its one argument),
    so that limits, paths and descriptors never appear in ``/proc/N/cmdline``.
    """
    if any("\0" in item for item in items):
        raise ValueError("a harness configuration item contains a NUL byte")
    data = "\0".join(items).encode()
    fd = os.memfd_create("runsurge-config", os.MFD_CLOEXEC)
    try:
        os.write(fd, data)  # a few hundred bytes: one write
        os.lseek(fd, 0, os.SEEK_SET)
    except BaseException:
        os.close(fd)
        raise
    return fd


def session_harness_args(
    control_fd: int,
    script_path: str,
    entrypoint: Entrypoint,
    rlimits: str,
    workdirs: tuple[str, ...],
) -> list[str]:
    """The key=value configuration of a warm-session harness (``mode=session``).

    `workdirs`: the writable directories the zygote empties between inputs.
    """
    return [
        "mode=session",
        f"control={control_fd}",
        f"script={script_path}",
        f"entry={entrypoint.value}",
        f"rlimits={rlimits}",
        f"workdirs={':'.join(workdirs)}",
    ]


@dataclass
class HarnessChannels:
    """Agent-side and child-side descriptors for one run."""

    result_read: int
    result_write: int
    log_read: int
    log_write: int
    control_read: int
    control_write: int
    feed: InputFeed
    _closed: set[int] = field(default_factory=set)

    @classmethod
    def open(cls, input_path: Path) -> HarnessChannels:
        """Create the three pipes and the input feed."""
        feed = InputFeed.open(input_path)
        fds: list[int] = []
        try:
            for _ in range(3):
                fds.extend(os.pipe())
        except BaseException:
            feed.close()
            for fd in fds:
                os.close(fd)
            raise
        result_read, result_write, log_read, log_write, control_read, control_write = fds
        return cls(
            result_read, result_write, log_read, log_write, control_read, control_write, feed
        )

    @property
    def child_fds(self) -> tuple[int, ...]:
        """What the harness inherits (pass_fds)."""
        return (self.result_write, self.log_write, self.control_read, self.feed.read_fd)

    def harness_args(
        self, request: RunRequest, script_path: str, rlimits: str | None = None
    ) -> list[str]:
        """The harness's key=value configuration (delivered through `config_fd`)."""
        args = [
            f"control={self.control_read}",
            f"result={self.result_write}",
            f"log={self.log_write}",
            f"input={self.feed.read_fd}",
            f"script={script_path}",
            f"entry={request.entrypoint.value}",
            f"max_output={request.policy.max_output_bytes}",
        ]
        if rlimits:
            args.append(f"rlimits={rlimits}")
        return args

    def send_nonce(self, nonce: bytes) -> None:
        """Write the nonce and close the control pipe (16 bytes: never blocks)."""
        os.write(self.control_write, nonce)
        self.close(self.control_write)

    def close(self, fd: int) -> None:
        """Close one descriptor once."""
        if fd not in self._closed:
            self._closed.add(fd)
            os.close(fd)

    def close_child_ends(self) -> None:
        """After the spawn: only the child may hold these, or EOF would never come."""
        for fd in self.child_fds:
            if fd != self.feed.read_fd:
                self.close(fd)
        self.feed.close_child_end()

    def close_all(self) -> None:
        """Release everything still open."""
        for fd in (*self.child_fds, self.result_read, self.log_read, self.control_write):
            if fd != self.feed.read_fd:
                self.close(fd)
        self.feed.close()
