"""accounts: consumer token expiry and revocation, enrolment tokens in the database

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-01

Consumers gain `expires_at` and `revoked_at` (both NULL for existing rows: their
tokens keep working). `enrolment_tokens` holds the hashes of contributor enrolment
tokens made by `runsurge admin add-contributor-token`.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("consumers", sa.Column("expires_at", sa.DateTime(timezone=True)))
    op.add_column("consumers", sa.Column("revoked_at", sa.DateTime(timezone=True)))
    op.create_table(
        "enrolment_tokens",
        sa.Column("id", sa.String(length=32), primary_key=True),
        sa.Column("token_sha256", sa.String(length=64), nullable=False, unique=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True)),
        sa.Column("revoked_at", sa.DateTime(timezone=True)),
    )


def downgrade() -> None:
    op.drop_table("enrolment_tokens")
    op.drop_column("consumers", "revoked_at")
    op.drop_column("consumers", "expires_at")
