"""Billing over a real database: charges written with each attempt's end, exactly once."""

from __future__ import annotations

from decimal import Decimal

import pytest
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from runsurge.billing import invoices, ledger
from runsurge.billing.pricing import Pricing, Usage, from_micros, price
from runsurge.billing.terms import Billing, SpendingRules
from runsurge.coordinator import jobs
from runsurge.coordinator.attempts import RetryLimits
from runsurge.errors import InvalidRequest, LimitExceeded, NotFound
from runsurge.kinds import OutcomeKind
from runsurge.store.models import Account, Charge, Contributor, LedgerTransaction
from runsurge.store.states import JobState
from tests.unit.coordinator.billing_checks import assert_ledger_consistent
from tests.unit.coordinator.scene import GiB, MiB, Scene

PRICING = Pricing(price_per_mb_second=Decimal("0.001"), platform_fee_share=Decimal("0.2"))
ENFORCED = Billing(PRICING, SpendingRules(enforced=True))


def _balance(scene: Scene, kind: str, owner: str = "") -> Decimal:
    micros = scene.db.call(
        lambda s: s.scalar(
            select(Account.balance_micros).where(Account.kind == kind, Account.owner_id == owner)
        )
    )
    return from_micros(micros or 0)


def _charges(scene: Scene, job_id: str) -> list[Charge]:
    return scene.db.call(
        lambda s: list(s.scalars(select(Charge).where(Charge.job_id == job_id)).all())
    )


def _credit(scene: Scene, consumer: str, amount: str) -> None:
    scene.db.call(ledger.credit, consumer, Decimal(amount))


def _check(scene: Scene) -> None:
    scene.db.call(assert_ledger_consistent, scene.billing.rules)


def test_a_success_charges_the_consumer_and_pays_the_contributor_less_the_fee(
    scene: Scene,
) -> None:
    scene.billing = Billing(PRICING)
    consumer, machine = scene.consumer(), scene.contributor()
    job_id = scene.submit(consumer)
    attempt = scene.claimed(machine)
    scene.report(machine, attempt.attempt_id, wall_seconds=2.0, average_memory_bytes=50_000_000)
    # 50 MB x 2 s x factor 1.0 x 0.001 = 0.1; the fee is 20 %.
    assert _balance(scene, ledger.CONSUMER, consumer) == Decimal("-0.100000")
    assert _balance(scene, ledger.CONTRIBUTOR, machine) == Decimal("0.080000")
    assert _balance(scene, ledger.PLATFORM) == Decimal("0.020000")
    (charge,) = _charges(scene, job_id)
    assert charge.machine_factor_micros == 1_000_000 and charge.outcome == "OK"
    _check(scene)


def test_a_replayed_report_is_ignored_and_charges_nothing_more(scene: Scene) -> None:
    scene.billing = Billing(PRICING)
    consumer, machine = scene.consumer(), scene.contributor()
    job_id = scene.submit(consumer)
    attempt = scene.claimed(machine)
    scene.report(machine, attempt.attempt_id)
    before = _balance(scene, ledger.CONSUMER, consumer)
    scene.report(machine, attempt.attempt_id)
    scene.report(machine, attempt.attempt_id, OutcomeKind.SCRIPT_ERROR, result=None)
    assert _balance(scene, ledger.CONSUMER, consumer) == before
    assert len(_charges(scene, job_id)) == 1
    _check(scene)


def test_the_database_refuses_a_second_charge_for_one_attempt(scene: Scene) -> None:
    consumer, machine = scene.consumer(), scene.contributor()
    scene.submit(consumer)
    attempt = scene.claimed(machine)
    scene.report(machine, attempt.attempt_id)

    def again(session: Session) -> None:
        session.add(LedgerTransaction(kind=ledger.CHARGE, attempt_id=attempt.attempt_id))
        session.flush()

    with pytest.raises(IntegrityError):
        scene.db.call(again)


@pytest.mark.parametrize(
    "outcome",
    [OutcomeKind.SCRIPT_ERROR, OutcomeKind.TIMEOUT, OutcomeKind.CPU_LIMIT],
)
def test_a_failure_of_the_consumers_code_is_charged(scene: Scene, outcome: OutcomeKind) -> None:
    consumer, machine = scene.consumer(), scene.contributor()
    job_id = scene.submit(consumer)
    attempt = scene.claimed(machine)
    scene.report(machine, attempt.attempt_id, outcome, result=None)
    (charge,) = _charges(scene, job_id)
    assert charge.outcome == outcome.value and charge.cost_micros > 0


