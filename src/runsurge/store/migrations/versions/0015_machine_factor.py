"""machine factor: each contributor's claimed and verified factor, and its claim history

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-01

Existing contributors get factor 1.0 (the BASELINE) claimed and verified, unflagged,
until their agent reports a benchmark. Factors are stored as integers of millionths
(models.Micros), exact on SQLite and PostgreSQL alike.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None


def upgrade() -> None:
    for name in ("claimed_factor", "machine_factor"):
        op.add_column(
            "contributors",
            sa.Column(name, sa.BigInteger(), nullable=False, server_default="1000000"),
        )
    op.add_column(
        "contributors",
        sa.Column("factor_flagged", sa.Boolean(), nullable=False, server_default=sa.false()),
    )
    op.add_column(
        "contributors", sa.Column("factor_note", sa.Text(), nullable=False, server_default="")
    )
    op.create_table(
        "machine_factor_claims",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), primary_key=True),
        sa.Column("contributor_id", sa.String(length=32), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("parts_json", sa.Text(), nullable=False),
        sa.Column("cores", sa.Integer(), nullable=False),
        sa.Column("seconds", sa.Float(), nullable=False),
        sa.Column("claimed_factor", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(["contributor_id"], ["contributors.id"]),
    )
    op.create_index(
        "ix_machine_factor_claims_contributor_id",
        "machine_factor_claims",
        ["contributor_id", "id"],
    )


def downgrade() -> None:
    op.drop_index("ix_machine_factor_claims_contributor_id", "machine_factor_claims")
    op.drop_table("machine_factor_claims")
    for name in ("factor_note", "factor_flagged", "machine_factor", "claimed_factor"):
        op.drop_column("contributors", name)
