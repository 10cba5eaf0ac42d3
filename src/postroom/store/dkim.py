"""SQL for DKIM: per domain identity, the signing switch, the status and the key pairs.

Private keys are sealed with the same SecretBox as access-key secrets. A key is found by
its account, region, domain and selector (a BYODKIM selector such as `s1` is the owner's
choice, alike across domains).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlalchemy import delete, insert, select, update
from sqlalchemy.engine import Connection

from postroom.domain.dkim import DkimKey
from postroom.domain.identities import DkimDomain
from postroom.domain.ports import Sealer
from postroom.store.schema import dkim_domains, dkim_keys


def _where(account_id: str, region: str, domain: str, table: Any) -> list[Any]:
    return [table.c.account_id == account_id, table.c.region == region, table.c.domain == domain]


def get_domain(conn: Connection, account_id: str, region: str, domain: str) -> DkimDomain | None:
    row = conn.execute(
        select(dkim_domains).where(*_where(account_id, region, domain, dkim_domains))
    ).first()
    return _domain(row) if row is not None else None


def _domain(row: Any) -> DkimDomain:
    return DkimDomain(
        row.account_id, row.region, row.domain, bool(row.enabled), row.status,
        row.last_checked_at, row.signing_origin,
    )  # fmt: skip


def add_domain(
    conn: Connection, account_id: str, region: str, domain: str, keys: Iterable[DkimKey],
    box: Sealer, now: float,
) -> None:  # fmt: skip
    _insert_domain(conn, account_id, region, domain, "AWS_SES", now)
    add_keys(conn, account_id, region, domain, keys, box)


def _insert_domain(
    conn: Connection, account_id: str, region: str, domain: str, origin: str, now: float
) -> None:
    """A domain's DKIM row: signing on, status Pending until its records are seen."""
    conn.execute(
        insert(dkim_domains).values(
            account_id=account_id,
            region=region,
            domain=domain,
            enabled=True,
            status="Pending",
            created_at=now,
            signing_origin=origin,
        )  # fmt: skip
    )


def add_keys(
    conn: Connection, account_id: str, region: str, domain: str, keys: Iterable[DkimKey],
    box: Sealer,
) -> None:  # fmt: skip
    conn.execute(
        insert(dkim_keys),
        [
            {
                "selector": key.selector,
                "account_id": account_id,
                "region": region,
                "domain": domain,
                "private_key_sealed": box.seal(key.private_key_pem.decode()),
                "public_key": key.public_key_b64,
                "created_at": key.created_at,
            }  # fmt: skip
            for key in keys
        ],
    )


def keys_of(
    conn: Connection, account_id: str, region: str, domain: str, box: Sealer | None = None
) -> list[tuple[DkimKey, float | None]]:
    """The domain's keys, oldest first, each with when DNS first showed it; private keys
    are opened only when a box is given (signing), else left empty."""
    rows = conn.execute(
        select(dkim_keys)
        .where(*_where(account_id, region, domain, dkim_keys))
        .order_by(dkim_keys.c.created_at, dkim_keys.c.selector)
    )
    return [
        (
            DkimKey(
                selector=row.selector,
                private_key_pem=box.open(row.private_key_sealed).encode() if box else b"",
                public_key_b64=row.public_key,
                created_at=row.created_at,
            ),
            row.seen_at,
        )
        for row in rows
    ]


def set_enabled(conn: Connection, account_id: str, region: str, domain: str, on: bool) -> None:
    conn.execute(
        update(dkim_domains)
        .where(*_where(account_id, region, domain, dkim_domains))
        .values(enabled=on)
    )


def record_check(
    conn: Connection, found: DkimDomain, status: str, seen: set[str], now: float
) -> None:
    """Store what the DNS check found: the status and the selectors seen for the first time."""
    conn.execute(
        update(dkim_domains)
        .where(*_where(found.account_id, found.region, found.domain, dkim_domains))
        .values(status=status, last_checked_at=now)
    )
    if seen:
        where = (found.account_id, found.region, found.domain)
        conn.execute(
            update(dkim_keys)
            .where(
                *_where(*where, dkim_keys),
                dkim_keys.c.selector.in_(sorted(seen)),
                dkim_keys.c.seen_at.is_(None),
            )
            .values(seen_at=now)
        )


def pending_domains(conn: Connection) -> list[DkimDomain]:
    rows = conn.execute(select(dkim_domains).where(dkim_domains.c.status != "Success"))
    return [_domain(r) for r in rows]


def replace_keys(
    conn: Connection, account_id: str, region: str, domain: str, keys: Iterable[DkimKey],
    box: Sealer, origin: str, now: float,
) -> None:  # fmt: skip
    """New keys of `origin` (AWS_SES: Easy DKIM tokens; EXTERNAL: the owner's key) in place
    of the old ones; the status starts again at Pending, the signing switch is kept."""
    where = (account_id, region, domain)
    if get_domain(conn, *where) is None:
        _insert_domain(conn, *where, origin, now)
    else:
        conn.execute(
            update(dkim_domains)
            .where(*_where(*where, dkim_domains))
            .values(status="Pending", last_checked_at=None, signing_origin=origin)
        )
    conn.execute(delete(dkim_keys).where(*_where(*where, dkim_keys)))
    add_keys(conn, *where, keys, box)
