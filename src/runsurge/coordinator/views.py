"""Plain read models the servicers turn into protobuf messages."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from decimal import Decimal

from runsurge.coordinator.job_options import JobOptions
from runsurge.kinds import JobKind, OnError, OutcomeKind, TaskKind
from runsurge.sandbox.policy import SandboxPolicy
from runsurge.store.states import JobState


@dataclass(frozen=True)
class TaskCounts:
    """How many of a job's tasks are in each state."""

    total: int = 0
    queued: int = 0
    running: int = 0
    succeeded: int = 0
    failed: int = 0
    cancelled: int = 0


@dataclass(frozen=True)
class ErrorView:
    """A task's error as the consumer sees it."""

    kind: str
    type: str = ""
    message: str = ""
    traceback: str = ""


@dataclass(frozen=True)
class JobView:
    """A job snapshot: state, counts, and for a finished single job its result or error."""

    id: str
    kind: JobKind
    state: JobState
    name: str
    script_sha256: str
    counts: TaskCounts
    created_at: dt.datetime
    finished_at: dt.datetime | None = None
    error: ErrorView | None = None
    result_json: bytes | None = None  # a single job's result or a group's aggregate, when small
    result_available: bool = False
    aggregate_specs: tuple[str, ...] = ()
    aggregate_script: bool = False
    on_error: OnError = OnError.CONTINUE
    waiting_reason: str = ""  # why queued work cannot start, while it cannot (placement.py)
    memory_limit_bytes: int = 0  # the consumer's per-task limit (0: none)
    job_options: JobOptions = field(default_factory=JobOptions)


@dataclass(frozen=True)
class TaskMemoryView:
    """What a task reserves, what it used, and the sizes at which it ran out of memory."""

    reservation_bytes: int
    peak_bytes: int  # of its latest finished attempt; 0 before any finished
    out_of_memory_at_bytes: tuple[int, ...] = ()
    attempts: int = 0
    estimate_bytes: int = 0  # the estimate behind the reservation; 0: none
    estimate_method: str = "default"  # which evidence decided it (kinds.EstimateSource)
    estimate_confidence: float = 0.0


@dataclass(frozen=True)
class TaskResultView:
    """One input's outcome, as listed in input order."""

    index: int
    state: str
    result_json: bytes | None  # None when absent or too large to list (fetch it instead)
    result_size: int
    error: ErrorView | None
    memory: TaskMemoryView | None = None


@dataclass(frozen=True)
class TaskLogsView:
    """One task's captured stdout/stderr, as the consumer reads it."""

    logs: bytes
    truncated: bool
    state: str


@dataclass(frozen=True)
class ContributorView:
    """A contributor as listed to consumers and operators."""

    id: str
    name: str
    online: bool  # connected: ONLINE, SUSPECT or DRAINING
    cores: int
    memory_bytes: int
    isolation_level: str
    insecure: bool
    running_tasks: int
    last_seen: dt.datetime
    state: str = "OFFLINE"  # a ContributorState value
    state_reason: str = ""
    # From its latest node sample (coordinator/samples.py); zero before the first.
    load_1m: float = 0.0
    free_memory_bytes: int = 0
    cpu_percent: float = 0.0
    disk_free_bytes: int = 0
    # Its benchmark's claim, the verified factor it is paid at, and whether (and why)
    # the claim is out of line with its tasks (billing/factor.py).
    claimed_factor: Decimal = Decimal(1)
    machine_factor: Decimal = Decimal(1)
    factor_flagged: bool = False
    factor_note: str = ""


@dataclass(frozen=True)
class AssignmentView:
    """What a contributor is told to run."""

    attempt_id: int
    job_id: str
    task_index: int
    script_sha256: str
    script_name: str
    input_sha256: str
    input_size: int
    memory_bytes: int  # the reservation the dispatcher counts against the agent's offer
    policy: SandboxPolicy  # the limits it runs under, decided at claim (policy.py)
    entrypoint: TaskKind = TaskKind.PROCESS
    input_inline: bytes | None = None
    queued_seconds: float = 0.0  # since the task was queued (created, or requeued)
    rerun: bool = False  # an earlier attempt reached its agent and was lost, or succeeded
    probe_memory: bool = False  # estimate the peak by probes before running (policy.py)


@dataclass(frozen=True)
class ProbeEstimate:
    """A contributor's probe estimate of a task's peak memory, as it reported it."""

    peak_bytes: int
    confidence: float


@dataclass
class FinishedAttempt:
    """What a contributor reports when an attempt ends."""

    attempt_id: int
    outcome: OutcomeKind
    result_json: bytes | None = None
    result_sha256: str = ""
    error: ErrorView | None = None
    wall_seconds: float = 0.0
    cpu_seconds: float = 0.0
    peak_memory_bytes: int = 0
    average_memory_bytes: int = 0
    memory_source: str = ""
    logs: bytes = b""
    estimate: ProbeEstimate | None = None  # from probes, when the assignment asked
