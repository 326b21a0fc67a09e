"""tasks.estimate_*, attempts.probe_requested: memory estimates and contributor probes

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-01

Existing tasks get method "default" (the coordinator's default reservation, no
evidence) and no estimate; existing attempts asked for no probes.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("tasks") as batch:
        batch.add_column(
            sa.Column("estimate_bytes", sa.BigInteger(), nullable=False, server_default="0")
        )
        batch.add_column(
            sa.Column(
                "estimate_method", sa.String(length=16), nullable=False, server_default="default"
            )
        )
        batch.add_column(
            sa.Column("estimate_confidence", sa.Float(), nullable=False, server_default="0")
        )
        batch.add_column(
            sa.Column("estimate_raw_bytes", sa.BigInteger(), nullable=False, server_default="0")
        )
    with op.batch_alter_table("attempts") as batch:
        batch.add_column(
            sa.Column("probe_requested", sa.Boolean(), nullable=False, server_default=sa.false())
        )


def downgrade() -> None:
    with op.batch_alter_table("attempts") as batch:
        batch.drop_column("probe_requested")
    with op.batch_alter_table("tasks") as batch:
        batch.drop_column("estimate_raw_bytes")
        batch.drop_column("estimate_confidence")
        batch.drop_column("estimate_method")
        batch.drop_column("estimate_bytes")
