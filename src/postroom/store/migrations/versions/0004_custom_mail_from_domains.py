"""custom mail from domains

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-30 06:25:16.812938
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "mail_from",
        sa.Column("account_id", sa.String(length=12), nullable=False),
        sa.Column("region", sa.String(length=32), nullable=False),
        sa.Column("identity", sa.String(length=320), nullable=False),
        sa.Column("domain", sa.String(length=255), nullable=False),
        sa.Column("behavior", sa.String(length=24), nullable=False),
        sa.Column("status", sa.String(length=24), nullable=False),
        sa.Column("created_at", sa.Float(), nullable=False),
        sa.Column("last_checked_at", sa.Float(), nullable=True),
        sa.PrimaryKeyConstraint("account_id", "region", "identity"),
    )


def downgrade() -> None:
    op.drop_table("mail_from")
