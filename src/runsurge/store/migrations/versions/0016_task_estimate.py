"""tasks.estimate_*: each task's memory estimate, what decided it and how far to trust it

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-01

Existing tasks get method "default" (the coordinator's default reservation, no
evidence) and no estimate.
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


def downgrade() -> None:
    with op.batch_alter_table("tasks") as batch:
        batch.drop_column("estimate_confidence")
        batch.drop_column("estimate_method")
        batch.drop_column("estimate_bytes")
