"""Reading charges back: a job's invoice for its consumer, earnings for operators."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from runsurge.billing import ledger
from runsurge.billing.pricing import BYTES_PER_MB, from_micros
from runsurge.errors import NotFound
from runsurge.store.models import Account, Charge, Contributor, Job


@dataclass(frozen=True)
class InvoiceLine:
    """One charged attempt of a job."""

    task_index: int
    attempt_id: int
    contributor_id: str
    outcome: str
    machine_factor: Decimal
    avg_ram_mb: Decimal
    seconds: Decimal
    cost: Decimal
    fee: Decimal


@dataclass(frozen=True)
class Invoice:
    """Every charge of one job, and their totals."""

    job_id: str
    lines: list[InvoiceLine]
    quote: Decimal

    @property
    def total(self) -> Decimal:
        """What the job cost its consumer."""
        return sum((line.cost for line in self.lines), Decimal("0.000000"))

    @property
    def total_fee(self) -> Decimal:
        """The platform's share of the total."""
        return sum((line.fee for line in self.lines), Decimal("0.000000"))


@dataclass(frozen=True)
class Earnings:
    """What one contributor earned: its balance and the work it was paid for."""

    contributor_id: str
    name: str
    balance: Decimal
    charges: int
    seconds: Decimal


def _line(row: Charge) -> InvoiceLine:
    return InvoiceLine(
        task_index=row.task_index,
        attempt_id=row.attempt_id,
        contributor_id=row.contributor_id,
        outcome=row.outcome,
        machine_factor=from_micros(row.machine_factor_micros),
        avg_ram_mb=Decimal(row.average_memory_bytes) / BYTES_PER_MB,
        seconds=from_micros(row.seconds_micros),
        cost=from_micros(row.cost_micros),
        fee=from_micros(row.fee_micros),
    )


def invoice(session: Session, consumer_id: str, job_id: str) -> Invoice:
    """The invoice of one of the consumer's jobs; someone else's job is NotFound."""
    job = session.get(Job, job_id)
    if job is None or job.consumer_id != consumer_id:
        raise NotFound(f"no job with id {job_id!r}")
    rows = session.scalars(
        select(Charge).where(Charge.job_id == job_id).order_by(Charge.task_index, Charge.attempt_id)
    )
    return Invoice(job_id, [_line(row) for row in rows], from_micros(job.quote_micros))


def earnings(session: Session, contributor_id: str | None = None) -> list[Earnings]:
    """Every contributor's earnings (or one's), by contributor id; NotFound if unknown."""
    query = select(Contributor.id, Contributor.name).order_by(Contributor.id)
    if contributor_id is not None:
        query = query.where(Contributor.id == contributor_id)
    found = session.execute(query).all()
    if contributor_id is not None and not found:
        raise NotFound(f"no contributor with id {contributor_id!r}")
    balances = dict(
        session.execute(
            select(Account.owner_id, Account.balance_micros).where(
                Account.kind == ledger.CONTRIBUTOR
            )
        ).all()
    )
    work = {
        row.contributor_id: (row.n, row.seconds)
        for row in session.execute(
            select(
                Charge.contributor_id,
                func.count().label("n"),
                func.sum(Charge.seconds_micros).label("seconds"),
            ).group_by(Charge.contributor_id)
        )
    }
    return [
        Earnings(
            contributor_id=cid,
            name=name,
            balance=from_micros(balances.get(cid, 0)),
            charges=work.get(cid, (0, 0))[0],
            seconds=from_micros(int(work.get(cid, (0, 0))[1] or 0)),
        )
        for cid, name in found
    ]
