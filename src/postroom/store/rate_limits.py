"""SQL for the shared token buckets of `domain/rate_limits.py` (both engines).

`take` runs inside the caller's write transaction: the row is created if missing (ON
CONFLICT DO NOTHING, so concurrent first takes on PostgreSQL do not collide), then read
locked (FOR UPDATE on PostgreSQL; SQLite's write transaction already holds the database)
and written back, so two nodes never both spend the last token.
"""

from __future__ import annotations

from sqlalchemy import delete, text
from sqlalchemy.engine import Connection

from postroom.domain.rate_limits import Limit, refill
from postroom.store.schema import rate_limits

_CREATE = text(
    "INSERT INTO rate_limits (key, tokens, updated_at, full_at) "
    "VALUES (:key, :tokens, :now, :now) ON CONFLICT (key) DO NOTHING"
)
_READ = "SELECT tokens, updated_at FROM rate_limits WHERE key = :key"
_SAVE = text(
    "UPDATE rate_limits SET tokens = :tokens, updated_at = :now, full_at = :full_at "
    "WHERE key = :key"
)


def take(conn: Connection, limit: Limit, subject: tuple[str, ...], now: float) -> bool:
    """Spend one token of `limit` for `subject`; False (nothing spent) when there is none."""
    key = limit.key(*subject)
    conn.execute(_CREATE, {"key": key, "tokens": limit.burst, "now": now})
    locking = " FOR UPDATE" if conn.dialect.name == "postgresql" else ""
    stored, updated_at = conn.execute(text(_READ + locking), {"key": key}).one()
    tokens = refill(stored, updated_at, now, limit.per_second, limit.burst)
    if tokens < 1.0:
        return False
    tokens -= 1.0
    full_at = now + limit.full_after(tokens)
    conn.execute(_SAVE, {"key": key, "tokens": tokens, "now": now, "full_at": full_at})
    return True


def prune(conn: Connection, now: float) -> int:
    """Forget full buckets (a missing row is a full bucket); returns how many went."""
    return conn.execute(delete(rate_limits).where(rate_limits.c.full_at <= now)).rowcount
