"""account state per region (quotas, sandbox, sending switch, details), production-access
requests, usage and statistics per region, DKIM keys by domain and selector (issue 9)

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-08 04:00:00
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

# Usage and statistics counted before this revision go to the region the account sent the
# most messages from (us-east-1 if it sent none).
_MAIN_REGION = (
    "COALESCE((SELECT m.region FROM messages m WHERE m.account_id = {table}.account_id "
    "GROUP BY m.region ORDER BY COUNT(*) DESC, m.region LIMIT 1), 'us-east-1')"
)


def _with_region(table: str, key: str, columns: list[sa.Column[Any]]) -> None:
    """Recreate `table` with `region` in its primary key, keeping its rows."""
    op.create_table(
        f"{table}_new",
        sa.Column("account_id", sa.String(length=12), nullable=False),
        sa.Column("region", sa.String(length=32), nullable=False),
        sa.Column(key, sa.Integer(), nullable=False),
        *columns,
        sa.PrimaryKeyConstraint("account_id", "region", key, name=f"{table}_new_pkey"),
    )
    names = ", ".join(["account_id", key, *(c.name for c in columns)])
    op.execute(
        f"INSERT INTO {table}_new (region, {names}) "
        f"SELECT {_MAIN_REGION.format(table=table)}, {names} FROM {table}"
    )
    op.drop_table(table)
    op.rename_table(f"{table}_new", table)
    if op.get_bind().dialect.name == "postgresql":  # the name PostgreSQL would have chosen
        op.execute(f"ALTER TABLE {table} RENAME CONSTRAINT {table}_new_pkey TO {table}_pkey")


def upgrade() -> None:
    op.create_table(
        "account_regions",
        sa.Column("account_id", sa.String(length=12), nullable=False),
        sa.Column("region", sa.String(length=32), nullable=False),
        sa.Column("sandbox", sa.Boolean(), nullable=False),
        sa.Column("max_24h", sa.Float(), nullable=False),
        sa.Column("max_rate", sa.Float(), nullable=False),
        sa.Column("sending_enabled", sa.Boolean(), nullable=False),
        sa.Column("rate_tokens", sa.Float(), nullable=False),
        sa.Column("rate_updated_at", sa.Float(), nullable=False),
        sa.Column("paused_by_tenant", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.Column("paused_by_operator", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.Column("details", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(["account_id"], ["accounts.id"]),
        sa.PrimaryKeyConstraint("account_id", "region"),
    )
    op.create_table(
        "access_requests",
        sa.Column("case_id", sa.String(length=16), nullable=False),
        sa.Column("account_id", sa.String(length=12), nullable=False),
        sa.Column("region", sa.String(length=32), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("details", sa.Text(), nullable=False),
        sa.Column("filed_at", sa.Float(), nullable=False),
        sa.Column("decided_at", sa.Float(), nullable=True),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(["account_id"], ["accounts.id"]),
        sa.PrimaryKeyConstraint("case_id"),
    )
    op.create_index(
        "ix_access_requests_account", "access_requests", ["account_id", "region"], unique=False
    )
    op.create_index("ix_access_requests_status", "access_requests", ["status"], unique=False)
    # Every region an account has used takes the account's state as it was; other regions
    # start from the account's defaults (sandbox, quotas, the operator's pause) when used.
    op.execute(
        "INSERT INTO account_regions (account_id, region, sandbox, max_24h, max_rate, "
        "sending_enabled, rate_tokens, rate_updated_at, paused_by_tenant, paused_by_operator) "
        "SELECT a.id, used.region, a.sandbox, a.max_24h, a.max_rate, a.sending_enabled, "
        "a.rate_tokens, a.rate_updated_at, a.paused_by_tenant, a.paused_by_operator "
        "FROM accounts a JOIN (SELECT account_id, region FROM messages UNION "
        "SELECT account_id, region FROM identities) used ON used.account_id = a.id"
    )
    _dkim_keys_by_domain()
    _with_region("usage", "minute", [sa.Column("recipients", sa.Integer(), nullable=False)])
    counts = ["delivery_attempts", "bounces", "complaints", "rejects"]
    reputation = ["rep_sends", "rep_hard_bounces", "rep_complaints"]
    _with_region(
        "send_stats",
        "bucket",
        [sa.Column(c, sa.Integer(), nullable=False) for c in counts]
        + [sa.Column(c, sa.Integer(), server_default="0", nullable=False) for c in reputation],
    )


def _dkim_keys_by_domain() -> None:
    """dkim_keys keyed by (account, region, domain, selector); a BYODKIM selector loses the
    `#<hash>` suffix 0008 kept it unique with."""
    op.create_table(
        "dkim_keys_new",
        sa.Column("account_id", sa.String(length=12), nullable=False),
        sa.Column("region", sa.String(length=32), nullable=False),
        sa.Column("domain", sa.String(length=255), nullable=False),
        sa.Column("selector", sa.String(length=64), nullable=False),
        sa.Column("private_key_sealed", sa.Text(), nullable=False),
        sa.Column("public_key", sa.Text(), nullable=False),
        sa.Column("created_at", sa.Float(), nullable=False),
        sa.Column("seen_at", sa.Float(), nullable=True),
        sa.PrimaryKeyConstraint(
            "account_id", "region", "domain", "selector", name="dkim_keys_new_pkey"
        ),
    )
    columns = "account_id, region, domain, selector, private_key_sealed, public_key, " \
        "created_at, seen_at"  # fmt: skip
    bind = op.get_bind()
    rows = [dict(r._mapping) for r in bind.execute(sa.text(f"SELECT {columns} FROM dkim_keys"))]
    for row in rows:
        row["selector"] = row["selector"].partition("#")[0]
    if rows:
        names = ", ".join(f":{c.strip()}" for c in columns.split(","))
        bind.execute(sa.text(f"INSERT INTO dkim_keys_new ({columns}) VALUES ({names})"), rows)
    op.drop_table("dkim_keys")
    op.rename_table("dkim_keys_new", "dkim_keys")
    if bind.dialect.name == "postgresql":
        op.execute("ALTER TABLE dkim_keys RENAME CONSTRAINT dkim_keys_new_pkey TO dkim_keys_pkey")


def downgrade() -> None:
    raise NotImplementedError("0009 keeps usage per region; restore a backup to go back")
