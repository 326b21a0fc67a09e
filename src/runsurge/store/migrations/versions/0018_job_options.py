"""jobs: per-job limits, priority, labels and an idempotency key (issue 19)

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-01

0 in wall_seconds, cpu_seconds and max_attempts (every existing job) means the
coordinator's own limit, as before; priority 0 and no labels change nothing. The
idempotency key is NULL for existing jobs; a unique index on (consumer_id,
idempotency_key) lets each consumer name one job per key (NULLs never collide).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0018"
down_revision = "0017"
branch_labels = None
depends_on = None

_COLUMNS = ("idempotency_key", "labels", "priority", "max_attempts", "cpu_seconds", "wall_seconds")


def upgrade() -> None:
    op.add_column("jobs", sa.Column("wall_seconds", sa.Float(), nullable=False, server_default="0"))
    op.add_column("jobs", sa.Column("cpu_seconds", sa.Float(), nullable=False, server_default="0"))
    op.add_column(
        "jobs", sa.Column("max_attempts", sa.Integer(), nullable=False, server_default="0")
    )
    op.add_column("jobs", sa.Column("priority", sa.Integer(), nullable=False, server_default="0"))
    op.add_column("jobs", sa.Column("labels", sa.Text(), nullable=False, server_default="{}"))
    op.add_column("jobs", sa.Column("idempotency_key", sa.String(128), nullable=True))
    op.create_index(
        "uq_jobs_consumer_idempotency_key",
        "jobs",
        ["consumer_id", "idempotency_key"],
        unique=True,
    )


def downgrade() -> None:
    op.drop_index("uq_jobs_consumer_idempotency_key", table_name="jobs")
    for column in _COLUMNS:
        op.drop_column("jobs", column)
