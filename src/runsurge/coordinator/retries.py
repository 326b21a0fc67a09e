"""Whether a failed or lost attempt is tried again, and with what reservation.

The one place that decides retries: `RETRY_CLASS` puts every outcome kind in one
class. A consumer's own error is final (running it again gives the same answer), a
lost contributor or a broken sandbox is retried elsewhere, and a task killed for
exceeding its memory is retried with a larger reservation: the peak it reached times
a growth factor, within the job's memory limit and the largest machine connected
(reservations.py). A task its contributor handed back while shutting down (the agent
reports CANCELLED: drained past its grace, or a second SIGTERM) is requeued without
counting that attempt against its budget: it is neither the task's fault nor a failure.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from runsurge.coordinator.reservations import after_out_of_memory
from runsurge.kinds import OutcomeKind


class RetryClass(enum.Enum):
    """What an attempt's outcome means for its task."""

    FINAL = "final"  # a result, or an error the same code on the same input would repeat
    RETRY = "retry"  # the platform failed, not the script: run it again
    MORE_MEMORY = "more-memory"  # killed at its memory limit: again with a grown reservation
    HAND_BACK = "hand-back"  # its contributor gave it back: again, the attempt not counted


# Every OutcomeKind, decided once; a test fails when a new kind is not listed here.
RETRY_CLASS: dict[OutcomeKind, RetryClass] = {
    OutcomeKind.OK: RetryClass.FINAL,
    OutcomeKind.SCRIPT_ERROR: RetryClass.FINAL,
    OutcomeKind.TIMEOUT: RetryClass.FINAL,
    OutcomeKind.CPU_LIMIT: RetryClass.FINAL,
    OutcomeKind.OUTPUT_TOO_LARGE: RetryClass.FINAL,
    OutcomeKind.SANDBOX_VIOLATION: RetryClass.FINAL,
    OutcomeKind.LOST: RetryClass.RETRY,
    OutcomeKind.INFRASTRUCTURE: RetryClass.RETRY,
    # The agent stopped it on its own (shutdown): someone else runs the task, and the
    # attempt does not count (a cancelled job's attempts never reach this decision).
    OutcomeKind.CANCELLED: RetryClass.HAND_BACK,
    OutcomeKind.OUT_OF_MEMORY: RetryClass.MORE_MEMORY,
}


@dataclass(frozen=True)
class RetryDecision:
    """Requeue (with this reservation) or fail for good."""

    retry: bool
    memory_reservation_bytes: int
    reason: str = ""
    counted: bool = True  # False: the attempt is given back to the task's budget


@dataclass(frozen=True)
class MemoryContext:
    """What an out-of-memory retry grows from and within."""

    reservation_bytes: int
    largest_offer_bytes: int
    peak_bytes: int = 0  # the peak the killed attempt reached (0: not reported)
    growth_factor: float = 2.0
    job_limit_bytes: int = 0  # the consumer's per-job limit (0: none)
    predicted_bytes: int = 0  # the task never ran: its probes predicted this peak


def allowed_attempts(job_max_attempts: int, coordinator_max: int) -> int:
    """The attempts a task of a job gets: its own `--max-attempts` (0: unset), never
    more than the coordinator's `max_attempts`."""
    return min(job_max_attempts, coordinator_max) if job_max_attempts > 0 else coordinator_max


def decide(
    outcome: OutcomeKind, attempts_so_far: int, max_attempts: int, memory: MemoryContext
) -> RetryDecision:
    """Decide what happens to a task whose attempt ended with `outcome`."""
    retry_class = RETRY_CLASS[outcome]
    reservation_bytes = memory.reservation_bytes
    if retry_class is RetryClass.FINAL:
        return RetryDecision(False, reservation_bytes, f"{outcome.value} is final")
    if retry_class is RetryClass.HAND_BACK:
        return RetryDecision(
            True, reservation_bytes, "handed back by its contributor (not counted)", counted=False
        )
    if attempts_so_far >= max_attempts:
        return RetryDecision(
            False,
            reservation_bytes,
            f"gave up after {attempts_so_far} attempts ({outcome.value})",
        )
    if retry_class is RetryClass.MORE_MEMORY:
        growth = after_out_of_memory(
            reservation_bytes,
            memory.peak_bytes,
            memory.growth_factor,
            memory.largest_offer_bytes,
            memory.job_limit_bytes,
            memory.predicted_bytes,
        )
        return RetryDecision(growth.retry, growth.reservation_bytes, growth.reason)
    return RetryDecision(True, reservation_bytes, f"retry after {outcome.value}")
