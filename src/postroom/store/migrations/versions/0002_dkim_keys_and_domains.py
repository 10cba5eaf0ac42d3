"""dkim keys and domains

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-30 06:19:09.941331
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "dkim_domains",
        sa.Column("account_id", sa.String(length=12), nullable=False),
        sa.Column("region", sa.String(length=32), nullable=False),
        sa.Column("domain", sa.String(length=255), nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("status", sa.String(length=24), nullable=False),
        sa.Column("created_at", sa.Float(), nullable=False),
        sa.Column("last_checked_at", sa.Float(), nullable=True),
        sa.PrimaryKeyConstraint("account_id", "region", "domain"),
    )
    op.create_table(
        "dkim_keys",
        sa.Column("selector", sa.String(length=64), nullable=False),
        sa.Column("account_id", sa.String(length=12), nullable=False),
        sa.Column("region", sa.String(length=32), nullable=False),
        sa.Column("domain", sa.String(length=255), nullable=False),
        sa.Column("private_key_sealed", sa.Text(), nullable=False),
        sa.Column("public_key", sa.Text(), nullable=False),
        sa.Column("created_at", sa.Float(), nullable=False),
        sa.Column("seen_at", sa.Float(), nullable=True),
        sa.PrimaryKeyConstraint("selector"),
    )
    with op.batch_alter_table("dkim_keys", schema=None) as batch_op:
        batch_op.create_index(
            "ix_dkim_keys_domain", ["account_id", "region", "domain"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("dkim_keys", schema=None) as batch_op:
        batch_op.drop_index("ix_dkim_keys_domain")

    op.drop_table("dkim_keys")
    op.drop_table("dkim_domains")
