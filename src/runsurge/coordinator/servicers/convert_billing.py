"""Balances and invoices to protobuf: money as decimal strings, exact to 1e-6."""

from __future__ import annotations

from decimal import Decimal

from runsurge.billing.invoices import Earnings, Invoice
from runsurge.billing.ledger import BalanceView
from runsurge.proto.v1 import consumer_pb2, contributor_pb2


def _money(amount: Decimal | None) -> str:
    return "" if amount is None else f"{amount:f}"


def balance_message(view: BalanceView) -> consumer_pb2.Balance:
    """A consumer's balance on the wire (decimal strings)."""
    return consumer_pb2.Balance(
        balance=_money(view.balance),
        limit=_money(view.limit),
        held=_money(view.held),
        available=_money(view.available),
    )


def invoice_message(found: Invoice) -> consumer_pb2.Invoice:
    """A job's invoice on the wire (decimal strings)."""
    return consumer_pb2.Invoice(
        job_id=found.job_id,
        lines=[
            consumer_pb2.InvoiceLine(
                task_index=line.task_index,
                attempt_id=line.attempt_id,
                contributor_id=line.contributor_id,
                outcome=line.outcome,
                machine_factor=_money(line.machine_factor),
                avg_ram_mb=_money(line.avg_ram_mb),
                seconds=_money(line.seconds),
                cost=_money(line.cost),
                fee=_money(line.fee),
            )
            for line in found.lines
        ],
        total=_money(found.total),
        total_fee=_money(found.total_fee),
        quote=_money(found.quote),
    )


def earnings_message(found: Earnings) -> contributor_pb2.Earnings:
    """A contributor's own earnings on the wire (decimal strings)."""
    return contributor_pb2.Earnings(
        contributor_id=found.contributor_id,
        name=found.name,
        balance=_money(found.balance),
        charges=found.charges,
        seconds=_money(found.seconds),
    )
