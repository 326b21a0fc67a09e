"""A consumer's money as the SDK returns it: balance and invoices, in exact Decimals."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from decimal import Decimal
from typing import Any

from runsurge.proto.v1 import consumer_pb2


def _amount(text: str) -> Decimal | None:
    return Decimal(text) if text else None


def _required(text: str) -> Decimal:
    return Decimal(text or "0")


def _json(value: object) -> object:
    return f"{value:f}" if isinstance(value, Decimal) else value


@dataclass(frozen=True)
class Balance:
    """The caller's balance; `limit` and `available` are None when billing is not enforced."""

    balance: Decimal
    limit: Decimal | None
    held: Decimal
    available: Decimal | None

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready dict, amounts as decimal strings (exact)."""
        return {k: _json(v) for k, v in asdict(self).items()}


@dataclass(frozen=True)
class InvoiceLine:
    """One charged attempt: who ran it, what it used, what it cost."""

    task_index: int
    attempt_id: int
    contributor_id: str
    outcome: str
    machine_factor: Decimal
    avg_ram_mb: Decimal
    seconds: Decimal
    cost: Decimal
    fee: Decimal

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready dict, numbers as decimal strings (exact)."""
        return {k: _json(v) for k, v in asdict(self).items()}


@dataclass(frozen=True)
class Invoice:
    """A job's charges and their totals."""

    job_id: str
    lines: list[InvoiceLine]
    total: Decimal
    total_fee: Decimal
    quote: Decimal

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready dict, numbers as decimal strings (exact)."""
        return {
            "job_id": self.job_id,
            "lines": [line.to_json() for line in self.lines],
            "total": _json(self.total),
            "total_fee": _json(self.total_fee),
            "quote": _json(self.quote),
        }


def balance_from(msg: consumer_pb2.Balance) -> Balance:
    """The wire's Balance as plain types."""
    return Balance(
        _required(msg.balance), _amount(msg.limit), _required(msg.held), _amount(msg.available)
    )


def invoice_from(msg: consumer_pb2.Invoice) -> Invoice:
    """The wire's Invoice as plain types."""
    lines = [
        InvoiceLine(
            task_index=line.task_index,
            attempt_id=line.attempt_id,
            contributor_id=line.contributor_id,
            outcome=line.outcome,
            machine_factor=_required(line.machine_factor),
            avg_ram_mb=_required(line.avg_ram_mb),
            seconds=_required(line.seconds),
            cost=_required(line.cost),
            fee=_required(line.fee),
        )
        for line in msg.lines
    ]
    return Invoice(
        msg.job_id, lines, _required(msg.total), _required(msg.total_fee), _required(msg.quote)
    )
