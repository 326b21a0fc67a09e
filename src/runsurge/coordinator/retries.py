"""Whether a failed or lost attempt is tried again, and with what reservation.

The one place that decides retries: `RETRY_CLASS` puts every outcome kind in one
class. A consumer's own error is final (running it again gives the same answer), a
lost contributor or a broken sandbox is retried elsewhere, and a task killed for
exceeding its memory is retried with twice the reservation, up to the largest
machine connected. A task its contributor handed back while shutting down (the agent
reports CANCELLED: drained past its grace, or a second SIGTERM) is requeued without
counting that attempt against its budget: it is neither the task's fault nor a failure.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from runsurge.kinds import OutcomeKind


class RetryClass(enum.Enum):
    """What an attempt's outcome means for its task."""

    FINAL = "final"  # a result, or an error the same code on the same input would repeat
    RETRY = "retry"  # the platform failed, not the script: run it again
    MORE_MEMORY = "more-memory"  # killed at its memory limit: again with twice the reservation
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


def decide(
    outcome: OutcomeKind,
    attempts_so_far: int,
    max_attempts: int,
    reservation_bytes: int,
    max_reservation_bytes: int,
) -> RetryDecision:
    """Decide what happens to a task whose attempt ended with `outcome`."""
    retry_class = RETRY_CLASS[outcome]
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
        if reservation_bytes >= max_reservation_bytes:
            return RetryDecision(
                False, reservation_bytes, "out of memory at the largest reservation available"
            )
        grown = min(reservation_bytes * 2, max_reservation_bytes)
        return RetryDecision(True, grown, "retry with more memory")
    return RetryDecision(True, reservation_bytes, f"retry after {outcome.value}")
