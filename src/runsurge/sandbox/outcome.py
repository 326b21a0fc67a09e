"""What a task run produced: a result or a classified failure, always with usage."""

from __future__ import annotations

from dataclasses import dataclass, field

# Shared with the coordinator, which decides retries from it; re-exported here.
from runsurge.kinds import OutcomeKind as OutcomeKind


@dataclass(frozen=True)
class ScriptError:
    """A structured error for the consumer: which exception, what it said, where."""

    type: str
    message: str
    traceback: str = ""


@dataclass(frozen=True)
class Usage:
    """Resources one run consumed, for billing and the memory estimator."""

    wall_seconds: float = 0.0
    cpu_seconds: float = 0.0
    peak_memory_bytes: int = 0
    average_memory_bytes: int = 0  # time-weighted over the run
    samples: int = 0
    memory_source: str = "none"  # "cgroup" or "process-tree"


@dataclass(frozen=True)
class Outcome:
    """The result of running one entrypoint on one input under one policy."""

    kind: OutcomeKind
    result_json: bytes | None = None  # UTF-8 JSON of the returned dict, only when kind is OK
    error: ScriptError | None = None
    logs: bytes = b""  # captured stdout+stderr, capped by policy.max_log_bytes
    logs_truncated: bool = False
    usage: Usage = field(default_factory=Usage)
    # What clean-up could not remove (surviving processes, cgroups); empty when the
    # host was left clean.  Added after the first contract; defaults keep it compatible.
    leftovers: tuple[str, ...] = ()

    @property
    def ok(self) -> bool:
        """True when the script returned a valid result."""
        return self.kind is OutcomeKind.OK
