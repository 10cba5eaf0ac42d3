"""SQL for reputation: counts over the window and the account's enforcement status."""

from __future__ import annotations

from sqlalchemy import func, select, update
from sqlalchemy.engine import Connection

from postroom.domain.reputation import HEALTHY, WINDOW_SECONDS, Counts
from postroom.store.accounts import refresh_sending_enabled
from postroom.store.schema import accounts, send_stats


def counts(conn: Connection, account_id: str, since: float, now: float) -> Counts:
    """Sums over the 15-minute buckets of the window; after a resume (`since`), only
    buckets that began after it count, so the old rates are forgotten."""
    row = conn.execute(
        select(
            func.coalesce(func.sum(send_stats.c.rep_sends), 0),
            func.coalesce(func.sum(send_stats.c.rep_hard_bounces), 0),
            func.coalesce(func.sum(send_stats.c.rep_complaints), 0),
        ).where(
            send_stats.c.account_id == account_id,
            send_stats.c.bucket >= now - WINDOW_SECONDS - 900,
            send_stats.c.bucket >= since,
        )
    ).one()
    return Counts(int(row[0]), int(row[1]), int(row[2]))


def current_counts(conn: Connection, account_id: str, now: float) -> Counts:
    """The counts the account's enforcement status is assessed on now."""
    since = conn.execute(
        select(accounts.c.reputation_since).where(accounts.c.id == account_id)
    ).scalar_one()
    return counts(conn, account_id, since, now)


def accounts_to_assess(conn: Connection) -> list[tuple[str, str, str, float]]:
    """(id, name, enforcement, reputation_since) of every account."""
    rows = conn.execute(
        select(accounts.c.id, accounts.c.name, accounts.c.enforcement, accounts.c.reputation_since)
    )
    return [(r.id, r.name, r.enforcement, r.reputation_since) for r in rows]


def set_enforcement(conn: Connection, account_id: str, status: str) -> None:
    """A SHUTDOWN pauses sending until the operator resumes it."""
    conn.execute(update(accounts).where(accounts.c.id == account_id).values(enforcement=status))
    refresh_sending_enabled(conn, account_id)


def resume(conn: Connection, account_id: str, now: float) -> None:
    """Lift reputation's pause or review: healthy, rates counted afresh from now. (The
    operator's pause is lifted by `accounts.set_paused`; a tenant's stays.)"""
    conn.execute(
        update(accounts)
        .where(accounts.c.id == account_id)
        .values(enforcement=HEALTHY, reputation_since=now)
    )
    refresh_sending_enabled(conn, account_id)
