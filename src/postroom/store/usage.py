"""SQL for quota usage (per minute) and send statistics (per 15 minutes)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Table, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.engine import Connection

from postroom.domain.quotas import DAY_SECONDS, minute_of, stats_bucket
from postroom.store.fastsql import Sql
from postroom.store.schema import send_stats

STAT_COLUMNS = ("delivery_attempts", "bounces", "complaints", "rejects")


_UPSERTS: dict[tuple[str, str, tuple[str, ...], tuple[str, ...]], Any] = {}


def _upsert_statement(
    dialect: str, table: Table, keys: tuple[str, ...], increments: tuple[str, ...]
) -> Any:
    """INSERT ... ON CONFLICT DO UPDATE SET n = n + excluded.n, built once per shape."""
    cache_key = (dialect, table.name, keys, increments)
    if cache_key not in _UPSERTS:
        builder = pg_insert if dialect == "postgresql" else sqlite_insert
        stmt = builder(table)
        _UPSERTS[cache_key] = stmt.on_conflict_do_update(
            index_elements=list(keys),
            set_={name: table.c[name] + stmt.excluded[name] for name in increments},
        )
    return _UPSERTS[cache_key]


def _upsert_increment(
    conn: Connection, table: Table, keys: dict[str, object], increments: dict[str, int]
) -> None:
    stmt = _upsert_statement(conn.dialect.name, table, tuple(keys), tuple(increments))
    conn.execute(stmt, {**keys, **increments})


_SENT_SINCE = Sql(
    "SELECT COALESCE(SUM(recipients), 0) FROM usage WHERE account_id = :account_id "
    "AND minute > :since"
)
_CHARGE = Sql(
    "INSERT INTO usage (account_id, minute, recipients) VALUES (:account_id, :minute, :n) "
    "ON CONFLICT (account_id, minute) DO UPDATE SET recipients = usage.recipients + "
    "excluded.recipients"
)


def sent_last_24h(conn: Connection, account_id: str, now: float) -> int:
    since = minute_of(now - DAY_SECONDS)
    params = {"account_id": account_id, "since": since}
    return int(_SENT_SINCE.rows(conn, params)[0][0])


def charge_daily(conn: Connection, account_id: str, recipients: int, now: float) -> None:
    if recipients:
        _CHARGE.run(conn, {"account_id": account_id, "minute": minute_of(now), "n": recipients})


def count_stat(
    conn: Connection, account_id: str, when: float, column: str, amount: int = 1
) -> None:
    if column not in STAT_COLUMNS:
        raise ValueError(column)
    increments = {name: (amount if name == column else 0) for name in STAT_COLUMNS}
    _upsert_increment(
        conn, send_stats, {"account_id": account_id, "bucket": stats_bucket(when)}, increments
    )


def send_statistics(conn: Connection, account_id: str, now: float) -> list[dict[str, object]]:
    """SendDataPoints for the last two weeks, one per 15-minute bucket with activity."""
    since = now - 14 * DAY_SECONDS
    rows = conn.execute(
        select(send_stats)
        .where(send_stats.c.account_id == account_id, send_stats.c.bucket >= since)
        .order_by(send_stats.c.bucket)
    )
    return [
        {
            "Timestamp": float(row.bucket),
            "DeliveryAttempts": row.delivery_attempts,
            "Bounces": row.bounces,
            "Complaints": row.complaints,
            "Rejects": row.rejects,
        }
        for row in rows
    ]
