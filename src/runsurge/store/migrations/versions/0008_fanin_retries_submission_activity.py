"""fan-in retries and submission activity on jobs

Revision ID: 0008
Revises: 0006
Create Date: 2026-12-01

`aggregation_failures` and `aggregation_retry_at` keep a group's failed fan-in tries
and when the next one is due, so the bound on retries survives a restart.
`submission_activity_at` is when a SUBMITTING job last received input; the reaper
fails uploads silent for longer than the submission timeout. Existing jobs start
with no failures and, when still SUBMITTING, count from their creation (the column
is NULL, read as created_at).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("jobs", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("aggregation_failures", sa.Integer(), nullable=False, server_default="0")
        )
        batch_op.add_column(
            sa.Column("aggregation_retry_at", sa.DateTime(timezone=True), nullable=True)
        )
        batch_op.add_column(
            sa.Column("submission_activity_at", sa.DateTime(timezone=True), nullable=True)
        )


def downgrade() -> None:
    with op.batch_alter_table("jobs", schema=None) as batch_op:
        batch_op.drop_column("submission_activity_at")
        batch_op.drop_column("aggregation_retry_at")
        batch_op.drop_column("aggregation_failures")
