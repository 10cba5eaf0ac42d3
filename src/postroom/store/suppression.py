"""SQL for the account-level suppression list (SES: bounces and complaints, per account)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlalchemy import delete, select, update
from sqlalchemy.engine import Connection

from postroom.errors import NotFound
from postroom.store.fastsql import Sql, in_query
from postroom.store.schema import accounts, suppressed

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


def get(conn: Connection, account_id: str, address: str) -> dict[str, Any] | None:
    """The account's entry for `address` (compared lower-cased), or None."""
    query = select(suppressed).where(
        suppressed.c.account_id == account_id, suppressed.c.address == address.lower()
    )
    row = conn.execute(query).first()
    return dict(row._mapping) if row else None


def page(
    conn: Connection, account_id: str, reasons: Iterable[str], start: float | None,
    end: float | None, offset: int, limit: int,
) -> list[dict[str, Any]]:  # fmt: skip
    """Entries of the account with one of `reasons`, last updated within [start, end],
    newest first: `limit` of them after the first `offset`."""
    query = select(suppressed).where(
        suppressed.c.account_id == account_id, suppressed.c.reason.in_(sorted(set(reasons)))
    )
    if start is not None:
        query = query.where(suppressed.c.created_at >= start)
    if end is not None:
        query = query.where(suppressed.c.created_at <= end)
    query = query.order_by(suppressed.c.created_at.desc(), suppressed.c.address)
    rows = conn.execute(query.offset(offset).limit(limit))
    return [dict(row._mapping) for row in rows]


def reasons_of(conn: Connection, account_id: str) -> frozenset[str]:
    """The reasons for which outcomes add addresses to the account's list (SES v2
    SuppressedReasons), stored comma-separated in `accounts.suppressed_reasons`."""
    query = select(accounts.c.suppressed_reasons).where(accounts.c.id == account_id)
    value = conn.execute(query).scalar_one_or_none()
    if value is None:
        raise NotFound(f"Account {account_id} does not exist.")
    return frozenset(r for r in value.split(",") if r in REASONS)


def set_reasons(conn: Connection, account_id: str, reasons: Iterable[str]) -> None:
    wanted = sorted(set(reasons))
    if any(r not in REASONS for r in wanted):
        raise ValueError(wanted)
    query = update(accounts).where(accounts.c.id == account_id)
    conn.execute(query.values(suppressed_reasons=",".join(wanted)))
