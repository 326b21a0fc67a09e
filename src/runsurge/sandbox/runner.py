"""The interface the contributor agent runs tasks through.

The agent only knows `TaskRunner`; which isolation stands behind it (a plain
subprocess for development, bubblewrap + cgroups + seccomp in production) is chosen
once at start-up from what the host supports.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from runsurge.kinds import TaskKind
from runsurge.sandbox.live import LiveUsage
from runsurge.sandbox.outcome import Outcome
from runsurge.sandbox.policy import SandboxPolicy

# Which function of the script a run calls: a task's kind, shared with the coordinator.
Entrypoint = TaskKind


@dataclass(frozen=True)
class RunRequest:
    """One run: a verified script file, an input file, and the limits to apply."""

    script: Path
    input: Path
    policy: SandboxPolicy
    entrypoint: Entrypoint = Entrypoint.PROCESS
    label: str = ""  # for logs only, e.g. "job=… task=… attempt=…"
    # Receives the run's usage samples as they are taken (live monitoring), if given.
    live: LiveUsage | None = None


class WarmSession(Protocol):
    """A sandbox with one script loaded, running inputs one at a time.

    Every input of a session belongs to the same consumer and job.  Each input runs in
    a fresh fork of the script as imported: what the import built is shared, what an
    input changes does not reach the next (docs/security.md, "What carries over").
    Each `run` returns the Outcome a cold run would have returned.
    """

    @property
    def alive(self) -> bool:
        """False once it died, was killed, or hit a limit that ends it."""
        ...

    @property
    def runs(self) -> int:
        """Inputs run so far."""
        ...

    def run(
        self,
        input: Path,
        policy: SandboxPolicy,
        cancel: threading.Event | None = None,
        label: str = "",
        live: LiveUsage | None = None,
    ) -> Outcome:
        """Run the entrypoint on one input; `policy` must not exceed the session's (ValueError).

        `live`, if given, receives this input's usage samples as they are taken.
        """
        ...

    def close(self) -> None:
        """Kill everything, remove the cgroup and work dir, verify; idempotent."""
        ...


class TaskRunner(Protocol):
    """Runs a consumer's function in isolation and always returns an Outcome."""

    @property
    def isolation_level(self) -> str:
        """A short description of the active layers, reported to the coordinator."""
        ...

    def run(self, request: RunRequest, cancel: threading.Event | None = None) -> Outcome:
        """Run to completion (or until `cancel` is set) and clean up everything it started."""
        ...

    def open_session(
        self, script: Path, entrypoint: Entrypoint, policy: SandboxPolicy, label: str = ""
    ) -> WarmSession:
        """Start a warm session sized by `policy` (memory, pids, work dir) for `script`."""
        ...
