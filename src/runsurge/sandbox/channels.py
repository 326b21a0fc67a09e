"""The pipes between the agent and one harness, and the harness's arguments.

Both runners use the same harness protocol; only how the harness is started
differs.  `HarnessChannels.open()` creates the pipes and opens the input;
the child's ends are inherited by the sandbox, the agent keeps the others.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path

from runsurge.sandbox.runner import Entrypoint, RunRequest

_UNSAFE_LABEL_CHARS = re.compile(r"[^A-Za-z0-9_.=:-]+")


def process_label(label: str) -> str:
    """The request's label made safe for a command line, so `ps` shows which task runs."""
    return _UNSAFE_LABEL_CHARS.sub("_", label)[:96] or "-"


def session_harness_args(
    control_fd: int,
    script_path: str,
    entrypoint: Entrypoint,
    label: str,
    rlimits: str,
    workdirs: tuple[str, ...],
) -> list[str]:
    """The key=value arguments of a warm-session harness (``mode=session``).

    `workdirs`: the writable directories the zygote empties between inputs.
    """
    return [
        "mode=session",
        f"control={control_fd}",
        f"script={script_path}",
        f"entry={entrypoint.value}",
        f"label={process_label(label)}",
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
    input_fd: int
    _closed: set[int] = field(default_factory=set)

    @classmethod
    def open(cls, input_path: Path) -> HarnessChannels:
        """Create the three pipes and open the input read-only."""
        fds: list[int] = []
        try:
            for _ in range(3):
                fds.extend(os.pipe())
            fds.append(os.open(input_path, os.O_RDONLY | os.O_CLOEXEC))
        except BaseException:
            for fd in fds:
                os.close(fd)
            raise
        result_read, result_write, log_read, log_write, control_read, control_write, input_fd = fds
        return cls(
            result_read, result_write, log_read, log_write, control_read, control_write, input_fd
        )

    @property
    def child_fds(self) -> tuple[int, ...]:
        """What the harness inherits (pass_fds)."""
        return (self.result_write, self.log_write, self.control_read, self.input_fd)

    def harness_args(
        self, request: RunRequest, script_path: str, rlimits: str | None = None
    ) -> list[str]:
        """The harness's key=value arguments."""
        args = [
            f"control={self.control_read}",
            f"result={self.result_write}",
            f"log={self.log_write}",
            f"input={self.input_fd}",
            f"script={script_path}",
            f"entry={request.entrypoint.value}",
            f"max_output={request.policy.max_output_bytes}",
            f"label={process_label(request.label)}",
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
            self.close(fd)

    def close_all(self) -> None:
        """Release everything still open."""
        for fd in (*self.child_fds, self.result_read, self.log_read, self.control_write):
            self.close(fd)
