"""account pauses by owner, rate limits, meta

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-08 00:24:57.925469
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "meta",
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("value", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("name"),
    )
    op.create_table(
        "rate_limits",
        sa.Column("key", sa.String(length=400), nullable=False),
        sa.Column("tokens", sa.Float(), nullable=False),
        sa.Column("updated_at", sa.Float(), nullable=False),
        sa.Column("full_at", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("key"),
    )
    with op.batch_alter_table("rate_limits", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_rate_limits_full_at"), ["full_at"], unique=False)

    with op.batch_alter_table("accounts", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("paused_by_tenant", sa.Boolean(), server_default=sa.false(), nullable=False)
        )
        batch_op.add_column(
            sa.Column("paused_by_operator", sa.Boolean(), server_default=sa.false(), nullable=False)
        )

    # Until now only the tenant (UpdateAccountSendingEnabled) or a reputation pause turned
    # sending off; a paused account that reputation did not pause was paused by its tenant.
    # A SHUTDOWN account that sends again had lifted reputation's pause itself: paused again.
    accounts = sa.table(
        "accounts",
        sa.column("sending_enabled", sa.Boolean),
        sa.column("enforcement", sa.String),
        sa.column("paused_by_tenant", sa.Boolean),
    )
    op.execute(
        accounts.update()
        .where(accounts.c.sending_enabled.is_(sa.false()), accounts.c.enforcement != "SHUTDOWN")
        .values(paused_by_tenant=True)
    )
    op.execute(
        accounts.update().where(accounts.c.enforcement == "SHUTDOWN").values(sending_enabled=False)
    )


def downgrade() -> None:
    with op.batch_alter_table("accounts", schema=None) as batch_op:
        batch_op.drop_column("paused_by_operator")
        batch_op.drop_column("paused_by_tenant")

    with op.batch_alter_table("rate_limits", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_rate_limits_full_at"))

    op.drop_table("rate_limits")
    op.drop_table("meta")
