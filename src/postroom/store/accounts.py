"""SQL for accounts and access keys."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, insert, not_, or_, select, update
from sqlalchemy.engine import Connection

from postroom.domain.accounts import (
    PRODUCTION_MAX_24H,
    PRODUCTION_MAX_RATE,
    SANDBOX_MAX_24H,
    SANDBOX_MAX_RATE,
    Account,
    check_account_name,
)
from postroom.errors import InvalidParameterValue, NotFound
from postroom.store.fastsql import Sql
from postroom.store.schema import access_keys, accounts
from postroom.wire import ids


def _account(row: Any) -> Account:
    return Account(
        id=row.id,
        name=row.name,
        created_at=row.created_at,
        sandbox=bool(row.sandbox),
        max_24h=row.max_24h,
        max_rate=row.max_rate,
        sending_enabled=bool(row.sending_enabled),
        rate_tokens=row.rate_tokens,
        rate_updated_at=row.rate_updated_at,
        enforcement=row.enforcement,
        paused_by_tenant=bool(row.paused_by_tenant),
        paused_by_operator=bool(row.paused_by_operator),
    )


def insert_account(conn: Connection, name: str, now: float) -> Account:
    check_account_name(name)
    if conn.execute(select(accounts.c.id).where(accounts.c.name == name)).first():
        raise InvalidParameterValue(f"Account {name} already exists.", code="AlreadyExists")
    while True:
        account_id = ids.account_id()
        if not conn.execute(select(accounts.c.id).where(accounts.c.id == account_id)).first():
            break
    conn.execute(
        insert(accounts).values(
            id=account_id,
            name=name,
            created_at=now,
            sandbox=True,
            max_24h=SANDBOX_MAX_24H,
            max_rate=SANDBOX_MAX_RATE,
            sending_enabled=True,
            rate_tokens=SANDBOX_MAX_RATE,
            rate_updated_at=now,
        )
    )
    return get_account(conn, account_id)


def insert_key(conn: Connection, account_id: str, sealed_secret: str, now: float) -> str:
    key_id = ids.access_key_id()
    conn.execute(
        insert(access_keys).values(
            access_key_id=key_id,
            account_id=account_id,
            secret_encrypted=sealed_secret,
            created_at=now,
            active=True,
        )
    )
    return key_id


# The send path's statements go straight to the DBAPI (see fastsql).
_COLUMNS = (
    "id, name, created_at, sandbox, max_24h, max_rate, sending_enabled, rate_tokens, "
    "rate_updated_at"
)
_GET = Sql(f"SELECT {_COLUMNS} FROM accounts WHERE id = :account_id")
_GET_FOR_UPDATE = Sql(f"SELECT {_COLUMNS} FROM accounts WHERE id = :account_id FOR UPDATE")
_SAVE_RATE = Sql(
    "UPDATE accounts SET rate_tokens = :tokens, rate_updated_at = :at WHERE id = :account_id"
)


def get_account(conn: Connection, account_id: str, *, for_update: bool = False) -> Account:
    locking = for_update and conn.dialect.name == "postgresql"
    found = (_GET_FOR_UPDATE if locking else _GET).rows(conn, {"account_id": account_id})
    if not found:
        raise NotFound(f"Account {account_id} does not exist.")
    row = found[0]
    return Account(
        row[0], row[1], row[2], bool(row[3]), row[4], row[5], bool(row[6]), row[7], row[8]
    )


def load_account(conn: Connection, account_id: str) -> Account:
    """Every column, pauses included (get_account reads only what the send path needs)."""
    row = conn.execute(select(accounts).where(accounts.c.id == account_id)).first()
    if row is None:
        raise NotFound(f"Account {account_id} does not exist.")
    return _account(row)


def find_account(conn: Connection, name: str) -> Account:
    row = conn.execute(select(accounts).where(accounts.c.name == name)).first()
    if row is None:
        raise NotFound(f"Account {name} does not exist.")
    return _account(row)


def list_accounts(conn: Connection) -> list[Account]:
    rows = conn.execute(select(accounts).order_by(accounts.c.created_at, accounts.c.name))
    return [_account(row) for row in rows]


def key_count(conn: Connection, account_id: str) -> int:
    query = select(func.count()).where(access_keys.c.account_id == account_id)
    return int(conn.execute(query).scalar_one())


def lookup_key(conn: Connection, access_key_id: str) -> tuple[str, str] | None:
    """(account_id, sealed secret) of an active key, or None."""
    row = conn.execute(
        select(access_keys.c.account_id, access_keys.c.secret_encrypted).where(
            access_keys.c.access_key_id == access_key_id, access_keys.c.active.is_(True)
        )
    ).first()
    return (row.account_id, row.secret_encrypted) if row else None


def set_production(
    conn: Connection, account_id: str, max_24h: float | None, max_rate: float | None
) -> Account:
    rate = max_rate if max_rate is not None else PRODUCTION_MAX_RATE
    daily = max_24h if max_24h is not None else PRODUCTION_MAX_24H
    if rate <= 0 or daily <= 0:
        raise InvalidParameterValue("Quotas must be positive.")
    conn.execute(
        update(accounts)
        .where(accounts.c.id == account_id)
        .values(sandbox=False, max_24h=daily, max_rate=rate, rate_tokens=max(1.0, rate))
    )
    return get_account(conn, account_id)


PAUSE_OWNERS = {"tenant": accounts.c.paused_by_tenant, "operator": accounts.c.paused_by_operator}


def set_paused(conn: Connection, account_id: str, owner: str, paused: bool) -> None:
    """Hold or lift `owner`'s pause ("tenant" or "operator"); others' pauses stay."""
    column = PAUSE_OWNERS[owner]
    conn.execute(update(accounts).where(accounts.c.id == account_id).values({column: paused}))
    refresh_sending_enabled(conn, account_id)


def refresh_sending_enabled(conn: Connection, account_id: str) -> None:
    """`sending_enabled` (what admission and GetAccountSendingEnabled read): on while no
    pause holds, the tenant's, the operator's or reputation's (SHUTDOWN)."""
    held = or_(
        accounts.c.paused_by_tenant,
        accounts.c.paused_by_operator,
        accounts.c.enforcement == "SHUTDOWN",
    )
    conn.execute(
        update(accounts).where(accounts.c.id == account_id).values(sending_enabled=not_(held))
    )


def save_rate_state(conn: Connection, account_id: str, tokens: float, now: float) -> None:
    _SAVE_RATE.run(conn, {"account_id": account_id, "tokens": tokens, "at": now})
