"""tasks.finished_seq, jobs.finished_seq: each input's position in its job's finishing order

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-02

StreamTaskResults resumes a consumer's stream after a position it saw, across a
disconnect or a coordinator restart, so the position is stored with the task when it
becomes final. Inputs already final keep their input order: input i gets i + 1, and
each job's counter starts past its largest index, so inputs finishing from now on come
after every earlier one.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0017"
down_revision = "0016"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column(
        "jobs", sa.Column("finished_seq", sa.BigInteger(), nullable=False, server_default="0")
    )
    op.add_column("tasks", sa.Column("finished_seq", sa.BigInteger(), nullable=True))
    op.create_index("ix_tasks_job_finished_seq", "tasks", ["job_id", "finished_seq"])
    op.execute(
        sa.text(
            'UPDATE tasks SET finished_seq = "index" + 1 '
            "WHERE finished_at IS NOT NULL AND kind = 'process'"
        )
    )
    op.execute(
        sa.text(
            'UPDATE jobs SET finished_seq = (SELECT COALESCE(MAX(tasks."index"), -1) + 1 '
            "FROM tasks WHERE tasks.job_id = jobs.id AND tasks.kind = 'process')"
        )
    )


def downgrade() -> None:
    op.drop_index("ix_tasks_job_finished_seq", table_name="tasks")
    op.drop_column("tasks", "finished_seq")
    op.drop_column("jobs", "finished_seq")
