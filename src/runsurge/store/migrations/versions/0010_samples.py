"""live monitoring samples: node_samples and task_samples

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-01

Contributors' resource samples and running attempts' CPU and memory samples
(coordinator/samples.py). Both are pruned to a number of rows and an age, so they
stay small; nothing else refers to them.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def _id() -> sa.Column[int]:
    return sa.Column(
        "id",
        sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
        primary_key=True,
        autoincrement=True,
    )


def upgrade() -> None:
    op.create_table(
        "node_samples",
        _id(),
        sa.Column(
            "contributor_id", sa.String(32), sa.ForeignKey("contributors.id"), nullable=False
        ),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("cpu_percent", sa.Float(), nullable=False),
        sa.Column("memory_used_bytes", sa.BigInteger(), nullable=False),
        sa.Column("memory_free_bytes", sa.BigInteger(), nullable=False),
        sa.Column("load_1m", sa.Float(), nullable=False),
        sa.Column("disk_free_bytes", sa.BigInteger(), nullable=False),
    )
    op.create_index("ix_node_samples_contributor_id", "node_samples", ["contributor_id", "id"])
    op.create_index("ix_node_samples_at", "node_samples", ["at"])
    op.create_table(
        "task_samples",
        _id(),
        sa.Column("job_id", sa.String(32), sa.ForeignKey("jobs.id"), nullable=False),
        sa.Column("task_index", sa.Integer(), nullable=False),
        sa.Column(
            "attempt_id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            sa.ForeignKey("attempts.id"),
            nullable=False,
        ),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("cpu_percent", sa.Float(), nullable=False),
        sa.Column("memory_bytes", sa.BigInteger(), nullable=False),
    )
    op.create_index("ix_task_samples_job_id", "task_samples", ["job_id", "id"])
    op.create_index("ix_task_samples_at", "task_samples", ["at"])


def downgrade() -> None:
    op.drop_table("task_samples")
    op.drop_table("node_samples")
