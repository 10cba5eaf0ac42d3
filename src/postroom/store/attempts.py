"""SQL for recording delivery attempts: events, message status, queue rows, mailbox and
statistics. `AttemptWrites` collects what a group of attempts changes and writes it with one
statement per table, in the caller's transaction."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.engine import Connection

from postroom.domain.events import Event
from postroom.domain.quotas import stats_bucket
from postroom.domain.webhooks import Notification
from postroom.store import usage, webhooks
from postroom.store.fastsql import Sql
from postroom.store.messages import INSERT_EVENT, Job, dumps, event_row

_SET_STATUS = Sql("UPDATE messages SET status = :status WHERE id = :message_id")
_FINISH = Sql(
    "UPDATE deliveries SET state = 'done', attempts = :attempts, lease_owner = NULL, "
    "lease_until = NULL, last_reply = :reply WHERE id = :id"
)
_RESCHEDULE = Sql(
    "UPDATE deliveries SET attempts = :attempts, next_attempt_at = :next_at, "
    "lease_owner = NULL, lease_until = NULL, last_reply = :reply, recipients = :recipients "
    "WHERE id = :id"
)
_KEEP = Sql(
    "INSERT INTO mailbox (message_id, account_id, recipients, delivered_at, dkim_signature) "
    "VALUES (:message_id, :account_id, :recipients, :delivered_at, :dkim_signature)"
)
_EXTEND = Sql(
    "UPDATE deliveries SET lease_until = :until WHERE id = :id AND lease_owner = :owner "
    "AND state = 'queued'"
)


def extend_lease(conn: Connection, job: Job, owner: str, until: float) -> None:
    """A worker still busy with a job keeps it (a dead one stops extending and loses it)."""
    _EXTEND.run(conn, {"id": job.id, "owner": owner, "until": until})


def finish(conn: Connection, job: Job, reply: str) -> None:
    _FINISH.run(conn, _finished_row(job, reply))


def _finished_row(job: Job, reply: str) -> dict[str, Any]:
    return {"id": job.id, "attempts": job.attempts + 1, "reply": reply}


@dataclass
class AttemptWrites:
    events: list[dict[str, Any]] = field(default_factory=list)
    statuses: dict[str, str] = field(default_factory=dict)  # MessageId -> latest event type
    finished: list[dict[str, Any]] = field(default_factory=list)
    rescheduled: list[dict[str, Any]] = field(default_factory=list)
    kept: list[dict[str, Any]] = field(default_factory=list)
    stats: dict[tuple[str, str, int], Counter[str]] = field(default_factory=dict)
    notifications: list[Notification] = field(default_factory=list)  # webhooks' outbox

    def add_events(self, message_id: str, account_id: str, new: list[Event]) -> None:
        """Append events; the message's status becomes the latest event's type."""
        self.events.extend(event_row(message_id, account_id, e) for e in new)
        if new:
            self.statuses[message_id] = new[-1].event_type

    def add_notifications(self, notes: list[Notification]) -> None:
        self.notifications.extend(notes)

    def finish(self, job: Job, reply: str) -> None:
        self.finished.append(_finished_row(job, reply))

    def reschedule(self, job: Job, when: float, reply: str, recipients: list[str]) -> None:
        self.rescheduled.append(
            {
                "id": job.id,
                "attempts": job.attempts + 1,
                "next_at": when,
                "reply": reply,
                "recipients": dumps(recipients),
            }
        )

    def keep_in_mailbox(
        self, job: Job, recipients: list[str], when: float, dkim_signature: bytes | None
    ) -> None:
        self.kept.append(
            {
                "message_id": job.message_id,
                "account_id": job.account_id,
                "recipients": dumps(recipients),
                "delivered_at": when,
                "dkim_signature": dkim_signature,
            }
        )

    def count(self, account_id: str, region: str, when: float, counts: dict[str, int]) -> None:
        """Add to the account's statistics bucket in the region (see `usage.count_stats`)."""
        key = (account_id, region, stats_bucket(when))
        self.stats.setdefault(key, Counter()).update(counts)

    def apply(self, conn: Connection) -> None:
        for statement, rows in (
            (INSERT_EVENT, self.events),
            (_FINISH, self.finished),
            (_RESCHEDULE, self.rescheduled),
            (_KEEP, self.kept),
        ):
            if rows:
                statement.run_many(conn, rows)
        if self.statuses:
            _SET_STATUS.run_many(
                conn, [{"message_id": m, "status": s} for m, s in self.statuses.items()]
            )
        webhooks.add_notifications(conn, self.notifications)
        for (account_id, region, bucket), counts in self.stats.items():
            usage.count_stats(conn, account_id, region, float(bucket), **counts)
