"""SQL for custom MAIL FROM domains (SetIdentityMailFromDomain)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlalchemy import delete, select, update
from sqlalchemy.engine import Connection

from postroom.domain.identities import MailFrom
from postroom.store.fastsql import Sql, in_query
from postroom.store.schema import mail_from

_SET = Sql(
    "INSERT INTO mail_from (account_id, region, identity, domain, behavior, status, "
    "created_at) VALUES (:account_id, :region, :identity, :domain, :behavior, 'Pending', :now) "
    "ON CONFLICT (account_id, region, identity) DO UPDATE SET domain = excluded.domain, "
    "behavior = excluded.behavior, status = 'Pending', created_at = excluded.created_at, "
    "last_checked_at = NULL"
)


def put(
    conn: Connection, account_id: str, region: str, identity: str, domain: str, behavior: str,
    now: float,
) -> None:  # fmt: skip
    params = {"account_id": account_id, "region": region, "identity": identity,
              "domain": domain, "behavior": behavior, "now": now}  # fmt: skip
    _SET.run(conn, params)


def clear(conn: Connection, account_id: str, region: str, identity: str) -> None:
    conn.execute(
        delete(mail_from).where(
            mail_from.c.account_id == account_id,
            mail_from.c.region == region,
            mail_from.c.identity == identity,
        )
    )


def set_behavior(conn: Connection, found: MailFrom, behavior: str) -> None:
    conn.execute(update(mail_from).where(*_match(found)).values(behavior=behavior))


def set_status(conn: Connection, found: MailFrom, status: str, now: float) -> None:
    conn.execute(update(mail_from).where(*_match(found)).values(status=status, last_checked_at=now))


def _match(found: MailFrom) -> list[Any]:
    return [
        mail_from.c.account_id == found.account_id,
        mail_from.c.region == found.region,
        mail_from.c.identity == found.identity,
    ]


_FOR_IDENTITIES = (
    "SELECT account_id, region, identity, domain, behavior, status, created_at, "
    "last_checked_at FROM mail_from WHERE account_id = :account_id AND region = :region "
    "AND identity IN {in}"
)


def for_identities(
    conn: Connection, account_id: str, region: str, identities: Iterable[str]
) -> dict[str, MailFrom]:
    """Settings of these identities (hot path: a single DBAPI statement)."""
    wanted = sorted(set(identities))
    if not wanted:
        return {}
    sql, params = in_query(_FOR_IDENTITIES, "i", wanted)
    params.update(account_id=account_id, region=region)
    return {row[2]: MailFrom(*row) for row in sql.rows(conn, params)}


def pending(conn: Connection) -> list[MailFrom]:
    rows = conn.execute(select(mail_from).where(mail_from.c.status != "Success"))
    return [
        MailFrom(
            r.account_id,
            r.region,
            r.identity,
            r.domain,
            r.behavior,
            r.status,
            r.created_at,
            r.last_checked_at,
        )  # fmt: skip
        for r in rows
    ]
