"""templates, resource tags, identity feedback forwarding, account suppressed reasons,
DKIM signing origin (issue 9)

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-08 02:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "templates",
        sa.Column("account_id", sa.String(length=12), nullable=False),
        sa.Column("region", sa.String(length=32), nullable=False),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("subject", sa.Text(), nullable=True),
        sa.Column("text", sa.Text(), nullable=True),
        sa.Column("html", sa.Text(), nullable=True),
        sa.Column("created_at", sa.Float(), nullable=False),
        sa.Column("updated_at", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("account_id", "region", "name"),
    )
    op.create_table(
        "resource_tags",
        sa.Column("account_id", sa.String(length=12), nullable=False),
        sa.Column("resource_arn", sa.String(length=512), nullable=False),
        sa.Column("key", sa.String(length=128), nullable=False),
        sa.Column("value", sa.String(length=256), nullable=False),
        sa.PrimaryKeyConstraint("account_id", "resource_arn", "key"),
    )
    with op.batch_alter_table("accounts", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column(
                "suppressed_reasons",
                sa.String(length=32),
                server_default="BOUNCE,COMPLAINT",
                nullable=False,
            )
        )
    with op.batch_alter_table("identities", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("feedback_forwarding", sa.Boolean(), server_default=sa.true(), nullable=False)
        )
    with op.batch_alter_table("dkim_domains", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column(
                "signing_origin", sa.String(length=16), server_default="AWS_SES", nullable=False
            )
        )


def downgrade() -> None:
    with op.batch_alter_table("dkim_domains", schema=None) as batch_op:
        batch_op.drop_column("signing_origin")
    with op.batch_alter_table("identities", schema=None) as batch_op:
        batch_op.drop_column("feedback_forwarding")
    with op.batch_alter_table("accounts", schema=None) as batch_op:
        batch_op.drop_column("suppressed_reasons")
    op.drop_table("resource_tags")
    op.drop_table("templates")
