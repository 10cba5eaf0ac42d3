"""account reputation

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-30 06:31:05.202127
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("accounts", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("enforcement", sa.String(length=16), server_default="HEALTHY", nullable=False)
        )
        batch_op.add_column(
            sa.Column("reputation_since", sa.Float(), server_default="0", nullable=False)
        )

    with op.batch_alter_table("send_stats", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("rep_sends", sa.Integer(), server_default="0", nullable=False)
        )
        batch_op.add_column(
            sa.Column("rep_hard_bounces", sa.Integer(), server_default="0", nullable=False)
        )
        batch_op.add_column(
            sa.Column("rep_complaints", sa.Integer(), server_default="0", nullable=False)
        )


def downgrade() -> None:
    with op.batch_alter_table("send_stats", schema=None) as batch_op:
        batch_op.drop_column("rep_complaints")
        batch_op.drop_column("rep_hard_bounces")
        batch_op.drop_column("rep_sends")

    with op.batch_alter_table("accounts", schema=None) as batch_op:
        batch_op.drop_column("reputation_since")
        batch_op.drop_column("enforcement")
