"""The ledger's invariants, read straight from the tables (shared by billing tests)."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from runsurge.billing import ledger
from runsurge.billing.terms import SpendingRules
from runsurge.store.models import Account, LedgerEntry, LedgerTransaction


def assert_ledger_consistent(session: Session, rules: SpendingRules) -> None:
    """Every transaction balances, every balance is its entries' sum and above its floor."""
    unbalanced = session.execute(
        select(LedgerEntry.transaction_id, func.sum(LedgerEntry.amount_micros))
        .group_by(LedgerEntry.transaction_id)
        .having(func.sum(LedgerEntry.amount_micros) != 0)
    ).all()
    assert unbalanced == [], f"unbalanced transactions: {unbalanced}"
    sums = dict(
        session.execute(
            select(LedgerEntry.account_id, func.sum(LedgerEntry.amount_micros)).group_by(
                LedgerEntry.account_id
            )
        ).all()
    )
    for acct in session.scalars(select(Account)):
        assert acct.balance_micros == sums.get(acct.id, 0), f"account {acct.id} drifted"
        floor = ledger.floor_micros(acct, rules)
        if floor is not None:
            assert acct.balance_micros >= floor, f"account {acct.id} is below its limit"
    empty = session.scalar(
        select(func.count())
        .select_from(LedgerTransaction)
        .where(~LedgerTransaction.id.in_(select(LedgerEntry.transaction_id)))
    )
    assert empty == 0, "a transaction without entries"
