"""contributor liveness: state reasons, identity secrets, flap counts, quarantine ends

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-01

Contributors gain the states SUSPECT, DRAINING and QUARANTINED (stored as strings,
so the column itself is unchanged), `state_reason` and `state_changed_at` saying why
and since when, `identity_secret_sha256` (the hash of the secret an agent keeps in
its work dir to prove its identity; existing rows get none, so their old ids are
never taken over and their agents register afresh), and the flap window and
quarantine end used by coordinator/quarantine.py.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

_COLUMNS = (
    "identity_secret_sha256",
    "state_reason",
    "state_changed_at",
    "flap_count",
    "flap_window_started_at",
    "quarantined_until",
)


def upgrade() -> None:
    # Plain ADD COLUMN (no table rebuild on SQLite, whose rebuild of `contributors`
    # would trip the attempts' foreign key); server defaults fill the existing rows.
    op.add_column(
        "contributors",
        sa.Column(
            "identity_secret_sha256", sa.String(length=64), nullable=False, server_default=""
        ),
    )
    op.add_column(
        "contributors", sa.Column("state_reason", sa.Text(), nullable=False, server_default="")
    )
    op.add_column("contributors", sa.Column("state_changed_at", sa.DateTime(timezone=True)))
    op.add_column(
        "contributors", sa.Column("flap_count", sa.Integer(), nullable=False, server_default="0")
    )
    op.add_column("contributors", sa.Column("flap_window_started_at", sa.DateTime(timezone=True)))
    op.add_column("contributors", sa.Column("quarantined_until", sa.DateTime(timezone=True)))


def downgrade() -> None:
    # Back to the two states the old code knows: anything connected is ONLINE.
    op.execute(
        "UPDATE contributors SET state = 'OFFLINE' WHERE state IN ('DRAINING', 'QUARANTINED')"
    )
    op.execute("UPDATE contributors SET state = 'ONLINE' WHERE state = 'SUSPECT'")
    for column in reversed(_COLUMNS):
        op.drop_column("contributors", column)  # plain DROP COLUMN (SQLite 3.35+)
