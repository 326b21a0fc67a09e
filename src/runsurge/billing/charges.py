"""Who pays for an attempt, and the charge that records it.

`CHARGED` decides, for every outcome kind, whether the consumer pays: a result, or a
failure of the consumer's own code (an error, a limit it hit), is charged; a failure
of the contributor or the platform (lost, broken sandbox, handed back, killed for
memory below the consumer's own `--memory` limit) is not, and its contributor earns
nothing for it. A charge moves the cost from the consumer to the contributor, less
the platform's fee, in one balanced transaction keyed by the attempt: written in the
transaction that records the attempt's end, and never twice.
"""

from __future__ import annotations

import functools

from sqlalchemy import Select, bindparam, select
from sqlalchemy.orm import Session

from runsurge.billing import ledger
from runsurge.billing.factor import machine_factor_of
from runsurge.billing.pricing import Price, Usage, price, to_micros
from runsurge.billing.terms import Billing, SpendingRules
from runsurge.kinds import OutcomeKind
from runsurge.store.models import Attempt, Charge, Job, LedgerTransaction, Task

# Every OutcomeKind, decided once; a test fails when a new kind is not listed here.
# OUT_OF_MEMORY is charged only at the job's own memory limit (see `chargeable`).
CHARGED: dict[OutcomeKind, bool] = {
    OutcomeKind.OK: True,
    OutcomeKind.SCRIPT_ERROR: True,
    OutcomeKind.TIMEOUT: True,
    OutcomeKind.CPU_LIMIT: True,
    OutcomeKind.OUTPUT_TOO_LARGE: True,
    OutcomeKind.SANDBOX_VIOLATION: True,
    OutcomeKind.OUT_OF_MEMORY: False,
    OutcomeKind.LOST: False,
    OutcomeKind.INFRASTRUCTURE: False,
    OutcomeKind.CANCELLED: False,
}


def chargeable(outcome: OutcomeKind, reservation_bytes: int, job_limit_bytes: int) -> bool:
    """Whether the consumer pays for an attempt that ended with `outcome`.

    An attempt killed for memory is the consumer's doing only when it ran at the
    limit the consumer set (`--memory`); below it, the platform under-reserved.
    """
    if outcome is OutcomeKind.OUT_OF_MEMORY:
        return 0 < job_limit_bytes <= reservation_bytes
    return CHARGED[outcome]


def charge_attempt(
    session: Session, job: Job, task: Task, attempt: Attempt, billing: Billing
) -> Charge | None:
    """Charge the attempt's usage to the job's consumer, if it is chargeable and not yet.

    Called with job, task and attempt locked, after usage and outcome are recorded.
    """
    assert attempt.outcome is not None
    if not chargeable(attempt.outcome, attempt.memory_reservation_bytes, job.memory_limit_bytes):
        return None
    if session.scalar(_charge_of(), {"attempt_id": attempt.id}):
        return None  # charged already: a replay
    factor = machine_factor_of(session, attempt.contributor_id)
    usage = Usage.measured(attempt.average_memory_bytes, attempt.wall_seconds)
    cost = price(usage, factor, billing.pricing)
    txn, written_off = _post_charge(session, job, attempt, cost, billing.rules)
    job.charged_micros += to_micros(cost.cost)
    row = Charge(
        attempt_id=attempt.id,
        transaction_id=txn.id,
        job_id=job.id,
        task_index=task.index,
        contributor_id=attempt.contributor_id,
        outcome=attempt.outcome.value,
        machine_factor_micros=to_micros(factor),
        average_memory_bytes=attempt.average_memory_bytes,
        seconds_micros=to_micros(usage.seconds),
        cost_micros=to_micros(cost.cost),
        fee_micros=to_micros(cost.fee),
        written_off_micros=written_off,
    )
    session.add(row)
    return row


@functools.cache
def _charge_of() -> Select[int]:
    # Built once: every settled attempt runs it.
    return select(LedgerTransaction.id).where(
        LedgerTransaction.attempt_id == bindparam("attempt_id"),
        LedgerTransaction.kind == ledger.CHARGE,
    )


def _post_charge(
    session: Session, job: Job, attempt: Attempt, cost: Price, rules: SpendingRules
) -> tuple[LedgerTransaction, int]:
    """Post the charge's legs; return it and what the platform paid for the consumer.

    A cost beyond the consumer's floor (the quote was too low) is not taken from the
    consumer: the platform pays that part, so the contributor is paid in full and no
    consumer balance goes below its limit.
    """
    consumer, contributor, platform = ledger.accounts(
        session,
        [
            (ledger.CONSUMER, job.consumer_id),
            (ledger.CONTRIBUTOR, attempt.contributor_id),
            (ledger.PLATFORM, ""),
        ],
    )
    cost_micros, fee_micros = to_micros(cost.cost), to_micros(cost.fee)
    floor = ledger.floor_micros(consumer, rules)
    taken = cost_micros
    if floor is not None:
        taken = max(0, min(cost_micros, consumer.balance_micros - floor))
    written_off = cost_micros - taken
    legs = [
        (consumer, -taken),
        (contributor, cost_micros - fee_micros),
        (platform, fee_micros - written_off),
    ]
    txn = ledger.post(
        session,
        ledger.CHARGE,
        legs,
        attempt_id=attempt.id,
        memo=f"job {job.id} task {attempt.task_id}",
    )
    return txn, written_off
