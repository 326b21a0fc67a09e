"""Whether a failed or lost attempt is tried again, and with what reservation.

The one place that decides retries: a consumer's own error is final (running it again
gives the same answer), a lost contributor or a broken sandbox is retried elsewhere,
and a task killed for exceeding its memory is retried with twice the reservation.
"""

from __future__ import annotations

from dataclasses import dataclass

# Outcomes that the same code on the same input would produce again.
FINAL_OUTCOMES = frozenset(
    {"SCRIPT_ERROR", "TIMEOUT", "CPU_LIMIT", "OUTPUT_TOO_LARGE", "SANDBOX_VIOLATION"}
)
RETRYABLE_OUTCOMES = frozenset({"LOST", "INFRASTRUCTURE", "OUT_OF_MEMORY"})


@dataclass(frozen=True)
class RetryDecision:
    """Requeue (with this reservation) or fail for good."""

    retry: bool
    memory_reservation_bytes: int
    reason: str = ""


def decide(
    outcome: str,
    attempts_so_far: int,
    max_attempts: int,
    reservation_bytes: int,
    max_reservation_bytes: int,
) -> RetryDecision:
    """Decide what happens to a task whose attempt ended with `outcome` (not OK)."""
    if outcome in FINAL_OUTCOMES or outcome not in RETRYABLE_OUTCOMES:
        return RetryDecision(False, reservation_bytes, f"{outcome} is final")
    if attempts_so_far >= max_attempts:
        return RetryDecision(
            False, reservation_bytes, f"gave up after {attempts_so_far} attempts ({outcome})"
        )
    if outcome == "OUT_OF_MEMORY":
        grown = reservation_bytes * 2
        if reservation_bytes >= max_reservation_bytes:
            return RetryDecision(
                False, reservation_bytes, "out of memory at the largest reservation available"
            )
        return RetryDecision(True, min(grown, max_reservation_bytes), "retry with more memory")
    return RetryDecision(True, reservation_bytes, f"retry after {outcome}")
