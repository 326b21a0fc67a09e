"""groups: per-state task counters, aggregation settings, task kind

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-25

Existing rows get defaults, and the counters are computed from the tasks table so
jobs created before this migration report correct progress.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

COUNTERS = {
    "queued_count": "QUEUED",
    "running_count": "RUNNING",
    "succeeded_count": "SUCCEEDED",
    "failed_count": "FAILED",
    "cancelled_count": "CANCELLED",
}


def upgrade() -> None:
    with op.batch_alter_table("jobs", schema=None) as batch_op:
        for column in COUNTERS:
            batch_op.add_column(sa.Column(column, sa.Integer(), nullable=False, server_default="0"))
        batch_op.add_column(
            sa.Column("on_error", sa.String(length=16), nullable=False, server_default="continue")
        )
        batch_op.add_column(
            sa.Column("aggregate_specs", sa.Text(), nullable=False, server_default="[]")
        )
        batch_op.add_column(
            sa.Column("aggregate_script", sa.Boolean(), nullable=False, server_default=sa.false())
        )
        batch_op.add_column(sa.Column("aggregate_sha256", sa.String(length=64), nullable=True))
        batch_op.add_column(
            sa.Column("aggregate_size", sa.BigInteger(), nullable=False, server_default="0")
        )
    with op.batch_alter_table("tasks", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("kind", sa.String(length=16), nullable=False, server_default="process")
        )
    for column, state in COUNTERS.items():
        op.execute(
            f"UPDATE jobs SET {column} = (SELECT count(*) FROM tasks "
            f"WHERE tasks.job_id = jobs.id AND tasks.state = '{state}')"
        )


def downgrade() -> None:
    with op.batch_alter_table("tasks", schema=None) as batch_op:
        batch_op.drop_column("kind")
    with op.batch_alter_table("jobs", schema=None) as batch_op:
        for column in (
            "aggregate_size",
            "aggregate_sha256",
            "aggregate_script",
            "aggregate_specs",
            "on_error",
            *COUNTERS,
        ):
            batch_op.drop_column(column)
