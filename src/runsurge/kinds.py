"""The kinds the coordinator and the contributor agent share, as enums.

Deliberately light: this module imports nothing of RunSurge (no sandbox, scanner or
database code), so either side, and the SDK, can use it. Values are the strings on
the wire and in the database, so a member's value never changes once released.

Lifecycle states are not kinds; they live with their state machines in
`runsurge.store.states`.
"""

from __future__ import annotations

import enum


class JobKind(enum.Enum):
    """A job with one input, or a group of inputs sharing one script."""

    SINGLE = "single"
    GROUP = "group"


class OnError(enum.Enum):
    """What a failed input does to the rest of its group."""

    CONTINUE = "continue"  # the other inputs run; the group succeeds if any input did
    FAIL_FAST = "fail-fast"  # the group fails at once and its unfinished inputs are cancelled


class EstimateSource(enum.Enum):
    """What set a task's memory estimate (runsurge.estimate.Method, plus "no evidence").

    The estimate and its reservation differ: a prior (static) may raise a reservation
    above the coordinator's default but never lowers it; measured evidence (history of
    finished tasks, probes on a contributor) sets it.
    """

    DEFAULT = "default"  # no evidence yet: the coordinator's default reservation
    STATIC = "static"  # the script's features and the input's size, a prior
    HISTORY = "history"  # measured peaks of the same consumer's earlier tasks of the script
    PROBES = "probes"  # runs on prefixes of the input, in a contributor's sandbox
    DECLARED = "declared"  # nothing predicts it: the consumer's --memory


class TaskKind(enum.Enum):
    """Which function of the script a task calls (the sandbox's `Entrypoint`)."""

    PROCESS = "process"  # process(input_data: str) -> dict, one input of a job
    AGGREGATE = "aggregate"  # aggregate(results: list[dict]) -> dict, a group's own fan-in


class OutcomeKind(enum.Enum):
    """How an attempt ended. Only OK carries a result.

    Every kind but LOST is what an agent's sandbox run produced; the retry decision
    for each is in `runsurge.coordinator.retries`.
    """

    OK = "OK"
    SCRIPT_ERROR = "SCRIPT_ERROR"  # the consumer's code failed: syntax, no process, raise, …
    OUT_OF_MEMORY = "OUT_OF_MEMORY"
    TIMEOUT = "TIMEOUT"  # wall-clock limit
    CPU_LIMIT = "CPU_LIMIT"
    OUTPUT_TOO_LARGE = "OUTPUT_TOO_LARGE"
    SANDBOX_VIOLATION = "SANDBOX_VIOLATION"  # seccomp kill, forged frames, died without a result
    CANCELLED = "CANCELLED"  # killed on request of the agent (job cancelled, shutdown)
    INFRASTRUCTURE = "INFRASTRUCTURE"  # the sandbox itself failed to start; not the script's fault
    LOST = "LOST"  # recorded by the coordinator: the contributor vanished or forgot the attempt
