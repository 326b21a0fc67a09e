"""Retry decisions: the consumer's own errors are final, platform failures are retried."""

from __future__ import annotations

import pytest

from runsurge.coordinator.reservations import RESERVATION_STEP, after_out_of_memory, round_up
from runsurge.coordinator.retries import RETRY_CLASS, MemoryContext, RetryClass, decide
from runsurge.kinds import OutcomeKind

MiB = 1024 * 1024
GiB = 1024 * MiB
PLENTY = MemoryContext(512 * MiB, 4096 * MiB)


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
    decision = decide(outcome, 1, 3, PLENTY)
    assert not decision.retry and decision.reason == f"{outcome.value} is final"


@pytest.mark.parametrize("outcome", [OutcomeKind.LOST, OutcomeKind.INFRASTRUCTURE])
def test_platform_failures_are_retried_until_the_limit(outcome: OutcomeKind) -> None:
    assert decide(outcome, 1, 3, PLENTY).retry
    assert decide(outcome, 2, 3, PLENTY).retry
    final = decide(outcome, 3, 3, PLENTY)
    assert not final.retry and "3 attempts" in final.reason


def test_a_handed_back_attempt_is_retried_past_the_limit_and_not_counted() -> None:
    # CANCELLED from an agent is its own shutdown handing the task back.
    for attempts_so_far in (1, 3, 10):
        decision = decide(OutcomeKind.CANCELLED, attempts_so_far, 3, PLENTY)
        assert decision.retry and not decision.counted
        assert decision.memory_reservation_bytes == 512 * MiB


def test_out_of_memory_doubles_the_reservation_up_to_the_largest_machine() -> None:
    first = decide(OutcomeKind.OUT_OF_MEMORY, 1, 3, MemoryContext(512 * MiB, 768 * MiB))
    assert first.retry and first.memory_reservation_bytes == 768 * MiB
    again = decide(OutcomeKind.OUT_OF_MEMORY, 2, 3, MemoryContext(768 * MiB, 768 * MiB))
    assert not again.retry and "largest reservation" in again.reason


def test_a_result_is_final() -> None:
    assert RETRY_CLASS[OutcomeKind.OK] is RetryClass.FINAL


def test_out_of_memory_escalation_doubles_exactly_each_time() -> None:
    # 512 → 1024 → 2048 → 4096 (the cap): a +256 MiB step or a 1.5x factor fails here.
    reservation, seen = 512 * MiB, []
    for attempt in range(1, 5):
        memory = MemoryContext(reservation, 4096 * MiB)
        decision = decide(OutcomeKind.OUT_OF_MEMORY, attempt, 10, memory)
        if not decision.retry:
            break
        reservation = decision.memory_reservation_bytes
        seen.append(reservation // MiB)
    assert seen == [1024, 2048, 4096]


def test_out_of_memory_grows_from_the_peak_reached_times_the_factor() -> None:
    # Sampling may see a peak above the limit (shared pages): growth starts from it.
    grown = after_out_of_memory(512 * MiB, 600 * MiB, 1.5, 8 * GiB, 0)
    assert grown.retry and grown.reservation_bytes == round_up(900 * MiB) == 912 * MiB
    assert grown.reason == "out of memory at 512.0 MiB; retrying with 912.0 MiB"


def test_out_of_memory_never_grows_past_the_jobs_limit() -> None:
    grown = after_out_of_memory(512 * MiB, 512 * MiB, 2.0, 8 * GiB, 700 * MiB)
    assert grown.retry and grown.reservation_bytes == 700 * MiB
    final = after_out_of_memory(700 * MiB, 700 * MiB, 2.0, 8 * GiB, 700 * MiB)
    assert not final.retry
    assert final.reason == (
        "out of memory at 700.0 MiB, the job's memory limit (--memory); "
        "raise the limit to run this input"
    )


def test_out_of_memory_at_the_largest_machine_is_final_and_says_its_size() -> None:
    final = after_out_of_memory(2 * GiB, 2 * GiB, 2.0, 2 * GiB, 0)
    assert not final.retry
    assert "largest reservation any connected contributor can hold (2.0 GiB)" in final.reason


def test_reservations_round_up_to_whole_steps() -> None:
    assert round_up(1) == RESERVATION_STEP
    assert round_up(RESERVATION_STEP) == RESERVATION_STEP
    assert round_up(RESERVATION_STEP + 1) == 2 * RESERVATION_STEP


def test_a_predicted_peak_is_reserved_as_it_is_not_doubled() -> None:
    grown = after_out_of_memory(208 * MiB, 0, 2.0, 8 * GiB, 0, predicted_bytes=330 * MiB)
    assert grown.retry and grown.reservation_bytes == round_up(330 * MiB) == 336 * MiB
    assert grown.reason == "probes predict a peak of 330.0 MiB; running it with 336.0 MiB"


def test_a_prediction_a_little_above_a_cap_runs_at_the_cap() -> None:
    # An estimate carries a margin: within 1.5x of the cap the kernel decides.
    near_limit = after_out_of_memory(96 * MiB, 0, 2.0, 8 * GiB, 256 * MiB, 300 * MiB)
    assert near_limit.retry and near_limit.reservation_bytes == 256 * MiB
    near_offer = after_out_of_memory(96 * MiB, 0, 2.0, 1 * GiB, 0, 1400 * MiB)
    assert near_offer.retry and near_offer.reservation_bytes == 1 * GiB


def test_a_prediction_far_above_a_cap_fails_at_once_saying_what_it_needs() -> None:
    over_limit = after_out_of_memory(64 * MiB, 0, 2.0, 8 * GiB, 64 * MiB, 320 * MiB)
    assert not over_limit.retry
    assert over_limit.reason == (
        "probes predict a peak of 320.0 MiB, more than the job's memory limit (--memory) "
        "(64.0 MiB); raise the limit to run this input"
    )
    over_offer = after_out_of_memory(512 * MiB, 0, 2.0, 1 * GiB, 0, 4 * GiB)
    assert not over_offer.retry
    assert "more than what any connected contributor can hold (1.0 GiB)" in over_offer.reason


def test_a_predicted_out_of_memory_goes_through_the_retry_decision() -> None:
    context = MemoryContext(208 * MiB, 8 * GiB, predicted_bytes=330 * MiB)
    decision = decide(OutcomeKind.OUT_OF_MEMORY, 1, 3, context)
    assert decision.retry and decision.memory_reservation_bytes == 336 * MiB
