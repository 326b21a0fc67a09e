"""scheduler index: next queued task of a job in input order

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-25
"""

from __future__ import annotations

from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_tasks_job_state_index", "tasks", ["job_id", "state", "index"])


def downgrade() -> None:
    op.drop_index("ix_tasks_job_state_index", table_name="tasks")
