"""jobs.memory_limit_bytes: the consumer's per-task memory limit (`--memory`)

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-01

0 (every existing job) means no limit of the consumer's: reservations are then
bounded only by the largest contributor, as before.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column(
        "jobs",
        sa.Column("memory_limit_bytes", sa.BigInteger(), nullable=False, server_default="0"),
    )


def downgrade() -> None:
    op.drop_column("jobs", "memory_limit_bytes")
