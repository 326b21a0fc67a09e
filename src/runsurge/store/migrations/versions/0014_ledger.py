"""The billing ledger: accounts, balanced transactions, entries, charges; job quotes

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-01

Amounts are integer micro-units (1 currency unit = 10**6). Existing jobs get a quote
of 0 and nothing charged: they hold nothing and were never billed.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    for column in ("quote_micros", "charged_micros"):
        op.add_column(
            "jobs", sa.Column(column, sa.BigInteger(), nullable=False, server_default="0")
        )
    op.create_table(
        "accounts",
        sa.Column("id", _ID, primary_key=True, autoincrement=True),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("owner_id", sa.String(32), nullable=False),
        sa.Column("balance_micros", sa.BigInteger(), nullable=False),
        sa.Column("limit_micros", sa.BigInteger(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.UniqueConstraint("kind", "owner_id", name="uq_accounts_kind_owner"),
    )
    op.create_table(
        "ledger_transactions",
        sa.Column("id", _ID, primary_key=True, autoincrement=True),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("attempt_id", _ID, sa.ForeignKey("attempts.id"), nullable=True),
        sa.Column("memo", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.UniqueConstraint("attempt_id", "kind", name="uq_ledger_transactions_attempt_kind"),
    )
    op.create_table(
        "ledger_entries",
        sa.Column("id", _ID, primary_key=True, autoincrement=True),
        sa.Column("transaction_id", _ID, sa.ForeignKey("ledger_transactions.id"), nullable=False),
        sa.Column("account_id", _ID, sa.ForeignKey("accounts.id"), nullable=False),
        sa.Column("amount_micros", sa.BigInteger(), nullable=False),
    )
    op.create_index("ix_ledger_entries_account_id", "ledger_entries", ["account_id", "id"])
    op.create_index("ix_ledger_entries_transaction_id", "ledger_entries", ["transaction_id"])
    op.create_table(
        "charges",
        sa.Column("attempt_id", _ID, sa.ForeignKey("attempts.id"), primary_key=True),
        sa.Column(
            "transaction_id",
            _ID,
            sa.ForeignKey("ledger_transactions.id"),
            nullable=False,
            unique=True,
        ),
        sa.Column("job_id", sa.String(32), sa.ForeignKey("jobs.id"), nullable=False),
        sa.Column("task_index", sa.Integer(), nullable=False),
        sa.Column(
            "contributor_id", sa.String(32), sa.ForeignKey("contributors.id"), nullable=False
        ),
        sa.Column("outcome", sa.String(32), nullable=False),
        sa.Column("machine_factor_micros", sa.BigInteger(), nullable=False),
        sa.Column("average_memory_bytes", sa.BigInteger(), nullable=False),
        sa.Column("seconds_micros", sa.BigInteger(), nullable=False),
        sa.Column("cost_micros", sa.BigInteger(), nullable=False),
        sa.Column("fee_micros", sa.BigInteger(), nullable=False),
        sa.Column("written_off_micros", sa.BigInteger(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_charges_job_id", "charges", ["job_id", "task_index"])
    op.create_index("ix_charges_contributor_id", "charges", ["contributor_id", "attempt_id"])


def downgrade() -> None:
    op.drop_table("charges")
    op.drop_table("ledger_entries")
    op.drop_table("ledger_transactions")
    op.drop_table("accounts")
    op.drop_column("jobs", "charged_micros")
    op.drop_column("jobs", "quote_micros")
