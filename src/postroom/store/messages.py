"""SQL for messages, the delivery queue, events and the capture mailbox.

The queue holds one row per message and recipient domain. A worker claims due rows by
setting a lease; a worker that dies leaves a lease that expires, and another worker takes
the row (at-least-once, never lost). PostgreSQL claims with FOR UPDATE SKIP LOCKED.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Callable, Iterable
from typing import Any

from sqlalchemy import select
from sqlalchemy.engine import Connection

from postroom.domain.events import SEND, Event, MailRecord
from postroom.domain.messages import HistoryFilter as HistoryFilter  # the core's types
from postroom.domain.messages import Job as Job
from postroom.domain.messages import NewMessage as NewMessage
from postroom.domain.messages import first_event
from postroom.store.fastsql import Sql, in_query
from postroom.store.schema import deliveries, events, mailbox, messages

_INSERT_MESSAGE = Sql(
    "INSERT INTO messages (id, account_id, region, operation, source, envelope_from, "
    "destinations, subject, tags, raw, created_at, status, internal, configuration_set, "
    "require_tls, suppressed_reasons) VALUES (:id, :account_id, :region, :operation, "
    ":source, :envelope_from, :destinations, :subject, :tags, :raw, :created_at, :status, "
    ":internal, :configuration_set, :require_tls, :suppressed_reasons)"
)
_INSERT_DELIVERY = Sql(
    "INSERT INTO deliveries (message_id, account_id, domain, recipients, state, attempts, "
    "next_attempt_at, created_at) VALUES (:message_id, :account_id, :domain, :recipients, "
    ":state, :attempts, :next_attempt_at, :created_at)"
)
INSERT_EVENT = Sql(
    "INSERT INTO events (message_id, account_id, event_type, recipients, timestamp, detail) "
    "VALUES (:message_id, :account_id, :event_type, :recipients, :timestamp, :detail)"
)


def dumps(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def enqueue_all(conn: Connection, new: list[NewMessage]) -> None:
    """Store the messages, one queue row per message and recipient domain, and their Send
    events: one statement per table for all of them."""
    if not new:
        return
    _INSERT_MESSAGE.run_many(conn, [_message_row(m) for m in new])
    deliveries = [row for m in new for row in _delivery_rows(m)]
    if deliveries:
        _INSERT_DELIVERY.run_many(conn, deliveries)
    INSERT_EVENT.run_many(
        conn,
        [event_row(m.message_id, m.account_id, first_event(m)) for m in new],
    )  # each message is inserted with status Send (or its failure's type) already


def _message_row(message: NewMessage) -> dict[str, Any]:
    return {
        "id": message.message_id,
        "account_id": message.account_id,
        "region": message.region,
        "operation": message.operation,
        "source": message.source,
        "envelope_from": message.envelope_from,
        "destinations": dumps(message.recipients),
        "subject": message.subject,
        "tags": dumps(message.tags),
        "raw": message.raw,
        "created_at": message.created_at,
        "status": message.failure.event_type if message.failure else SEND,
        "internal": message.internal,
        "configuration_set": message.configuration_set,
        "require_tls": message.require_tls,
        "suppressed_reasons": None
        if message.suppressed_reasons is None
        else ",".join(sorted(message.suppressed_reasons)),
    }


def _delivery_rows(message: NewMessage) -> list[dict[str, Any]]:
    if message.failure is not None:
        return []  # never delivered
    by_domain: dict[str, list[str]] = defaultdict(list)
    for recipient in message.recipients:
        by_domain[recipient.rpartition("@")[2].lower()].append(recipient)
    return [
        {
            "message_id": message.message_id,
            "account_id": message.account_id,
            "domain": domain,
            "recipients": dumps(rcpts),
            "state": "queued",
            "attempts": 0,
            "next_attempt_at": message.created_at,
            "created_at": message.created_at,
        }
        for domain, rcpts in by_domain.items()
    ]


def event_row(message_id: str, account_id: str, event: Event) -> dict[str, Any]:
    return {
        "message_id": message_id,
        "account_id": account_id,
        "event_type": event.event_type,
        "recipients": dumps(event.recipients),
        "timestamp": event.timestamp,
        "detail": dumps(event.detail),
    }


_CANDIDATES = (
    "SELECT id, domain FROM deliveries WHERE state = 'queued' AND next_attempt_at <= :now "
    "AND (lease_until IS NULL OR lease_until < :now){skip} "
    "ORDER BY next_attempt_at LIMIT :limit{lock}"
)
_LEASE = (
    "UPDATE deliveries SET lease_owner = :owner, lease_until = :until WHERE id IN {in} "
    "RETURNING id, message_id, account_id, domain, recipients, attempts, created_at"
)
LOOK_AHEAD = 4  # candidates read per job wanted, when destinations have limited room


def claim(
    conn: Connection, owner: str, now: float, lease: float, limit: int,
    skip_domains: Iterable[str] = (), room: Callable[[str], int] | None = None,
) -> list[Job]:  # fmt: skip
    """Lease up to `limit` due jobs, oldest first, leaving out `skip_domains` and taking at
    most `room(domain)` jobs of each destination (the worker's free slots for it), so that
    nothing is leased only to be given back. Runs in the caller's write transaction
    (PostgreSQL: the candidates are row-locked, SKIP LOCKED, until it commits)."""
    lock = " FOR UPDATE SKIP LOCKED" if conn.dialect.name == "postgresql" else ""
    skipped = sorted(set(skip_domains))
    template = _CANDIDATES.replace("{lock}", lock)
    select_due, params = in_query(
        template.replace("{skip}", " AND domain NOT IN {in}" if skipped else ""), "d", skipped
    )
    params.update(now=now, limit=limit if room is None else limit * LOOK_AHEAD)
    chosen: list[int] = []
    taken: dict[str, int] = defaultdict(int)
    for job_id, domain in select_due.rows(conn, params):
        if room is not None and taken[domain] >= room(domain):
            continue
        taken[domain] += 1
        chosen.append(job_id)
        if len(chosen) == limit:
            break
    if not chosen:
        return []
    lease_rows, lease_params = in_query(_LEASE, "j", chosen)
    lease_params.update(owner=owner, until=now + lease)
    rows = lease_rows.rows(conn, lease_params)
    jobs = [Job(r[0], r[1], r[2], r[3], json.loads(r[4]), r[5], r[6]) for r in rows]
    jobs.sort(key=lambda job: job.id)
    return jobs


def _record(row: Any) -> MailRecord:
    return MailRecord(
        message_id=row.id,
        account_id=row.account_id,
        region=row.region,
        source=row.source,
        destinations=json.loads(row.destinations),
        raw=getattr(row, "raw", b""),
        created_at=row.created_at,
        tags=json.loads(row.tags),
        internal=bool(row.internal),
        configuration_set=row.configuration_set,
        require_tls=bool(row.require_tls),
        suppressed_reasons=_reasons(row.suppressed_reasons),
    )


def _reasons(text: str | None) -> frozenset[str] | None:
    return None if text is None else frozenset(r for r in text.split(",") if r)


def load_records(
    conn: Connection, message_ids: Iterable[str], *, raw: bool = True
) -> dict[str, tuple[MailRecord, str]]:
    """Stored messages and their envelope senders; `raw=False` leaves the bytes behind."""
    wanted = list(message_ids)
    if not wanted:
        return {}
    columns = [c for c in messages.c if raw or c.name != "raw"]
    rows = conn.execute(select(*columns).where(messages.c.id.in_(wanted)))
    return {row.id: (_record(row), row.envelope_from) for row in rows}


def load_record(conn: Connection, message_id: str) -> tuple[MailRecord, str] | None:
    """The stored message and its envelope sender."""
    return load_records(conn, [message_id]).get(message_id)


def events_of(conn: Connection, message_id: str) -> list[Event]:
    rows = conn.execute(
        select(events).where(events.c.message_id == message_id).order_by(events.c.id)
    )
    return [
        Event(r.event_type, json.loads(r.recipients), r.timestamp, json.loads(r.detail))
        for r in rows
    ]


def mailbox_rows(conn: Connection, account_id: str | None, limit: int) -> list[dict[str, Any]]:
    query = (
        select(
            mailbox,
            messages.c.source,
            messages.c.subject,
            messages.c.raw,
            messages.c.account_id.label("owner"),
        )
        .join(messages, messages.c.id == mailbox.c.message_id)
        .order_by(mailbox.c.delivered_at.desc(), mailbox.c.id.desc())
        .limit(limit)
    )
    if account_id is not None:
        query = query.where(mailbox.c.account_id == account_id)
    return [dict(row._mapping) for row in conn.execute(query)]


def history_rows(conn: Connection, wanted: HistoryFilter) -> list[dict[str, Any]]:
    query = (
        select(
            messages.c.id,
            messages.c.account_id,
            messages.c.source,
            messages.c.destinations,
            messages.c.subject,
            messages.c.created_at,
            messages.c.status,
            messages.c.operation,
        )
        .order_by(messages.c.created_at.desc())
        .limit(wanted.limit)
    )
    account_id, status, recipient = wanted.account_id, wanted.status, wanted.recipient
    since, until = wanted.since, wanted.until
    if not wanted.include_internal:
        query = query.where(messages.c.internal.is_(False))
    if account_id is not None:
        query = query.where(messages.c.account_id == account_id)
    if status:
        query = query.where(messages.c.status == status)
    if recipient:
        query = query.where(messages.c.destinations.contains(json.dumps(recipient)))
    if since is not None:
        query = query.where(messages.c.created_at >= since)
    if until is not None:
        query = query.where(messages.c.created_at <= until)
    return [dict(row._mapping) for row in conn.execute(query)]


def queue_counts(conn: Connection) -> dict[str, int]:
    rows = conn.execute(select(deliveries.c.state, deliveries.c.id))
    counts: dict[str, int] = defaultdict(int)
    for row in rows:
        counts[row.state] += 1
    return dict(counts)


def queue_rows(conn: Connection, message_id: str) -> list[dict[str, Any]]:
    """The message's queue rows (one per recipient domain), oldest first."""
    query = select(deliveries).where(deliveries.c.message_id == message_id)
    return [dict(row._mapping) for row in conn.execute(query.order_by(deliveries.c.id))]
