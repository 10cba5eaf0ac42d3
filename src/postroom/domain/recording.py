"""`record_outcomes`: what a delivery attempt's outcomes mean, decided once for every way
mail leaves or comes back (the delivery worker today, the inbound MX's bounces later).

Events, statistics and reputation counts, suppression of hard bounces and complaints, the
mailbox simulator's auto-replies, the capture mailbox and the queue row change in the
caller's transaction (outbox), so a crash between delivery and recording at worst delivers
twice and never loses a message. The delivery worker hands attempts to
`OutcomeRecorder.record_outcomes` through the unit of work's `write_batched`.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from postroom.config import Settings
from postroom.domain import events as ev
from postroom.domain import retry
from postroom.domain.admission import Admission
from postroom.domain.callers import Caller
from postroom.domain.messages import Job
from postroom.domain.outcomes import Outcome
from postroom.domain.ports import (
    AttemptLog,
    ReplyRules,
    SuppressionRepository,
    Tx,
    WebhookRepository,
)
from postroom.domain.sending import SIMULATOR_DOMAIN, Submission, internal_mail
from postroom.domain.webhooks import Webhook, notifications_for
from postroom.wire import ids


@dataclass(frozen=True)
class Attempt:
    """One delivery attempt of a queued job, ready to be recorded."""

    job: Job
    record: ev.MailRecord
    envelope_from: str
    outcomes: list[Outcome]
    finished: float
    captured: bool
    remote_ip: str | None = None
    dkim_signature: bytes | None = None  # what a captured message was signed with


class OutcomeRecorder:
    """The outcome rules, over the ports they write through."""

    def __init__(
        self, settings: Settings, suppression: SuppressionRepository, admission: Admission,
        replies: ReplyRules, new_log: Callable[[], AttemptLog],
        webhooks: WebhookRepository | None = None,
    ) -> None:  # fmt: skip
        self.settings = settings
        self.reporting_mta = settings.helo_name
        self.suppression = suppression
        self.admission = admission
        self.replies = replies
        self.new_log = new_log
        self.webhooks = webhooks

    def record(self, conn: Tx, attempt: Attempt) -> None:
        """Events, statistics, mailbox and the queue row, in the caller's transaction."""
        self.record_outcomes(conn, [attempt])

    def record_outcomes(self, conn: Tx, attempts: Sequence[Attempt]) -> list[None]:
        """Record a group of attempts (a batch of the group commit): one statement per
        table for all of them."""
        writes = self.new_log()
        hooks = self._webhooks_of(conn, attempts)
        for attempt in attempts:
            self._plan(conn, attempt, writes, hooks)
        writes.apply(conn)
        return [None] * len(attempts)

    def _webhooks_of(self, conn: Tx, attempts: Sequence[Attempt]) -> list[Webhook]:
        """The webhooks of the batch's accounts (one read per batch): their events get
        outbox rows in this commit. Postroom's own mail publishes nothing."""
        wanted = {a.job.account_id for a in attempts if not a.record.internal}
        if self.webhooks is None or not wanted:
            return []
        return self.webhooks.for_accounts(conn, wanted)

    def _plan(self, conn: Tx, attempt: Attempt, writes: AttemptLog, hooks: list[Webhook]) -> None:
        job, record, now = attempt.job, attempt.record, attempt.finished
        outcomes = attempt.outcomes
        deferred = [o for o in outcomes if o.kind == "deferred"]
        next_at = now + retry.next_delay(job.attempts + 1, self.settings.retry_initial)
        giving_up = bool(deferred) and retry.gives_up(
            job.created_at, now, next_at, self.settings.retry_max_age
        )
        if giving_up:
            outcomes = [self.replies.expired(o) if o.kind == "deferred" else o for o in outcomes]
            deferred = []
        new_events = self._events(record, outcomes, now, attempt.remote_ip)
        writes.add_events(job.message_id, job.account_id, new_events)
        if hooks and not record.internal:
            writes.add_notifications(
                notifications_for(hooks, job.account_id, job.message_id, new_events, now)
            )
        if not record.internal:
            writes.count(job.account_id, record.region, now, self._counts(job, outcomes))
        delivered = [o.recipient for o in outcomes if o.kind in ("delivered", "complained")]
        for recipient in delivered:
            if job.domain == SIMULATOR_DOMAIN and wants_auto_reply(recipient):
                reply = auto_reply(record, attempt.envelope_from, recipient, now)
                if reply is not None:
                    self.admission.admit(conn, reply)
        if job.domain != SIMULATOR_DOMAIN:
            self._suppress(conn, job, record.suppressed_reasons, outcomes, now)
        if attempt.captured and delivered:
            writes.keep_in_mailbox(job, delivered, now, attempt.dkim_signature)
        last_reply = outcomes[-1].reply if outcomes else ""
        if deferred:
            writes.reschedule(job, next_at, last_reply, [o.recipient for o in deferred])
        else:
            writes.finish(job, last_reply)

    def _suppress(
        self, conn: Tx, job: Job, override: frozenset[str] | None, outcomes: list[Outcome],
        now: float,
    ) -> None:  # fmt: skip
        """Hard bounces (not policy blocks) and complaints join the account's list, for the
        reasons the account enabled (SES v2 PutAccountSuppressionAttributes: "the reasons
        that email addresses will be automatically added to the suppression list"). The
        reasons govern additions only: entries already listed stay, and mail to them keeps
        bouncing (OnAccountSuppressionList, the delivery worker's check) until removed.
        A configuration set's SuppressedReasons, when it has its own, replace the
        account's for the messages sent with it (`override`, kept on the message)."""
        wanted = [(o.recipient, r) for o in outcomes if (r := suppression_reason(o))]
        if not wanted:
            return
        enabled = override
        if enabled is None:
            enabled = self.suppression.reasons_of(conn, job.account_id)
        for recipient, reason in wanted:
            if reason in enabled:
                self.suppression.add(conn, job.account_id, recipient, reason, now, job.message_id)

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
                    delayed,
                    now,
                    self.replies.delay_type(deferred[0]),
                    expiration,
                    self.reporting_mta,
                )
            )
        return found

    def _counts(self, job: Job, outcomes: list[Outcome]) -> dict[str, int]:
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


def suppression_reason(outcome: Outcome) -> str | None:
    """BOUNCE for a hard bounce that marks a dead mailbox (not a policy block), COMPLAINT
    for a complaint, None otherwise."""
    if outcome.kind == "complained":
        return "COMPLAINT"
    return "BOUNCE" if outcome.kind == "bounced" and outcome.suppress else None


def wants_auto_reply(recipient: str) -> bool:
    """The mailbox simulator's ooto@ answers (ses-spec.md section 7)."""
    return recipient.rpartition("@")[0].split("+", 1)[0].lower() == "ooto"


def auto_reply(
    record: ev.MailRecord, envelope_from: str, recipient: str, now: float
) -> Submission | None:
    """ooto@'s out-of-office answer (RFC 3834), sent to the message's Return-Path with a
    null envelope sender, so that it can never loop."""
    if not envelope_from:
        return None
    return internal_mail(
        Caller(record.account_id, record.region),
        "SimulatorAutoReply",
        recipient,
        envelope_from,
        "Out of the Office",
        "I am out of the office and will reply when I return.\n"
        "(Postroom mailbox simulator auto-reply.)\n",
        now,
        envelope_from="",
        extra_headers=[("Auto-Submitted", "auto-replied")],
    )
