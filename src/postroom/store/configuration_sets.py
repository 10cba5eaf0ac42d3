"""SQL for configuration sets (issue 10): one table for SES v1 and v2, per account and
region. The rules are the domain's (`domain/configuration_sets.py`)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnElement, delete, func, select, update
from sqlalchemy.engine import Connection
from sqlalchemy.exc import IntegrityError

from postroom.domain.configuration_sets import ConfigurationSet
from postroom.store.schema import configuration_sets as table


def _where(account_id: str, region: str, name: str) -> list[ColumnElement[bool]]:
    return [table.c.account_id == account_id, table.c.region == region, table.c.name == name]


def _reasons(text: str | None) -> frozenset[str] | None:
    return None if text is None else frozenset(r for r in text.split(",") if r)


def _set(row: Any) -> ConfigurationSet:
    return ConfigurationSet(
        name=row.name,
        created_at=float(row.created_at),
        sending_enabled=bool(row.sending_enabled),
        tls_policy=row.tls_policy,
        sending_pool=row.sending_pool,
        max_delivery_seconds=row.max_delivery_seconds,
        reputation_metrics=bool(row.reputation_metrics),
        last_fresh_start=row.last_fresh_start,
        suppressed_reasons=_reasons(row.suppressed_reasons),
        tracking_domain=row.tracking_domain,
        https_policy=row.https_policy,
    )


def _values(found: ConfigurationSet) -> dict[str, Any]:
    reasons = found.suppressed_reasons
    return {
        "sending_enabled": found.sending_enabled,
        "tls_policy": found.tls_policy,
        "sending_pool": found.sending_pool,
        "max_delivery_seconds": found.max_delivery_seconds,
        "reputation_metrics": found.reputation_metrics,
        "last_fresh_start": found.last_fresh_start,
        "suppressed_reasons": None if reasons is None else ",".join(sorted(reasons)),
        "tracking_domain": found.tracking_domain,
        "https_policy": found.https_policy,
    }


def get(conn: Connection, account_id: str, region: str, name: str) -> ConfigurationSet | None:
    row = conn.execute(select(table).where(*_where(account_id, region, name))).first()
    return _set(row) if row is not None else None


def insert(conn: Connection, account_id: str, region: str, found: ConfigurationSet) -> bool:
    """Store a new set; False if the name is taken (also by a concurrent insert: the
    savepoint keeps the transaction usable on PostgreSQL)."""
    if get(conn, account_id, region, found.name) is not None:
        return False
    values = {"account_id": account_id, "region": region, "name": found.name,
              "created_at": found.created_at, **_values(found)}  # fmt: skip
    try:
        with conn.begin_nested():
            conn.execute(table.insert().values(**values))
    except IntegrityError:
        return False
    return True


def replace(conn: Connection, account_id: str, region: str, found: ConfigurationSet) -> bool:
    """Replace the options of an existing set; False if there is none."""
    result = conn.execute(
        update(table).where(*_where(account_id, region, found.name)).values(**_values(found))
    )
    return bool(result.rowcount)


def remove(conn: Connection, account_id: str, region: str, name: str) -> bool:
    return bool(conn.execute(delete(table).where(*_where(account_id, region, name))).rowcount)


def count(conn: Connection, account_id: str, region: str) -> int:
    query = select(func.count()).select_from(table).where(
        table.c.account_id == account_id, table.c.region == region
    )
    return int(conn.execute(query).scalar_one())


def list_after(
    conn: Connection, account_id: str, region: str, after: str | None, limit: int
) -> list[str]:
    """Names in order, starting after `after`, at most `limit`."""
    query = select(table.c.name).where(table.c.account_id == account_id, table.c.region == region)
    if after is not None:
        query = query.where(table.c.name > after)
    return [row.name for row in conn.execute(query.order_by(table.c.name).limit(limit))]
