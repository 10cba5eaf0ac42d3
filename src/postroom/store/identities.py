"""SQL for identities (per account and region)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlalchemy import delete, insert, select, update
from sqlalchemy.engine import Connection

from postroom.domain.identities import PENDING, SUCCESS, Identity
from postroom.store.fastsql import in_query
from postroom.store.schema import identities


def _identity(row: Any) -> Identity:
    return Identity(
        account_id=row.account_id,
        region=row.region,
        identity=row.identity,
        kind=row.kind,
        status=row.status,
        token=row.token,
        created_at=row.created_at,
        verified_at=row.verified_at,
        last_checked_at=row.last_checked_at,
        feedback_forwarding=bool(row.feedback_forwarding),
        configuration_set=row.configuration_set,
    )


def _where(account_id: str, region: str) -> list[Any]:
    return [identities.c.account_id == account_id, identities.c.region == region]


def get(conn: Connection, account_id: str, region: str, identity: str) -> Identity | None:
    row = conn.execute(
        select(identities).where(*_where(account_id, region), identities.c.identity == identity)
    ).first()
    return _identity(row) if row else None


def upsert_pending(
    conn: Connection, account_id: str, region: str, identity: str, kind: str, token: str, now: float
) -> Identity:
    """Start (or restart) verification; a verified identity keeps its status."""
    existing = get(conn, account_id, region, identity)
    if existing is None:
        conn.execute(
            insert(identities).values(
                account_id=account_id,
                region=region,
                identity=identity,
                kind=kind,
                status=PENDING,
                token=token,
                created_at=now,
            )
        )
    elif existing.status != SUCCESS:
        # Asking again restarts the window; a pending identity keeps its token, so a link
        # (or TXT record) already sent stays good.
        kept = existing.token if existing.status == PENDING else token
        conn.execute(
            update(identities)
            .where(*_where(account_id, region), identities.c.identity == identity)
            .values(status=PENDING, token=kept, created_at=now, last_checked_at=None)
        )
    found = get(conn, account_id, region, identity)
    assert found is not None
    return found


def list_for(
    conn: Connection, account_id: str, region: str, kind: str | None = None
) -> list[Identity]:
    query = select(identities).where(*_where(account_id, region))
    if kind:
        query = query.where(identities.c.kind == kind)
    return [_identity(r) for r in conn.execute(query.order_by(identities.c.id))]


def get_many(
    conn: Connection, account_id: str, region: str, names: Iterable[str]
) -> list[Identity]:
    wanted = list(names)
    if not wanted:
        return []
    query = select(identities).where(*_where(account_id, region), identities.c.identity.in_(wanted))
    return [_identity(r) for r in conn.execute(query)]


_VERIFIED_AMONG = (
    "SELECT identity FROM identities WHERE account_id = :account_id AND region = :region "
    f"AND status = '{SUCCESS}' AND identity IN {{in}}"
)


def verified_among(
    conn: Connection, account_id: str, region: str, names: Iterable[str]
) -> set[str]:
    wanted = list(set(names))
    if not wanted:
        return set()
    sql, params = in_query(_VERIFIED_AMONG, "n", wanted)
    params.update(account_id=account_id, region=region)
    return {row[0] for row in sql.rows(conn, params)}


_VERIFIED_WITH_SETS = (
    "SELECT identity, configuration_set FROM identities WHERE account_id = :account_id "
    f"AND region = :region AND status = '{SUCCESS}' AND identity IN {{in}}"
)


def verified_with_sets(
    conn: Connection, account_id: str, region: str, names: Iterable[str]
) -> dict[str, str | None]:
    """The verified identities among `names`, each with its default configuration set:
    the send path's one statement for both (issue 10)."""
    wanted = list(set(names))
    if not wanted:
        return {}
    sql, params = in_query(_VERIFIED_WITH_SETS, "n", wanted)
    params.update(account_id=account_id, region=region)
    return {row[0]: row[1] for row in sql.rows(conn, params)}


def remove(conn: Connection, account_id: str, region: str, identity: str) -> None:
    conn.execute(
        delete(identities).where(*_where(account_id, region), identities.c.identity == identity)
    )


def by_token(conn: Connection, token: str) -> Identity | None:
    row = conn.execute(select(identities).where(identities.c.token == token)).first()
    return _identity(row) if row else None


def set_status(
    conn: Connection, identity: Identity, status: str, now: float, *, verified: bool = False
) -> None:
    values: dict[str, Any] = {"status": status, "last_checked_at": now}
    if verified:
        values["verified_at"] = now
    conn.execute(
        update(identities)
        .where(
            *_where(identity.account_id, identity.region),
            identities.c.identity == identity.identity,
        )
        .values(**values)
    )


def pending_domains(conn: Connection) -> list[Identity]:
    query = select(identities).where(identities.c.kind == "Domain", identities.c.status == PENDING)
    return [_identity(r) for r in conn.execute(query)]


def set_feedback_forwarding(
    conn: Connection, account_id: str, region: str, identity: str, on: bool
) -> None:
    conn.execute(
        update(identities)
        .where(*_where(account_id, region), identities.c.identity == identity)
        .values(feedback_forwarding=on)
    )


def set_configuration_set(
    conn: Connection, account_id: str, region: str, identity: str, name: str | None
) -> None:
    conn.execute(
        update(identities)
        .where(*_where(account_id, region), identities.c.identity == identity)
        .values(configuration_set=name)
    )
