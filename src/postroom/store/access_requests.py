"""SQL for production-access requests (`domain/production_access.py`)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import insert, select, update
from sqlalchemy.engine import Connection

from postroom.domain.production_access import PENDING, AccessRequest, AccountDetails
from postroom.store.schema import access_requests


def _request(row: Any) -> AccessRequest:
    return AccessRequest(
        row.case_id, row.account_id, row.region, row.status,
        AccountDetails.from_json(row.details), row.filed_at, row.decided_at, row.reason,
    )  # fmt: skip


def file(conn: Connection, request: AccessRequest) -> None:
    conn.execute(
        insert(access_requests).values(
            case_id=request.case_id,
            account_id=request.account_id,
            region=request.region,
            status=request.status,
            details=request.details.to_json(),
            filed_at=request.filed_at,
        )
    )


def latest(conn: Connection, account_id: str, region: str) -> AccessRequest | None:
    """The account's newest request in the region, whatever its status."""
    row = conn.execute(
        select(access_requests)
        .where(access_requests.c.account_id == account_id, access_requests.c.region == region)
        .order_by(access_requests.c.filed_at.desc(), access_requests.c.case_id.desc())
        .limit(1)
    ).first()
    return None if row is None else _request(row)


def pending(
    conn: Connection, account_id: str | None = None, region: str | None = None
) -> list[AccessRequest]:
    """Requests waiting for review, oldest first (of one account and region if given)."""
    query = select(access_requests).where(access_requests.c.status == PENDING)
    if account_id is not None:
        query = query.where(access_requests.c.account_id == account_id)
    if region is not None:
        query = query.where(access_requests.c.region == region)
    order = (access_requests.c.filed_at, access_requests.c.case_id)
    return [_request(row) for row in conn.execute(query.order_by(*order))]


def decide(
    conn: Connection, case_ids: list[str], status: str, reason: str | None, now: float
) -> None:
    if case_ids:
        conn.execute(
            update(access_requests)
            .where(access_requests.c.case_id.in_(case_ids))
            .values(status=status, reason=reason, decided_at=now)
        )
