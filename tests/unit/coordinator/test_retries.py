"""Retry decisions: the consumer's own errors are final, platform failures are retried."""

from __future__ import annotations

import pytest

from runsurge.coordinator.retries import decide

MiB = 1024 * 1024


@pytest.mark.parametrize("outcome", ["SCRIPT_ERROR", "TIMEOUT", "OUTPUT_TOO_LARGE", "NONSENSE"])
def test_deterministic_failures_are_not_retried(outcome: str) -> None:
    assert not decide(outcome, 1, 3, 512 * MiB, 4096 * MiB).retry


def test_lost_attempts_are_retried_until_the_limit() -> None:
    assert decide("LOST", 1, 3, 512 * MiB, 4096 * MiB).retry
    assert decide("LOST", 2, 3, 512 * MiB, 4096 * MiB).retry
    final = decide("LOST", 3, 3, 512 * MiB, 4096 * MiB)
    assert not final.retry and "3 attempts" in final.reason


def test_out_of_memory_doubles_the_reservation_up_to_the_largest_machine() -> None:
    first = decide("OUT_OF_MEMORY", 1, 3, 512 * MiB, 768 * MiB)
    assert first.retry and first.memory_reservation_bytes == 768 * MiB
    again = decide("OUT_OF_MEMORY", 2, 3, 768 * MiB, 768 * MiB)
    assert not again.retry and "largest reservation" in again.reason
