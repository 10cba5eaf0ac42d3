"""SQL for quota usage (per minute) and send statistics (per 15 minutes), per account and
region (reputation sums an account's regions: store/reputation.py)."""

from __future__ import annotations

from collections.abc import Mapping

from sqlalchemy import select
from sqlalchemy.engine import Connection

from postroom.domain.quotas import DAY_SECONDS, minute_of, stats_bucket
from postroom.domain.requests import SendDataPoint
from postroom.store.fastsql import Sql
from postroom.store.schema import send_stats

STAT_COLUMNS = (
    "delivery_attempts", "bounces", "complaints", "rejects",
    "rep_sends", "rep_hard_bounces", "rep_complaints",
)  # fmt: skip


_SENT_SINCE = Sql(
    "SELECT COALESCE(SUM(recipients), 0) FROM usage WHERE account_id = :account_id "
    "AND region = :region AND minute > :since"
)
_CHARGE = Sql(
    "INSERT INTO usage (account_id, region, minute, recipients) "
    "VALUES (:account_id, :region, :minute, :n) "
    "ON CONFLICT (account_id, region, minute) DO UPDATE SET recipients = usage.recipients + "
    "excluded.recipients"
)


def sent_last_24h(conn: Connection, account_id: str, region: str, now: float) -> int:
    since = minute_of(now - DAY_SECONDS)
    params = {"account_id": account_id, "region": region, "since": since}
    return int(_SENT_SINCE.rows(conn, params)[0][0])


def charge_minutes(
    conn: Connection, account_id: str, region: str, recipients: Mapping[int, int]
) -> None:
    """Count recipients against the region's 24-hour quota, by minute."""
    rows = [
        {"account_id": account_id, "region": region, "minute": minute, "n": n}
        for minute, n in recipients.items()
        if n
    ]
    if rows:
        _CHARGE.run_many(conn, rows)


_COUNT = Sql(
    "INSERT INTO send_stats (account_id, region, bucket, "
    + ", ".join(STAT_COLUMNS)
    + ") VALUES (:account_id, :region, :bucket, "
    + ", ".join(f":{c}" for c in STAT_COLUMNS)
    + ") ON CONFLICT (account_id, region, bucket) DO UPDATE SET "
    + ", ".join(f"{c} = send_stats.{c} + excluded.{c}" for c in STAT_COLUMNS)
)


def count_stats(
    conn: Connection, account_id: str, region: str, when: float, **increments: int
) -> None:
    """Add to the account's 15-minute bucket in the region, in one statement:
    GetSendStatistics' counts
    (delivery_attempts, bounces, complaints, rejects) and reputation's (rep_*)."""
    unknown = set(increments) - set(STAT_COLUMNS)
    if unknown:
        raise ValueError(f"unknown statistics: {sorted(unknown)}")
    counts = {name: increments.get(name, 0) for name in STAT_COLUMNS}
    if any(counts.values()):
        bucket = stats_bucket(when)
        _COUNT.run(conn, {"account_id": account_id, "region": region, "bucket": bucket, **counts})


def send_statistics(
    conn: Connection, account_id: str, region: str, now: float
) -> list[SendDataPoint]:
    """The region's SendDataPoints for the last two weeks, one per 15-minute bucket with
    activity."""
    since = now - 14 * DAY_SECONDS
    rows = conn.execute(
        select(send_stats)
        .where(
            send_stats.c.account_id == account_id,
            send_stats.c.region == region,
            send_stats.c.bucket >= since,
        )
        .order_by(send_stats.c.bucket)
    )
    return [
        SendDataPoint(
            float(row.bucket), row.delivery_attempts, row.bounces, row.complaints, row.rejects
        )
        for row in rows
    ]
