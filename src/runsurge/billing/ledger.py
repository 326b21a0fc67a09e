"""The double-entry ledger: accounts, balanced transactions, balances and holds.

Every movement is one `LedgerTransaction` whose entries sum to zero, posted by
`post` and nowhere else; an account's `balance_micros` moves only with its entries,
in the same database transaction. Consumers spend; contributors and the platform
receive; credits come from the platform's account (which may go below zero: it is
where money enters the system). A consumer's balance may go below zero only down to
its spending limit, and only when billing is enforced (`SpendingRules`).

Holds are not entries: while a job is unfinished, the part of its quote not yet
charged (`Job.quote_micros - Job.charged_micros`) is held, so `available` is
balance + limit - held. A job reaching any final state releases its hold by itself.

Locks: the job (and its task and attempt) first, then accounts in the order consumer
→ contributor → platform, so two charges never wait on each other in a cycle. The
platform's row is written by every charge; on PostgreSQL that serialises charges on
one row lock for the instant of their commit.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal

from sqlalchemy import case, func, select, tuple_
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from runsurge.billing.pricing import from_micros, to_micros
from runsurge.billing.terms import SpendingRules
from runsurge.errors import InvalidRequest, LimitExceeded, NotFound
from runsurge.store.models import Account, Consumer, Job, LedgerEntry, LedgerTransaction
from runsurge.store.states import JobState

CONSUMER = "consumer"
CONTRIBUTOR = "contributor"
PLATFORM = "platform"

CHARGE = "charge"
CREDIT = "credit"

_FINAL_JOBS = [state for state in JobState if state.final]


class UnbalancedTransaction(ValueError):
    """A transaction's entries do not sum to zero: a bug, never the caller's input."""


@dataclass(frozen=True)
class BalanceView:
    """A consumer's money as `runsurge balance` shows it."""

    balance: Decimal
    limit: Decimal | None  # None: not enforced, no limit
    held: Decimal

    @property
    def available(self) -> Decimal | None:
        """What new work may still be quoted at (None: no limit)."""
        return None if self.limit is None else self.balance + self.limit - self.held


