"""SQL for webhooks, their outbox of notifications and the attempts to post them.

Outbox rows are written in the caller's transaction (admission, outcome recording), one
statement for all of a batch. The publisher claims due rows by setting a lease, as the
delivery queue does (PostgreSQL: FOR UPDATE SKIP LOCKED, so nodes sharing the database
never take the same rows); a publisher that dies leaves a lease that expires.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import bindparam, delete, exists, insert, select, update
from sqlalchemy.engine import Connection

from postroom.domain.events import Event
from postroom.domain.webhooks import PENDING, Due, Notification, Settled, Webhook
from postroom.store.fastsql import Sql
from postroom.store.messages import dumps
from postroom.store.schema import accounts, webhook_attempts, webhook_outbox, webhooks

_INSERT_NOTIFICATION = Sql(
    "INSERT INTO webhook_outbox (event_id, webhook_id, account_id, message_id, event_type, "
    "recipients, timestamp, detail, state, attempts, next_attempt_at, created_at) VALUES "
    "(:event_id, :webhook_id, :account_id, :message_id, :event_type, :recipients, "
    ":timestamp, :detail, 'pending', 0, :created_at, :created_at)"
)


def _webhook(row: Any) -> Webhook:
    types = frozenset(t for t in row.event_types.split(",") if t)
    return Webhook(row.id, row.account_id, row.url, types, row.secret_sealed, row.created_at)


def add(conn: Connection, hook: Webhook) -> None:
    conn.execute(
        insert(webhooks).values(
            id=hook.id, account_id=hook.account_id, url=hook.url,
            event_types=",".join(sorted(hook.event_types)), secret_sealed=hook.secret_sealed,
            created_at=hook.created_at,
        )
    )  # fmt: skip
    conn.execute(update(accounts).where(accounts.c.id == hook.account_id).values(has_webhooks=True))


def remove(conn: Connection, webhook_id: str) -> Webhook | None:
    """Delete the webhook, its notifications and their attempts; the removed webhook."""
    found = get(conn, webhook_id)
    if found is None:
        return None
    conn.execute(delete(webhook_attempts).where(webhook_attempts.c.webhook_id == webhook_id))
    conn.execute(delete(webhook_outbox).where(webhook_outbox.c.webhook_id == webhook_id))
    conn.execute(delete(webhooks).where(webhooks.c.id == webhook_id))
    others = exists().where(webhooks.c.account_id == found.account_id)
    conn.execute(
        update(accounts).where(accounts.c.id == found.account_id).values(has_webhooks=others)
    )
    return found


def get(conn: Connection, webhook_id: str) -> Webhook | None:
    row = conn.execute(select(webhooks).where(webhooks.c.id == webhook_id)).first()
    return _webhook(row) if row is not None else None


def list_for(conn: Connection, account_id: str | None) -> list[Webhook]:
    query = select(webhooks).order_by(webhooks.c.created_at, webhooks.c.id)
    if account_id is not None:
        query = query.where(webhooks.c.account_id == account_id)
    return [_webhook(row) for row in conn.execute(query)]


def for_accounts(conn: Connection, account_ids: Iterable[str]) -> list[Webhook]:
    wanted = sorted(set(account_ids))
    if not wanted:
        return []
    query = select(webhooks).where(webhooks.c.account_id.in_(wanted)).order_by(webhooks.c.id)
    return [_webhook(row) for row in conn.execute(query)]


def add_notifications(conn: Connection, notes: Sequence[Notification]) -> None:
    if notes:
        _INSERT_NOTIFICATION.run_many(conn, [_notification_row(n) for n in notes])


def _notification_row(note: Notification) -> dict[str, Any]:
    event = note.event
    return {
        "event_id": note.event_id,
        "webhook_id": note.webhook_id,
        "account_id": note.account_id,
        "message_id": note.message_id,
        "event_type": event.event_type,
        "recipients": dumps(event.recipients),
        "timestamp": event.timestamp,
        "detail": dumps(event.detail),
        "created_at": note.created_at,
    }


def _due(now: float) -> Any:
    o = webhook_outbox.c
    return (o.state == PENDING) & (o.next_attempt_at <= now) & (
        o.lease_until.is_(None) | (o.lease_until < now)
    )


def any_due(conn: Connection, now: float) -> bool:
    """A cheap read first: the publisher claims (a write) only when something is due."""
    return conn.execute(select(webhook_outbox.c.id).where(_due(now)).limit(1)).first() is not None


def claim(conn: Connection, owner: str, now: float, lease: float, limit: int) -> list[Due]:
    """Lease up to `limit` due notifications, oldest first (in the caller's write
    transaction; PostgreSQL locks the candidates, SKIP LOCKED, until it commits)."""
    o = webhook_outbox.c
    candidates = select(o.id).where(_due(now)).order_by(o.next_attempt_at, o.id).limit(limit)
    if conn.dialect.name == "postgresql":
        candidates = candidates.with_for_update(skip_locked=True)
    chosen = [row.id for row in conn.execute(candidates)]
    if not chosen:
        return []
    leased = update(webhook_outbox).where(o.id.in_(chosen))
    conn.execute(leased.values(lease_owner=owner, lease_until=now + lease))
    rows = conn.execute(
        select(webhook_outbox, webhooks.c.url, webhooks.c.secret_sealed)
        .join(webhooks, webhooks.c.id == o.webhook_id)
        .where(o.id.in_(chosen))
        .order_by(o.id)
    )
    return [
        Due(
            r.id, r.event_id, r.webhook_id, r.url, r.secret_sealed, r.message_id,
            Event(r.event_type, json.loads(r.recipients), r.timestamp, json.loads(r.detail)),
            r.attempts, r.created_at,
        )
        for r in rows
    ]  # fmt: skip


def record_attempts(conn: Connection, settled: Sequence[Settled]) -> None:
    """Each attempt as a row, and each notification's new state, lease released."""
    if not settled:
        return
    conn.execute(
        insert(webhook_attempts),
        [
            {
                "outbox_id": s.due.id, "webhook_id": s.due.webhook_id,
                "attempted_at": s.attempted_at, "status_code": s.result.status,
                "error": s.result.error, "duration_ms": int(round(s.result.duration * 1000)),
            }
            for s in settled
        ],
    )  # fmt: skip
    o = webhook_outbox.c
    conn.execute(
        update(webhook_outbox)
        .where(o.id == bindparam("row_id"))
        .values(
            state=bindparam("new_state"), attempts=bindparam("new_attempts"),
            next_attempt_at=bindparam("next_at"), lease_owner=None, lease_until=None,
        ),  # fmt: skip
        [
            {"row_id": s.due.id, "new_state": s.state, "new_attempts": s.due.attempts + 1,
             "next_at": s.next_attempt_at}
            for s in settled
        ],  # fmt: skip
    )


def deliveries_of(conn: Connection, webhook_id: str, limit: int) -> list[dict[str, Any]]:
    """The webhook's notifications, newest first, each with its attempts, oldest first."""
    o = webhook_outbox.c
    notes = conn.execute(
        select(webhook_outbox).where(o.webhook_id == webhook_id).order_by(o.id.desc()).limit(limit)
    ).all()
    ids = [n.id for n in notes]
    tried: dict[int, list[dict[str, Any]]] = {i: [] for i in ids}
    if ids:
        a = webhook_attempts.c
        for row in conn.execute(
            select(webhook_attempts).where(a.outbox_id.in_(ids)).order_by(a.id)
        ):
            tried[row.outbox_id].append(dict(row._mapping))
    return [{**dict(n._mapping), "attempts_made": tried[n.id]} for n in notes]
