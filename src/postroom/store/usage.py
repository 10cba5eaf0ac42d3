"""SQL for quota usage (per minute) and send statistics (per 15 minutes)."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.engine import Connection

from postroom.domain.quotas import DAY_SECONDS, minute_of, stats_bucket
from postroom.store.schema import send_stats, usage

STAT_COLUMNS = ("delivery_attempts", "bounces", "complaints", "rejects")


def _upsert_increment(
    conn: Connection, table: object, keys: dict[str, object], increments: dict[str, int]
) -> None:
    builder = pg_insert if conn.dialect.name == "postgresql" else sqlite_insert
    stmt = builder(table).values(**keys, **increments)  # type: ignore[arg-type]
    stmt = stmt.on_conflict_do_update(
        index_elements=list(keys),
        set_={name: getattr(table.c, name) + stmt.excluded[name] for name in increments},  # type: ignore[attr-defined]
    )
    conn.execute(stmt)


def sent_last_24h(conn: Connection, account_id: str, now: float) -> int:
    since = minute_of(now - DAY_SECONDS)
    query = select(func.coalesce(func.sum(usage.c.recipients), 0)).where(
        usage.c.account_id == account_id, usage.c.minute > since
    )
    return int(conn.execute(query).scalar_one())


def charge_daily(conn: Connection, account_id: str, recipients: int, now: float) -> None:
    if recipients:
        _upsert_increment(
            conn,
            usage,
            {"account_id": account_id, "minute": minute_of(now)},
            {"recipients": recipients},
        )


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