@pytest.mark.parametrize("outcome", [OutcomeKind.INFRASTRUCTURE, OutcomeKind.CANCELLED])
def test_a_failure_of_the_platform_charges_nobody_and_pays_nothing(
    scene: Scene, outcome: OutcomeKind
) -> None:
    consumer, machine = scene.consumer(), scene.contributor()
    job_id = scene.submit(consumer)
    attempt = scene.claimed(machine)
    scene.report(machine, attempt.attempt_id, outcome, result=None)
    assert _charges(scene, job_id) == []
    assert _balance(scene, ledger.CONTRIBUTOR, machine) == 0


def test_out_of_memory_is_charged_at_the_jobs_own_limit_and_not_below_it(scene: Scene) -> None:
    scene.limits = RetryLimits(3, 4 * GiB)
    consumer, machine = scene.consumer(), scene.contributor()
    job_id = scene.submit(consumer, reservation=256 * MiB, memory_limit=512 * MiB)
    first = scene.claimed(machine)
    scene.report(machine, first.attempt_id, OutcomeKind.OUT_OF_MEMORY, result=None)
    assert _charges(scene, job_id) == []  # retried larger: our reservation was short
    second = scene.claimed(machine)
    assert second.memory_bytes == 512 * MiB
    scene.report(machine, second.attempt_id, OutcomeKind.OUT_OF_MEMORY, result=None)
    (charge,) = _charges(scene, job_id)
    assert charge.attempt_id == second.attempt_id


def test_a_submission_beyond_the_balance_is_refused_naming_balance_and_quote(
    scene: Scene,
) -> None:
    scene.billing = ENFORCED
    consumer = scene.consumer()
    _credit(scene, consumer, "1")
    # 512 MiB x 60 s x 0.001 = 32.21... per task: beyond a balance of 1.
    with pytest.raises(LimitExceeded, match=r"quoted at 32\.212255.*balance is 1\.000000"):
        scene.submit(consumer, reservation=512 * MiB)


def test_holds_count_against_the_next_submission_until_the_job_ends(scene: Scene) -> None:
    scene.billing = ENFORCED
    consumer = scene.consumer()
    per_task = Decimal("6.000000")  # 100 MB x 60 s x 0.001
    _credit(scene, consumer, "10")
    first = scene.submit(consumer, reservation=100_000_000)
    view = scene.db.call(ledger.balance_of, consumer, ENFORCED.rules)
    assert view.held == per_task and view.available == Decimal("4.000000")
    with pytest.raises(LimitExceeded, match=r"6\.000000 held"):
        scene.submit(consumer, reservation=100_000_000)
    scene.db.call(jobs.cancel_job, consumer, first)
    assert scene.job(first).state is JobState.CANCELLED
    view = scene.db.call(ledger.balance_of, consumer, ENFORCED.rules)
    assert view.held == 0 and view.available == Decimal("10.000000")
    scene.submit(consumer, reservation=100_000_000)  # fits again


def test_completion_settles_the_hold_into_the_charge(scene: Scene) -> None:
    scene.billing = ENFORCED
    consumer, machine = scene.consumer(), scene.contributor()
    _credit(scene, consumer, "10")
    job_id = scene.submit(consumer, inputs=[b"a", b"b"], reservation=10_000_000)
    first = scene.claimed(machine)
    scene.report(machine, first.attempt_id, wall_seconds=1.0, average_memory_bytes=1_000_000)
    view = scene.db.call(ledger.balance_of, consumer, ENFORCED.rules)
    assert view.held == Decimal("1.200000") - Decimal("0.001000")  # quote less the charge
    second = scene.claimed(machine)
    scene.report(machine, second.attempt_id, wall_seconds=1.0, average_memory_bytes=1_000_000)
    assert scene.job(job_id).state is JobState.SUCCEEDED
    view = scene.db.call(ledger.balance_of, consumer, ENFORCED.rules)
    assert (view.balance, view.held) == (Decimal("9.998000"), 0)
    _check(scene)


def test_a_cost_beyond_the_limit_is_paid_by_the_platform_not_the_consumer(scene: Scene) -> None:
    scene.billing = Billing(
        Pricing(price_per_mb_second=Decimal("0.001"), quote_task_seconds=0.001),
        SpendingRules(enforced=True),
    )
    consumer, machine = scene.consumer(), scene.contributor()
    _credit(scene, consumer, "0.05")
    job_id = scene.submit(consumer, reservation=10_000_000)  # quoted 0.00001
    attempt = scene.claimed(machine)
    scene.report(machine, attempt.attempt_id, wall_seconds=2.0, average_memory_bytes=50_000_000)
    assert _balance(scene, ledger.CONSUMER, consumer) == 0  # not below its limit of 0
    (charge,) = _charges(scene, job_id)
    assert from_micros(charge.written_off_micros) == Decimal("0.050000")
    assert _balance(scene, ledger.CONTRIBUTOR, machine) == Decimal("0.090000")  # paid in full
    _check(scene)


