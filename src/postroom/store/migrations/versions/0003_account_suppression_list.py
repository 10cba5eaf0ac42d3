"""account suppression list

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-30 06:23:01.888378
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "suppressed",
        sa.Column("account_id", sa.String(length=12), nullable=False),
        sa.Column("address", sa.String(length=320), nullable=False),
        sa.Column("reason", sa.String(length=16), nullable=False),
        sa.Column("created_at", sa.Float(), nullable=False),
        sa.Column("message_id", sa.String(length=64), nullable=True),
        sa.PrimaryKeyConstraint("account_id", "address"),
    )


def downgrade() -> None:
    op.drop_table("suppressed")
