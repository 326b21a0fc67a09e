"""The interface the contributor agent runs tasks through.

The agent only knows `TaskRunner`; which isolation stands behind it (a plain
subprocess for development, bubblewrap + cgroups + seccomp in production) is chosen
once at start-up from what the host supports.
"""

from __future__ import annotations

import enum
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from runsurge.sandbox.outcome import Outcome
from runsurge.sandbox.policy import SandboxPolicy


class Entrypoint(enum.Enum):
    """Which function of the consumer's script a run calls."""

    PROCESS = "process"  # process(input_data: str) -> dict; input file is UTF-8 text
    AGGREGATE = "aggregate"  # aggregate(results: list[dict]) -> dict; input file is JSON lines


@dataclass(frozen=True)
class RunRequest:
    """One run: a verified script file, an input file, and the limits to apply."""

    script: Path
    input: Path
    policy: SandboxPolicy
    entrypoint: Entrypoint = Entrypoint.PROCESS
    label: str = ""  # for logs only, e.g. "job=… task=… attempt=…"


class TaskRunner(Protocol):
    """Runs a consumer's function in isolation and always returns an Outcome."""

    @property
    def isolation_level(self) -> str:
        """A short description of the active layers, reported to the coordinator."""
        ...

    def run(self, request: RunRequest, cancel: threading.Event | None = None) -> Outcome:
        """Run to completion (or until `cancel` is set) and clean up everything it started."""
        ...
