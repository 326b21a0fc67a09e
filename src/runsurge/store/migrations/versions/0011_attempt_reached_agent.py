"""attempts.reached_agent: whether an attempt's agent ever had it

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-01

Set when a heartbeat lists the attempt as running or its report arrives. A task
claimed again after such an attempt was lost is a rerun, which the coordinator
counts (coordinator/metrics.py); an assignment lost before reaching its agent is
not. Existing attempts start false. (Chained after 0008 on this branch; the merge
re-chains it after 0009 and 0010.)
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Plain ADD COLUMN (no table rebuild on SQLite); the server default fills old rows.
    op.add_column(
        "attempts",
        sa.Column("reached_agent", sa.Boolean(), nullable=False, server_default=sa.false()),
    )


def downgrade() -> None:
    op.drop_column("attempts", "reached_agent")  # plain DROP COLUMN (SQLite 3.35+)
