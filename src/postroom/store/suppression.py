"""SQL for the account-level suppression list (SES: bounces and complaints, per account)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.engine import Connection

from postroom.store.fastsql import Sql, in_query
from postroom.store.schema import suppressed

REASONS = ("BOUNCE", "COMPLAINT")

_ADD = Sql(
    "INSERT INTO suppressed (account_id, address, reason, created_at, message_id) "
    "VALUES (:account_id, :address, :reason, :created_at, :message_id) "
    "ON CONFLICT (account_id, address) DO UPDATE SET reason = excluded.reason, "
    "created_at = excluded.created_at, message_id = excluded.message_id"
)


def add(
    conn: Connection, account_id: str, address: str, reason: str, now: float,
    message_id: str | None = None,
) -> None:  # fmt: skip
    if reason not in REASONS:
        raise ValueError(reason)
    params = {"account_id": account_id, "address": address.lower(), "reason": reason,
              "created_at": now, "message_id": message_id}  # fmt: skip
    _ADD.run(conn, params)


def remove(conn: Connection, account_id: str, address: str) -> bool:
    result = conn.execute(
        delete(suppressed).where(
            suppressed.c.account_id == account_id, suppressed.c.address == address.lower()
        )
    )
    return bool(result.rowcount)


_AMONG = "SELECT address FROM suppressed WHERE account_id = :account_id AND address IN {in}"


def among(conn: Connection, account_id: str, addresses: Iterable[str]) -> set[str]:
    """Which of `addresses` (compared lower-cased) the account suppresses."""
    wanted = sorted({a.lower() for a in addresses})
    if not wanted:
        return set()
    sql, params = in_query(_AMONG, "a", wanted)
    params["account_id"] = account_id
    return {row[0] for row in sql.rows(conn, params)}


def entries(conn: Connection, account_id: str) -> list[dict[str, Any]]:
    query = (
        select(suppressed)
        .where(suppressed.c.account_id == account_id)
        .order_by(suppressed.c.created_at.desc(), suppressed.c.address)
    )
    return [dict(row._mapping) for row in conn.execute(query)]
