"""The state machines of jobs, tasks, attempts and contributors.

Each machine is an enum plus a table of allowed moves; `transition` is the only
function that changes a state, so every change is checked in one place.

Job:         SUBMITTING → QUEUED → RUNNING → SUCCEEDED | FAILED | CANCELLED
             RUNNING → AGGREGATING → SUCCEEDED | FAILED | CANCELLED (groups with an aggregate)
             SUBMITTING → FAILED (upload broke off) | CANCELLED
             QUEUED → CANCELLED | FAILED | SUCCEEDED | AGGREGATING (zero-input groups)
Task:        QUEUED → RUNNING → SUCCEEDED | FAILED | CANCELLED
             RUNNING → QUEUED (its attempt was lost and attempts remain)
             QUEUED → CANCELLED | FAILED
Attempt:     RUNNING → SUCCEEDED | FAILED | LOST | CANCELLED
Contributor: ONLINE ⇄ SUSPECT (silent for a while; a heartbeat brings it back)
             ONLINE | SUSPECT → OFFLINE (stream closed) → ONLINE
             ONLINE | SUSPECT | OFFLINE → DRAINING (the agent is shutting down) → OFFLINE
             any → QUARANTINED (failures or flapping) → ONLINE | OFFLINE (released)
"""

from __future__ import annotations

import enum
from typing import TypeVar

from runsurge.errors import InvalidTransition


class JobState(enum.Enum):
    """Lifecycle of a job (a single job or a group)."""

    SUBMITTING = "SUBMITTING"
    QUEUED = "QUEUED"
    RUNNING = "RUNNING"
    AGGREGATING = "AGGREGATING"
    SUCCEEDED = "SUCCEEDED"
    FAILED = "FAILED"
    CANCELLED = "CANCELLED"

    @property
    def final(self) -> bool:
        """True once nothing can change the job any more."""
        return self in _FINAL_JOB


class TaskState(enum.Enum):
    """Lifecycle of one input's processing."""

    QUEUED = "QUEUED"
    RUNNING = "RUNNING"
    SUCCEEDED = "SUCCEEDED"
    FAILED = "FAILED"
    CANCELLED = "CANCELLED"

    @property
    def final(self) -> bool:
        """True once the task has its result or its error for good."""
        return self in _FINAL_TASK


class AttemptState(enum.Enum):
    """Lifecycle of one contributor's try at a task."""

    RUNNING = "RUNNING"
    SUCCEEDED = "SUCCEEDED"
    FAILED = "FAILED"
    LOST = "LOST"  # the contributor vanished or its lease lapsed
    CANCELLED = "CANCELLED"

    @property
    def final(self) -> bool:
        """True once the attempt no longer holds a slot on its contributor."""
        return self is not AttemptState.RUNNING


class ContributorState(enum.Enum):
    """Whether a contributor is connected, and whether it may be given work.

    Only ONLINE contributors get new work (docs/architecture.md, "Contributor liveness").
    """

    ONLINE = "ONLINE"
    SUSPECT = "SUSPECT"  # missed heartbeats, lease not lapsed yet
    OFFLINE = "OFFLINE"  # no open work stream
    DRAINING = "DRAINING"  # shutting down: finishes what it runs, takes nothing new
    QUARANTINED = "QUARANTINED"  # kept out of placement until released

    @property
    def placeable(self) -> bool:
        """Whether new work may be placed on a contributor in this state."""
        return self is ContributorState.ONLINE

    @property
    def connected(self) -> bool:
        """Whether the state implies an open work stream (what `online` reports)."""
        return self in _CONNECTED


_CONNECTED = {ContributorState.ONLINE, ContributorState.SUSPECT, ContributorState.DRAINING}
_FINAL_JOB = {JobState.SUCCEEDED, JobState.FAILED, JobState.CANCELLED}
_FINAL_TASK = {TaskState.SUCCEEDED, TaskState.FAILED, TaskState.CANCELLED}

_ALLOWED: dict[type[enum.Enum], dict[enum.Enum, set[enum.Enum]]] = {
    JobState: {
        JobState.SUBMITTING: {JobState.QUEUED, JobState.FAILED, JobState.CANCELLED},
        JobState.QUEUED: {
            JobState.RUNNING,
            JobState.CANCELLED,
            JobState.FAILED,
            JobState.SUCCEEDED,
            JobState.AGGREGATING,
        },
        JobState.RUNNING: {
            JobState.SUCCEEDED,
            JobState.FAILED,
            JobState.CANCELLED,
            JobState.AGGREGATING,
        },
        JobState.AGGREGATING: {JobState.SUCCEEDED, JobState.FAILED, JobState.CANCELLED},
        JobState.SUCCEEDED: set(),
        JobState.FAILED: set(),
        JobState.CANCELLED: set(),
    },
    TaskState: {
        TaskState.QUEUED: {TaskState.RUNNING, TaskState.CANCELLED, TaskState.FAILED},
        TaskState.RUNNING: {
            TaskState.SUCCEEDED,
            TaskState.FAILED,
            TaskState.CANCELLED,
            TaskState.QUEUED,
        },
        TaskState.SUCCEEDED: set(),
        TaskState.FAILED: set(),
        TaskState.CANCELLED: set(),
    },
    AttemptState: {
        AttemptState.RUNNING: {
            AttemptState.SUCCEEDED,
            AttemptState.FAILED,
            AttemptState.LOST,
            AttemptState.CANCELLED,
        },
        AttemptState.SUCCEEDED: set(),
        AttemptState.FAILED: set(),
        AttemptState.LOST: set(),
        AttemptState.CANCELLED: set(),
    },
    ContributorState: {
        ContributorState.ONLINE: {
            ContributorState.ONLINE,
            ContributorState.SUSPECT,
            ContributorState.OFFLINE,
            ContributorState.DRAINING,
            ContributorState.QUARANTINED,
        },
        ContributorState.SUSPECT: {
            ContributorState.SUSPECT,
            ContributorState.ONLINE,
            ContributorState.OFFLINE,
            ContributorState.DRAINING,
            ContributorState.QUARANTINED,
        },
        ContributorState.OFFLINE: {
            ContributorState.OFFLINE,
            ContributorState.ONLINE,
            ContributorState.DRAINING,
            ContributorState.QUARANTINED,
        },
        # A new agent process with the same identity registers it OFFLINE first.
        ContributorState.DRAINING: {
            ContributorState.DRAINING,
            ContributorState.OFFLINE,
            ContributorState.QUARANTINED,
        },
        # Released by expiry only: it stays out of placement whatever its stream does.
        ContributorState.QUARANTINED: {
            ContributorState.QUARANTINED,
            ContributorState.ONLINE,
            ContributorState.OFFLINE,
        },
    },
}

S = TypeVar("S", JobState, TaskState, AttemptState, ContributorState)


def can_transition(current: S, target: S) -> bool:
    """Whether the machine of `current` allows moving to `target`."""
    return target in _ALLOWED[type(current)][current]


def transition(current: S, target: S, what: str = "") -> S:
    """Return `target` if the move is allowed, else raise InvalidTransition naming it."""
    if not can_transition(current, target):
        label = what or type(current).__name__
        raise InvalidTransition(f"{label}: cannot go from {current.value} to {target.value}")
    return target