def test_an_unbalanced_transaction_is_refused(scene: Scene) -> None:
    consumer = scene.consumer()

    def post(session: Session) -> None:
        acct = ledger.account(session, ledger.CONSUMER, consumer)
        ledger.post(session, ledger.CREDIT, [(acct, 5)])

    with pytest.raises(ledger.UnbalancedTransaction):
        scene.db.call(post)


@pytest.mark.parametrize("amount", ["0", "-1", "0.0000001", "NaN"])
def test_a_credit_must_be_positive_and_whole_micro_units(scene: Scene, amount: str) -> None:
    consumer = scene.consumer()
    with pytest.raises(InvalidRequest, match=r"credit must be a positive|decimal places"):
        _credit(scene, consumer, amount)


def test_credit_to_an_unknown_consumer_is_not_found(scene: Scene) -> None:
    with pytest.raises(NotFound, match="no consumer"):
        _credit(scene, "nobody", "1")


def test_the_invoice_is_the_formula_over_the_stored_usage(scene: Scene) -> None:
    scene.billing = Billing(PRICING)
    consumer, machine = scene.consumer(), scene.contributor()
    job_id = scene.submit(consumer, inputs=[b"a", b"b", b"c"])
    for seconds in (0.5, 1.25, 3.0):
        attempt = scene.claimed(machine)
        scene.report(
            machine, attempt.attempt_id, wall_seconds=seconds, average_memory_bytes=7 * MiB
        )
    bill = scene.db.call(invoices.invoice, consumer, job_id)
    expected = Decimal(0)
    for line in bill.lines:
        stored = scene.attempt(line.attempt_id)
        usage = Usage.measured(stored.average_memory_bytes, stored.wall_seconds)
        assert line.cost == price(usage, Decimal(1), PRICING).cost
        expected += line.cost
    assert bill.total == expected and len(bill.lines) == 3
    with pytest.raises(NotFound):
        scene.db.call(invoices.invoice, scene.consumer("other"), job_id)


def test_earnings_list_what_each_contributor_was_paid(scene: Scene) -> None:
    scene.billing = Billing(PRICING)
    consumer, machine = scene.consumer(), scene.contributor("paid")
    idle = scene.contributor("idle")
    scene.submit(consumer)
    attempt = scene.claimed(machine)
    scene.report(machine, attempt.attempt_id, wall_seconds=2.0, average_memory_bytes=50_000_000)
    rows = {row.contributor_id: row for row in scene.db.call(invoices.earnings)}
    assert rows[machine].balance == Decimal("0.080000") and rows[machine].charges == 1
    assert rows[idle].balance == 0 and rows[idle].charges == 0
    with pytest.raises(NotFound):
        scene.db.call(invoices.earnings, "nobody")


def test_a_consumers_own_limit_lets_it_spend_below_zero_down_to_that_limit(
    scene: Scene,
) -> None:
    scene.billing = ENFORCED
    consumer = scene.consumer()
    with pytest.raises(LimitExceeded):
        scene.submit(consumer, reservation=100_000_000)  # quoted 6, nothing available
    scene.db.call(ledger.set_limit, consumer, Decimal(10))
    scene.submit(consumer, reservation=100_000_000)
    view = scene.db.call(ledger.balance_of, consumer, ENFORCED.rules)
    assert (view.limit, view.available) == (Decimal(10), Decimal(4))
    with pytest.raises(InvalidRequest, match="0 or more"):
        scene.db.call(ledger.set_limit, consumer, Decimal(-1))


@pytest.mark.parametrize(
    ("verified", "factor"), [(Decimal("2.5"), "2.500000"), (Decimal("0.333333"), "0.333333"),
                             (Decimal(0), "1.000000")]
)  # fmt: skip
def test_the_charge_records_the_verified_factor_it_used_and_a_zero_one_prices_at_one(
    scene: Scene, verified: Decimal, factor: str
) -> None:
    scene.billing = Billing(PRICING)
    consumer, machine = scene.consumer(), scene.contributor()

    def claim_score(session: Session) -> None:
        row = session.get(Contributor, machine)
        assert row is not None
        row.machine_factor = verified  # what billing/factor.py verified, not the claim

    scene.db.call(claim_score)
    job_id = scene.submit(consumer)
    attempt = scene.claimed(machine)
    scene.report(machine, attempt.attempt_id, wall_seconds=2.0, average_memory_bytes=50_000_000)
    (charge,) = _charges(scene, job_id)
    assert from_micros(charge.machine_factor_micros) == Decimal(factor)
    assert from_micros(charge.cost_micros) == (Decimal("0.1") * Decimal(factor)).quantize(
        Decimal("0.000001")
    )