def account(session: Session, kind: str, owner_id: str = "") -> Account:
    """The account of (`kind`, `owner_id`), made if missing, locked for this transaction."""
    values = {"kind": kind, "owner_id": owner_id, "balance_micros": 0}
    dialect = session.get_bind().dialect.name
    if dialect == "postgresql":
        session.execute(postgresql.insert(Account).values(values).on_conflict_do_nothing())
    else:
        session.execute(sqlite.insert(Account).values(values).on_conflict_do_nothing())
    found = session.scalar(
        select(Account)
        .where(Account.kind == kind, Account.owner_id == owner_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    assert found is not None
    return found


def accounts(session: Session, keys: Sequence[tuple[str, str]]) -> list[Account]:
    """The accounts of `keys` ((kind, owner id) pairs), made if missing, locked, in one read.

    One SELECT locks them all: its ORDER BY kind, owner takes the rows in the ledger's
    lock order (consumer → contributor → platform sort that way), so a charge and a
    credit never wait on each other in a cycle. Accounts exist after their first
    movement, so the insert of a missing one is rare; it is made, then read again.
    """
    wanted = list(keys)
    found = _locked(session, wanted)
    missing = [key for key in wanted if key not in found]
    if missing:
        dialect = session.get_bind().dialect.name
        insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
        rows = [{"kind": kind, "owner_id": owner, "balance_micros": 0} for kind, owner in missing]
        session.execute(insert(Account).values(rows).on_conflict_do_nothing())
        found = _locked(session, wanted)
    return [found[key] for key in wanted]


def _locked(session: Session, keys: Sequence[tuple[str, str]]) -> dict[tuple[str, str], Account]:
    rows = session.scalars(
        select(Account)
        .where(tuple_(Account.kind, Account.owner_id).in_(keys))
        .order_by(Account.kind, Account.owner_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    ).all()
    return {(row.kind, row.owner_id): row for row in rows}


def floor_micros(acct: Account, rules: SpendingRules) -> int | None:
    """The lowest balance `acct` may reach (None: no floor)."""
    if acct.kind != CONSUMER or not rules.enforced:
        return None
    limit = acct.limit_micros if acct.limit_micros is not None else to_micros(rules.default_limit)
    return -limit


def post(
    session: Session,
    kind: str,
    legs: Sequence[tuple[Account, int]],
    *,
    attempt_id: int | None = None,
    memo: str = "",
) -> LedgerTransaction:
    """Write one balanced transaction and move its accounts' balances with it."""
    if sum(amount for _, amount in legs) != 0:
        raise UnbalancedTransaction(f"{kind} legs {[a for _, a in legs]} do not sum to zero")
    txn = LedgerTransaction(kind=kind, attempt_id=attempt_id, memo=memo[:500])
    session.add(txn)
    session.flush()
    for acct, amount in legs:
        session.add(LedgerEntry(transaction_id=txn.id, account_id=acct.id, amount_micros=amount))
        acct.balance_micros += amount
    return txn  # the entries are written with the transaction's next flush (or commit)


def credit(session: Session, consumer_id: str, amount: Decimal, memo: str = "") -> Decimal:
    """Give a consumer `amount` from the platform; return the new balance."""
    if not amount.is_finite() or amount <= 0:
        raise InvalidRequest(f"a credit must be a positive amount, not {amount}")
    try:
        micros = to_micros(amount)
    except ValueError as exc:
        raise InvalidRequest(f"{exc} (amounts are kept to 0.000001)") from None
    if session.get(Consumer, consumer_id) is None:
        raise NotFound(f"no consumer with id {consumer_id!r}")
    consumer = account(session, CONSUMER, consumer_id)
    platform = account(session, PLATFORM)
    post(session, CREDIT, [(consumer, micros), (platform, -micros)], memo=memo or "credit")
    return from_micros(consumer.balance_micros)


def set_limit(session: Session, consumer_id: str, limit: Decimal | None) -> None:
    """Set how far below zero the consumer may go (None: back to the configured default)."""
    if limit is not None and (not limit.is_finite() or limit < 0):
        raise InvalidRequest(f"a spending limit must be 0 or more, not {limit}")
    try:
        micros = None if limit is None else to_micros(limit)
    except ValueError as exc:
        raise InvalidRequest(f"{exc} (amounts are kept to 0.000001)") from None
    if session.get(Consumer, consumer_id) is None:
        raise NotFound(f"no consumer with id {consumer_id!r}")
    account(session, CONSUMER, consumer_id).limit_micros = micros


def held_micros(session: Session, consumer_id: str, except_job: str | None = None) -> int:
    """The uncharged part of the quotes of the consumer's unfinished jobs."""
    remainder = case(
        (Job.quote_micros > Job.charged_micros, Job.quote_micros - Job.charged_micros), else_=0
    )
    query = select(func.coalesce(func.sum(remainder), 0)).where(
        Job.consumer_id == consumer_id, Job.state.not_in(_FINAL_JOBS)
    )
    if except_job is not None:
        query = query.where(Job.id != except_job)
    return int(session.scalar(query) or 0)


def balance_of(session: Session, consumer_id: str, rules: SpendingRules) -> BalanceView:
    """A consumer's balance, limit and holds."""
    acct = session.scalar(
        select(Account).where(Account.kind == CONSUMER, Account.owner_id == consumer_id)
    )
    balance = acct.balance_micros if acct is not None else 0
    if rules.enforced:
        limit_micros = (
            acct.limit_micros
            if acct is not None and acct.limit_micros is not None
            else to_micros(rules.default_limit)
        )
        limit: Decimal | None = from_micros(limit_micros)
    else:
        limit = None
    held = from_micros(held_micros(session, consumer_id))
    return BalanceView(from_micros(balance), limit, held)


def check_funds(
    session: Session,
    consumer_id: str,
    quote: Decimal,
    rules: SpendingRules,
    except_job: str | None = None,
) -> None:
    """Refuse work quoted beyond what the consumer has available (when enforced).

    LimitExceeded (RESOURCE_EXHAUSTED) names the balance, the limit, the holds and the
    quote. Locks the consumer's account, so that concurrent submissions queue up here.
    """
    if not rules.enforced:
        return  # nothing to check, and no account row to lock
    micros = to_micros(quote)
    consumer = account(session, CONSUMER, consumer_id)
    floor = floor_micros(consumer, rules)
    if floor is None:
        return
    held = held_micros(session, consumer_id, except_job=except_job)
    available = consumer.balance_micros - floor - held
    if micros > available:
        raise LimitExceeded(
            f"this job is quoted at {from_micros(micros)}, but your balance is "
            f"{from_micros(consumer.balance_micros)} with a spending limit of "
            f"{from_micros(-floor)} and {from_micros(held)} held for unfinished jobs: "
            f"{from_micros(available)} available (an operator adds credit with "
            "`runsurge admin credit`)"
        )


def place_hold(session: Session, job: Job, quote: Decimal, rules: SpendingRules) -> None:
    """Hold `quote` for the (locked) job, or refuse it (see `check_funds`)."""
    check_funds(session, job.consumer_id, quote, rules, except_job=job.id)
    job.quote_micros = to_micros(quote)
