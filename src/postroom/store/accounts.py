"""SQL for accounts, their state in each region, and access keys."""

from __future__ import annotations

import dataclasses
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
from postroom.store.schema import access_keys, account_regions, accounts
from postroom.wire import ids


def _account(row: Any) -> Account:
    """The account's own row: its defaults for regions it has not used yet. (Its columns
    sending_enabled, rate_* and paused_by_tenant are from before regions; unused.)"""
    held = bool(row.paused_by_operator) or row.enforcement == "SHUTDOWN"
    return Account(
        id=row.id,
        name=row.name,
        created_at=row.created_at,
        sandbox=bool(row.sandbox),
        max_24h=row.max_24h,
        max_rate=row.max_rate,
        sending_enabled=not held,
        rate_tokens=max(1.0, row.max_rate),
        rate_updated_at=0.0,
        enforcement=row.enforcement,
        paused_by_tenant=False,
        paused_by_operator=bool(row.paused_by_operator),
        has_webhooks=bool(row.has_webhooks),
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
    return load_account(conn, account_id)


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


# The send path's statements go straight to the DBAPI (see fastsql). A region's state is
# read with the account's own columns (name, reputation) in one statement.
_REGIONAL = (
    "SELECT a.id, a.name, a.created_at, r.sandbox, r.max_24h, r.max_rate, r.sending_enabled, "
    "r.rate_tokens, r.rate_updated_at, a.enforcement, r.paused_by_tenant, "
    "r.paused_by_operator, r.region, a.has_webhooks FROM account_regions r JOIN accounts a "
    "ON a.id = r.account_id WHERE r.account_id = :account_id"
)
_GET = Sql(_REGIONAL + " AND r.region = :region")
_GET_FOR_UPDATE = Sql(_REGIONAL + " AND r.region = :region FOR UPDATE OF r")
_REGIONS = Sql(_REGIONAL + " ORDER BY r.region")
_SAVE_RATE = Sql(
    "UPDATE account_regions SET rate_tokens = :tokens, rate_updated_at = :at "
    "WHERE account_id = :account_id AND region = :region"
)
# A region the account has not used yet starts from the account's defaults: the sandbox
# and quotas, the operator's pause and reputation; never a tenant's pause of elsewhere.
_FIRST_USE = Sql(
    "INSERT INTO account_regions (account_id, region, sandbox, max_24h, max_rate, "
    "sending_enabled, rate_tokens, rate_updated_at, paused_by_tenant, paused_by_operator) "
    "SELECT id, :region, sandbox, max_24h, max_rate, "
    "NOT (paused_by_operator OR enforcement = 'SHUTDOWN'), "
    "CASE WHEN max_rate > 1 THEN max_rate ELSE 1 END, 0, :false, paused_by_operator "
    "FROM accounts WHERE id = :account_id ON CONFLICT (account_id, region) DO NOTHING"
)


def _regional(row: Any) -> Account:
    return Account(
        row[0], row[1], row[2], bool(row[3]), row[4], row[5], bool(row[6]), row[7], row[8],
        row[9], bool(row[10]), bool(row[11]), row[12], bool(row[13]),
    )  # fmt: skip


def get_account(
    conn: Connection, account_id: str, region: str, *, for_update: bool = False
) -> Account:
    """The account as it stands in `region`. With `for_update` (a write transaction) the
    region's row is made on first use and locked; otherwise a region not used yet reads
    as the account's defaults, writing nothing."""
    params = {"account_id": account_id, "region": region}
    locking = for_update and conn.dialect.name == "postgresql"
    found = (_GET_FOR_UPDATE if locking else _GET).rows(conn, params)
    if found:
        return _regional(found[0])
    if for_update:
        ensure_region(conn, account_id, region)
        return get_account(conn, account_id, region, for_update=True)
    return dataclasses.replace(load_account(conn, account_id), region=region)


def ensure_region(conn: Connection, account_id: str, region: str) -> None:
    """Make the account's row for `region` from its defaults, unless it exists."""
    _FIRST_USE.run(conn, {"account_id": account_id, "region": region, "false": False})
    if not _GET.rows(conn, {"account_id": account_id, "region": region}):
        raise NotFound(f"Account {account_id} does not exist.")


def regions_of(conn: Connection, account_id: str) -> list[Account]:
    """The account's state in each region it has used, by region."""
    return [_regional(row) for row in _REGIONS.rows(conn, {"account_id": account_id})]


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


def _regions(account_id: str, region: str | None) -> Any:
    where = account_regions.c.account_id == account_id
    return where if region is None else (where & (account_regions.c.region == region))


def set_production(
    conn: Connection, account_id: str, region: str | None, max_24h: float | None,
    max_rate: float | None,
) -> None:  # fmt: skip
    """Production access in `region`, or (None) in every region, used or not yet."""
    rate = max_rate if max_rate is not None else PRODUCTION_MAX_RATE
    daily = max_24h if max_24h is not None else PRODUCTION_MAX_24H
    if rate <= 0 or daily <= 0:
        raise InvalidParameterValue("Quotas must be positive.")
    values: dict[str, Any] = {"sandbox": False, "max_24h": daily, "max_rate": rate}
    if region is None:
        conn.execute(update(accounts).where(accounts.c.id == account_id).values(values))
    else:
        ensure_region(conn, account_id, region)
    conn.execute(
        update(account_regions)
        .where(_regions(account_id, region))
        .values(**values, rate_tokens=max(1.0, rate))
    )


PAUSE_OWNERS = ("tenant", "operator")


def set_paused(
    conn: Connection, account_id: str, region: str | None, owner: str, paused: bool
) -> None:
    """Hold or lift `owner`'s pause ("tenant" or "operator") in `region`, or (None, the
    operator only) in every region, used or not yet; others' pauses stay."""
    if owner not in PAUSE_OWNERS or (region is None and owner != "operator"):
        raise ValueError(f"no {owner} pause for region {region}")
    column = f"paused_by_{owner}"
    if region is None:
        conn.execute(update(accounts).where(accounts.c.id == account_id).values({column: paused}))
    else:
        ensure_region(conn, account_id, region)
    conn.execute(
        update(account_regions).where(_regions(account_id, region)).values({column: paused})
    )
    refresh_sending_enabled(conn, account_id)


def refresh_sending_enabled(conn: Connection, account_id: str) -> None:
    """`sending_enabled` of each of the account's regions (what admission and
    GetAccountSendingEnabled read): on while no pause holds there, the tenant's, the
    operator's or reputation's (the account's SHUTDOWN)."""
    shutdown = (
        select(accounts.c.enforcement == "SHUTDOWN")
        .where(accounts.c.id == account_id)
        .scalar_subquery()
    )
    held = or_(account_regions.c.paused_by_tenant, account_regions.c.paused_by_operator, shutdown)
    conn.execute(
        update(account_regions)
        .where(account_regions.c.account_id == account_id)
        .values(sending_enabled=not_(held))
    )


def save_rate_state(
    conn: Connection, account_id: str, region: str, tokens: float, now: float
) -> None:
    params = {"account_id": account_id, "region": region, "tokens": tokens, "at": now}
    _SAVE_RATE.run(conn, params)


def put_details(conn: Connection, account_id: str, region: str, details: str) -> None:
    """The account's details in `region` (PutAccountDetails), a JSON document."""
    ensure_region(conn, account_id, region)
    conn.execute(
        update(account_regions).where(_regions(account_id, region)).values(details=details)
    )


def details_of(conn: Connection, account_id: str, region: str) -> str | None:
    query = select(account_regions.c.details).where(_regions(account_id, region))
    return conn.execute(query).scalar_one_or_none()
