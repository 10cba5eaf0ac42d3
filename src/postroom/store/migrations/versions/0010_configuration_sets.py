"""configuration sets; identities' default set; the set of each message, its TLS
requirement and suppressed reasons (issue 10)

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-08 05:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "configuration_sets",
        sa.Column("account_id", sa.String(length=12), nullable=False),
        sa.Column("region", sa.String(length=32), nullable=False),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.Float(), nullable=False),
        sa.Column("sending_enabled", sa.Boolean(), nullable=False),
        sa.Column("tls_policy", sa.String(length=16), nullable=False),
        sa.Column("sending_pool", sa.String(length=64), nullable=True),
        sa.Column("max_delivery_seconds", sa.Integer(), nullable=True),
        sa.Column("reputation_metrics", sa.Boolean(), nullable=False),
        sa.Column("last_fresh_start", sa.Float(), nullable=True),
        sa.Column("suppressed_reasons", sa.String(length=32), nullable=True),
        sa.Column("tracking_domain", sa.String(length=255), nullable=True),
        sa.Column("https_policy", sa.String(length=24), nullable=True),
        sa.PrimaryKeyConstraint("account_id", "region", "name"),
    )
    # ADD COLUMN in place (nullable or a constant default): a batch rebuild would drop
    # tables other tables' rows point at, which SQLite refuses once data exists.
    op.add_column("identities", sa.Column("configuration_set", sa.String(length=64), nullable=True))
    op.add_column("messages", sa.Column("configuration_set", sa.String(length=64), nullable=True))
    op.add_column(
        "messages",
        sa.Column("require_tls", sa.Boolean(), server_default=sa.false(), nullable=False),
    )
    op.add_column("messages", sa.Column("suppressed_reasons", sa.String(length=32), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("messages", schema=None) as batch_op:
        batch_op.drop_column("suppressed_reasons")
        batch_op.drop_column("require_tls")
        batch_op.drop_column("configuration_set")

    with op.batch_alter_table("identities", schema=None) as batch_op:
        batch_op.drop_column("configuration_set")

    op.drop_table("configuration_sets")
