"""kinds: attempt outcome is an OutcomeKind or NULL; tasks found by job and kind

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-02

Job kind, on-error policy and task kind were already stored as their enum values, so
they need no change. An attempt's outcome was "" while it ran; it becomes NULL then,
and so does any value that is no OutcomeKind (an agent could report anything before
outcomes were checked; the task's error_kind still says what it reported).

The aggregate task is now found by its kind instead of index -1: the index on
(job_id, kind) replaces the one on job_id alone, whose every query it also serves.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

OUTCOMES = (
    "OK",
    "SCRIPT_ERROR",
    "OUT_OF_MEMORY",
    "TIMEOUT",
    "CPU_LIMIT",
    "OUTPUT_TOO_LARGE",
    "SANDBOX_VIOLATION",
    "CANCELLED",
    "INFRASTRUCTURE",
    "LOST",
)


def upgrade() -> None:
    with op.batch_alter_table("attempts", schema=None) as batch_op:
        batch_op.alter_column("outcome", existing_type=sa.String(length=32), nullable=True)
    attempts = sa.table("attempts", sa.column("outcome", sa.String(32)))
    op.execute(
        attempts.update().where(attempts.c.outcome.not_in(OUTCOMES)).values(outcome=sa.null())
    )
    with op.batch_alter_table("tasks", schema=None) as batch_op:
        batch_op.drop_index("ix_tasks_job_id")
        batch_op.create_index("ix_tasks_job_kind", ["job_id", "kind"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("tasks", schema=None) as batch_op:
        batch_op.drop_index("ix_tasks_job_kind")
        batch_op.create_index("ix_tasks_job_id", ["job_id"], unique=False)
    attempts = sa.table("attempts", sa.column("outcome", sa.String(32)))
    op.execute(attempts.update().where(attempts.c.outcome.is_(None)).values(outcome=""))
    with op.batch_alter_table("attempts", schema=None) as batch_op:
        batch_op.alter_column("outcome", existing_type=sa.String(length=32), nullable=False)
