"""scheduler lookups: indexes so no coordinator loop scans a whole table

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-01

`jobs.state` serves the fairness ranking and every "active jobs" scan;
`attempts(state, lease_expires_at)` serves the lease sweep.
"""

from __future__ import annotations

from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_jobs_state", "jobs", ["state"])
    op.create_index("ix_attempts_state_lease", "attempts", ["state", "lease_expires_at"])


def downgrade() -> None:
    op.drop_index("ix_attempts_state_lease", table_name="attempts")
    op.drop_index("ix_jobs_state", table_name="jobs")
