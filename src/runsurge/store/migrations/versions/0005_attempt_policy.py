"""attempt policy: the sandbox limits decided when an attempt is claimed

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-02

Each attempt now records the policy it was sent with. Attempts made before this
migration were sent the coordinator's defaults with their reservation as memory
limit; they get the shipped defaults (the operator's settings of the time are not
known here) and their reservation. The columns then become NOT NULL without a server
default, so no attempt is ever stored without a decided policy.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

MiB = 1024 * 1024
TYPES: dict[str, sa.types.TypeEngine[Any]] = {
    "policy_memory_bytes": sa.BigInteger(),
    "policy_pids": sa.Integer(),
    "policy_cpu_seconds": sa.Float(),
    "policy_wall_seconds": sa.Float(),
    "policy_max_output_bytes": sa.BigInteger(),
    "policy_max_log_bytes": sa.BigInteger(),
    "policy_workdir_bytes": sa.BigInteger(),
}
# The defaults shipped when this migration was written (frozen here on purpose);
# the memory limit comes from each attempt's reservation.
SHIPPED_DEFAULTS: dict[str, object] = {
    "policy_pids": 64,
    "policy_cpu_seconds": 600.0,
    "policy_wall_seconds": 900.0,
    "policy_max_output_bytes": 64 * MiB,
    "policy_max_log_bytes": 1 * MiB,
    "policy_workdir_bytes": 64 * MiB,
}


def upgrade() -> None:
    with op.batch_alter_table("attempts", schema=None) as batch_op:
        for name, type_ in TYPES.items():
            batch_op.add_column(sa.Column(name, type_, nullable=True))
    attempts = sa.table(
        "attempts",
        sa.column("memory_reservation_bytes", sa.BigInteger()),
        *(sa.column(name, type_) for name, type_ in TYPES.items()),
    )
    op.execute(
        attempts.update().values(
            policy_memory_bytes=attempts.c.memory_reservation_bytes, **SHIPPED_DEFAULTS
        )
    )
    with op.batch_alter_table("attempts", schema=None) as batch_op:
        for name, type_ in TYPES.items():
            batch_op.alter_column(name, existing_type=type_, nullable=False)


def downgrade() -> None:
    with op.batch_alter_table("attempts", schema=None) as batch_op:
        for name in reversed(TYPES):
            batch_op.drop_column(name)
