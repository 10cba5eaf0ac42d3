"""Recording a delivery attempt: events, statistics, suppression, mailbox and the queue row,
all in the caller's transaction (outbox), so a crash between delivery and recording at worst
delivers twice and never loses a message."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy.engine import Connection

from postroom.config import Settings
from postroom.delivery import retry
from postroom.delivery.outcomes import Outcome, delay_type, expired
from postroom.delivery.simulator import auto_reply, wants_auto_reply
from postroom.domain import events as ev
from postroom.domain.admission import admit
from postroom.domain.sending import SIMULATOR_DOMAIN
from postroom.store import messages as store
from postroom.store import suppression
from postroom.store.attempts import AttemptWrites
from postroom.wire import ids


@dataclass(frozen=True)
class Attempt:
    """One delivery attempt of a queued job, ready to be recorded."""

    job: store.Job
    record: ev.MailRecord
    envelope_from: str
    outcomes: list[Outcome]
    finished: float
    captured: bool
    remote_ip: str | None = None
    dkim_signature: bytes | None = None  # what a captured message was signed with


class OutcomeRecorder:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.reporting_mta = settings.helo_name

    def record(self, conn: Connection, attempt: Attempt) -> None:
        """Events, statistics, mailbox and the queue row, in the caller's transaction."""
        self.record_all(conn, [attempt])

    def record_all(self, conn: Connection, attempts: Sequence[Attempt]) -> list[None]:
        """Record a group of attempts (a batch of the group commit): one statement per
        table for all of them."""
        writes = AttemptWrites()
        for attempt in attempts:
            self._plan(conn, attempt, writes)
        writes.apply(conn)
        return [None] * len(attempts)

    def _plan(self, conn: Connection, attempt: Attempt, writes: AttemptWrites) -> None:
        job, record, now = attempt.job, attempt.record, attempt.finished
        outcomes = attempt.outcomes
        deferred = [o for o in outcomes if o.kind == "deferred"]
        next_at = now + retry.next_delay(job.attempts + 1, self.settings.retry_initial)
        giving_up = bool(deferred) and retry.gives_up(
            job.created_at, now, next_at, self.settings.retry_max_age
        )
        if giving_up:
            outcomes = [expired(o) if o.kind == "deferred" else o for o in outcomes]
            deferred = []
        new_events = self._events(record, outcomes, now, attempt.remote_ip)
        writes.add_events(job.message_id, job.account_id, new_events)
        if not record.internal:
            writes.count(job.account_id, now, self._counts(job, outcomes))
        delivered = [o.recipient for o in outcomes if o.kind in ("delivered", "complained")]
        for recipient in delivered:
            if job.domain == SIMULATOR_DOMAIN and wants_auto_reply(recipient):
                reply = auto_reply(record, attempt.envelope_from, recipient, now)
                if reply is not None:
                    admit(conn, reply)
        if job.domain != SIMULATOR_DOMAIN:
            self._suppress(conn, job, outcomes, now)
        if attempt.captured and delivered:
            writes.keep_in_mailbox(job, delivered, now, attempt.dkim_signature)
        last_reply = outcomes[-1].reply if outcomes else ""
        if deferred:
            writes.reschedule(job, next_at, last_reply, [o.recipient for o in deferred])
        else:
            writes.finish(job, last_reply)

    def _suppress(
        self, conn: Connection, job: store.Job, outcomes: list[Outcome], now: float
    ) -> None:
        """Hard bounces (not policy blocks) and complaints join the account's list."""
        for o in outcomes:
            reason = "BOUNCE" if o.kind == "bounced" and o.suppress else None
            reason = "COMPLAINT" if o.kind == "complained" else reason
            if reason:
                suppression.add(conn, job.account_id, o.recipient, reason, now, job.message_id)

    def _events(
        self, record: ev.MailRecord, outcomes: list[Outcome], now: float, remote_ip: str | None
    ) -> list[ev.Event]:
        found: list[ev.Event] = []
        delivered = [o for o in outcomes if o.kind in ("delivered", "complained")]
        if delivered:
            found.append(
                ev.delivery(
                    [o.recipient for o in delivered],
                    now,
                    record.created_at,
                    delivered[0].reply,
                    self.reporting_mta,
                    remote_ip,
                )
            )
        bounces: dict[tuple[str, str], list[Outcome]] = defaultdict(list)
        for o in outcomes:
            if o.kind == "bounced":
                bounces[(o.bounce_type, o.bounce_sub_type)].append(o)
        for (kind, sub), group in bounces.items():
            bounced = [
                {
                    "emailAddress": o.recipient,
                    "action": "failed",
                    "status": o.status,
                    "diagnosticCode": o.diagnostic,
                }
                for o in group
            ]
            found.append(
                ev.bounce(
                    bounced,
                    now,
                    kind,
                    sub,
                    ids.message_id(record.region, now),
                    f"dsn; {self.reporting_mta}",
                    remote_ip,
                )
            )
        complained = [o.recipient for o in outcomes if o.kind == "complained"]
        if complained:
            found.append(
                ev.complaint(complained, now, ids.message_id(record.region, now), record.created_at)
            )
        deferred = [o for o in outcomes if o.kind == "deferred"]
        if deferred:
            delayed = [
                {
                    "emailAddress": o.recipient,
                    "status": o.status,
                    "diagnosticCode": f"smtp; {o.reply}",
                }
                for o in deferred
            ]
            expiration = record.created_at + self.settings.retry_max_age
            found.append(
                ev.delivery_delay(
                    delayed, now, delay_type(deferred[0]), expiration, self.reporting_mta
                )
            )
        return found

    def _counts(self, job: store.Job, outcomes: list[Outcome]) -> dict[str, int]:
        attempted = [o for o in outcomes if o.kind != "deferred"]
        counts = {
            "delivery_attempts": len(attempted),
            "bounces": sum(1 for o in outcomes if o.kind == "bounced"),
            "complaints": sum(1 for o in outcomes if o.kind == "complained"),
        }
        if job.domain != SIMULATOR_DOMAIN:  # the simulator never touches reputation (SES)
            sent = [o for o in attempted if o.bounce_sub_type != "OnAccountSuppressionList"]
            counts["rep_sends"] = len(sent)
            counts["rep_hard_bounces"] = sum(
                1 for o in sent if o.kind == "bounced" and o.bounce_type == "Permanent"
                and not o.policy
            )  # fmt: skip
            counts["rep_complaints"] = sum(1 for o in sent if o.kind == "complained")
        return counts
