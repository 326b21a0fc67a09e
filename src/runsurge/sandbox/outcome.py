"""What a task run produced: a result or a classified failure, always with usage."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field


class OutcomeKind(enum.Enum):
    """How a run ended. Only OK carries a result."""

    OK = "OK"
    SCRIPT_ERROR = "SCRIPT_ERROR"  # the consumer's code failed: syntax, no process, raise, …
    OUT_OF_MEMORY = "OUT_OF_MEMORY"
    TIMEOUT = "TIMEOUT"  # wall-clock limit
    CPU_LIMIT = "CPU_LIMIT"
    OUTPUT_TOO_LARGE = "OUTPUT_TOO_LARGE"
    SANDBOX_VIOLATION = "SANDBOX_VIOLATION"  # seccomp kill, forged frames, died without a result
    CANCELLED = "CANCELLED"  # killed on request of the agent (job cancelled, shutdown)
    INFRASTRUCTURE = "INFRASTRUCTURE"  # the sandbox itself failed to start; not the script's fault


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
