"""scheduler lookups: indexes so no coordinator loop scans a whole table; waiting reasons

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-01

`jobs.state` serves the fairness ranking and every "active jobs" scan;
`attempts(state, lease_expires_at)` serves the lease sweep;
`tasks(state, memory_reservation_bytes)` finds queued tasks larger than every agent.
`jobs.waiting_reason` and `jobs.unplaceable_since` say why such a job waits, and
since when (coordinator/placement.py); existing jobs start with none.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_jobs_state", "jobs", ["state"])
    op.create_index("ix_attempts_state_lease", "attempts", ["state", "lease_expires_at"])
    op.create_index("ix_tasks_state_reservation", "tasks", ["state", "memory_reservation_bytes"])
    # Plain ADD COLUMN (no table rebuild on SQLite, whose rebuild of `jobs` would trip
    # the tasks' foreign key); the server default fills the existing rows.
    op.add_column("jobs", sa.Column("waiting_reason", sa.Text(), nullable=False, server_default=""))
    op.add_column("jobs", sa.Column("unplaceable_since", sa.DateTime(timezone=True)))


def downgrade() -> None:
    op.drop_column("jobs", "unplaceable_since")  # plain DROP COLUMN (SQLite 3.35+)
    op.drop_column("jobs", "waiting_reason")
    op.drop_index("ix_tasks_state_reservation", table_name="tasks")
    op.drop_index("ix_attempts_state_lease", table_name="attempts")
    op.drop_index("ix_jobs_state", table_name="jobs")
