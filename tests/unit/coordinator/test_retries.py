"""Retry decisions: the consumer's own errors are final, platform failures are retried."""

from __future__ import annotations

import pytest

from runsurge.coordinator.retries import RETRY_CLASS, RetryClass, decide
from runsurge.kinds import OutcomeKind

MiB = 1024 * 1024


def test_every_outcome_kind_has_a_retry_class() -> None:
    assert set(RETRY_CLASS) == set(OutcomeKind)


@pytest.mark.parametrize(
    "outcome",
    [
        OutcomeKind.SCRIPT_ERROR,
        OutcomeKind.TIMEOUT,
        OutcomeKind.CPU_LIMIT,
        OutcomeKind.OUTPUT_TOO_LARGE,
        OutcomeKind.SANDBOX_VIOLATION,
    ],
)
def test_deterministic_failures_are_not_retried(outcome: OutcomeKind) -> None:
    decision = decide(outcome, 1, 3, 512 * MiB, 4096 * MiB)
    assert not decision.retry and decision.reason == f"{outcome.value} is final"


@pytest.mark.parametrize("outcome", [OutcomeKind.LOST, OutcomeKind.INFRASTRUCTURE])
def test_platform_failures_are_retried_until_the_limit(outcome: OutcomeKind) -> None:
    assert decide(outcome, 1, 3, 512 * MiB, 4096 * MiB).retry
    assert decide(outcome, 2, 3, 512 * MiB, 4096 * MiB).retry
    final = decide(outcome, 3, 3, 512 * MiB, 4096 * MiB)
    assert not final.retry and "3 attempts" in final.reason


def test_a_handed_back_attempt_is_retried_past_the_limit_and_not_counted() -> None:
    # CANCELLED from an agent is its own shutdown handing the task back.
    for attempts_so_far in (1, 3, 10):
        decision = decide(OutcomeKind.CANCELLED, attempts_so_far, 3, 512 * MiB, 4096 * MiB)
        assert decision.retry and not decision.counted
        assert decision.memory_reservation_bytes == 512 * MiB


def test_out_of_memory_doubles_the_reservation_up_to_the_largest_machine() -> None:
    first = decide(OutcomeKind.OUT_OF_MEMORY, 1, 3, 512 * MiB, 768 * MiB)
    assert first.retry and first.memory_reservation_bytes == 768 * MiB
    again = decide(OutcomeKind.OUT_OF_MEMORY, 2, 3, 768 * MiB, 768 * MiB)
    assert not again.retry and "largest reservation" in again.reason


def test_a_result_is_final() -> None:
    assert RETRY_CLASS[OutcomeKind.OK] is RetryClass.FINAL


def test_out_of_memory_escalation_doubles_exactly_each_time() -> None:
    # 512 → 1024 → 2048 → 4096 (the cap): a +256 MiB step or a 1.5x factor fails here.
    reservation, seen = 512 * MiB, []
    for attempt in range(1, 5):
        decision = decide(OutcomeKind.OUT_OF_MEMORY, attempt, 10, reservation, 4096 * MiB)
        if not decision.retry:
            break
        reservation = decision.memory_reservation_bytes
        seen.append(reservation // MiB)
    assert seen == [1024, 2048, 4096]
