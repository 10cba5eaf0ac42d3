"""The delivery worker: claim queued deliveries with a lease, deliver, record the outcome.

Outcomes, events, statistics and the queue row change in one transaction (outbox), so a
crash between delivery and recording at worst delivers twice, never loses a message.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections import defaultdict
from collections.abc import Awaitable, Callable, Sequence

from sqlalchemy.engine import Connection

from postroom.clock import Clock
from postroom.config import Settings
from postroom.delivery import retry
from postroom.delivery.outcomes import Outcome, classify, expired
from postroom.delivery.relay import RelayConfig, TransportResult, relay_message
from postroom.delivery.simulator import auto_reply, simulate, wants_auto_reply
from postroom.domain import events as ev
from postroom.domain.sending import SIMULATOR_DOMAIN
from postroom.store import messages as store
from postroom.store import usage
from postroom.store.database import Database
from postroom.wire import ids

log = logging.getLogger(__name__)
Transport = Callable[[str, Sequence[str], bytes], Awaitable[TransportResult]]


def relay_transport(settings: Settings) -> Transport:
    relay = settings.relay
    config = RelayConfig(
        host=relay.host,
        port=relay.port,
        starttls=relay.starttls,
        implicit_tls=relay.implicit_tls,
        username=relay.username,
        password=relay.password,
        tls_verify=relay.tls_verify,
        cafile=relay.cafile,
        helo_name=settings.helo_name,
    )

    async def send(mail_from: str, recipients: Sequence[str], data: bytes) -> TransportResult:
        return await relay_message(config, mail_from, recipients, data)

    return send


class DeliveryWorker:
    def __init__(
        self, db: Database, settings: Settings, clock: Clock, transport: Transport | None = None
    ) -> None:
        self.db = db
        self.settings = settings
        self.clock = clock
        self.transport = transport
        self.owner = f"worker-{uuid.uuid4().hex[:12]}"
        self.reporting_mta = settings.helo_name
        self._wake = asyncio.Event()
        self._slots = asyncio.Semaphore(settings.workers)
        self._tasks: set[asyncio.Task[None]] = set()

    def wake(self) -> None:
        self._wake.set()

    async def run(self) -> None:
        while True:
            try:
                claimed = await self._claim_batch()
            except Exception:
                log.exception("claiming deliveries failed")
                claimed = 0
            if not claimed:
                self._wake.clear()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), timeout=0.5)

    async def _claim_batch(self) -> int:
        free = self.settings.workers - len(self._tasks)
        if free <= 0:
            await asyncio.sleep(0.01)
            return 0
        now = self.clock.now()
        jobs = await self.db.write(
            lambda conn: store.claim(conn, self.owner, now, self.settings.lease_seconds, free)
        )
        for job in jobs:
            task = asyncio.create_task(self._deliver_guarded(job))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
        return len(jobs)

    async def drain(self) -> None:
        if self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)

    async def _deliver_guarded(self, job: store.Job) -> None:
        async with self._slots:
            try:
                await self.deliver(job)
            except Exception:
                # The lease expires and another attempt takes the job: nothing is lost.
                log.exception("delivery %s of %s failed unexpectedly", job.id, job.message_id)

    async def deliver(self, job: store.Job) -> None:
        loaded = await self.db.read(lambda conn: store.load_record(conn, job.message_id))
        if loaded is None:
            return
        record, envelope_from = loaded
        started = self.clock.now()
        captured = False
        remote_ip: str | None = None
        if job.domain == SIMULATOR_DOMAIN:
            outcomes = [simulate(r) for r in job.recipients]
        elif self.transport is None:
            outcomes = [classify(r, 250, "2.6.0", "Message received") for r in job.recipients]
            captured = True
        else:
            result = await self.transport(envelope_from, job.recipients, record.raw)
            remote_ip = result.remote_ip
            outcomes = [
                classify(r.recipient, r.code, r.enhanced, r.text) for r in result.recipients
            ]
        now = self.clock.now()
        await self.db.write(
            lambda conn: self.record(conn, job, record, outcomes, started, now, captured, remote_ip)
        )

    def record(
        self,
        conn: Connection,
        job: store.Job,
        record: ev.MailRecord,
        outcomes: list[Outcome],
        started: float,
        now: float,
        captured: bool,
        remote_ip: str | None,
    ) -> None:
        deferred = [o for o in outcomes if o.kind == "deferred"]
        next_at = now + retry.next_delay(job.attempts + 1, self.settings.retry_initial)
        giving_up = bool(deferred) and retry.gives_up(
            job.created_at, now, next_at, self.settings.retry_max_age
        )
        if giving_up:
            outcomes = [expired(o) if o.kind == "deferred" else o for o in outcomes]
            deferred = []
        new_events = self._events(record, outcomes, started, now, remote_ip, next_at)
        store.add_events(conn, job.message_id, job.account_id, new_events)
        if not record.internal:
            self._count(conn, job.account_id, outcomes, now)
        delivered = [o.recipient for o in outcomes if o.kind in ("delivered", "complained")]
        if job.domain == SIMULATOR_DOMAIN:
            self._auto_replies(conn, record, delivered, now)
        if captured and delivered:
            store.keep_in_mailbox(conn, job.message_id, job.account_id, delivered, now)
        last_reply = outcomes[-1].reply if outcomes else ""
        if deferred:
            store.reschedule(conn, job, next_at, last_reply, [o.recipient for o in deferred])
        else:
            store.finish(conn, job, last_reply)

    def _auto_replies(
        self, conn: Connection, record: ev.MailRecord, delivered: list[str], now: float
    ) -> None:
        """ooto@ answers the Return-Path, like the real simulator (RFC 3834)."""
        answering = [r for r in delivered if wants_auto_reply(r)]
        if not answering:
            return
        loaded = store.load_record(conn, record.message_id)
        envelope_from = loaded[1] if loaded else ""
        for recipient in answering:
            reply = auto_reply(record, envelope_from, recipient, now)
            if reply is not None:
                store.enqueue(conn, reply)

    def _events(
        self,
        record: ev.MailRecord,
        outcomes: list[Outcome],
        started: float,
        now: float,
        remote_ip: str | None,
        next_at: float,
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
                    delayed, now, _delay_type(deferred[0]), expiration, self.reporting_mta
                )
            )
        return found

    def _count(
        self, conn: Connection, account_id: str, outcomes: list[Outcome], now: float
    ) -> None:
        attempted = sum(1 for o in outcomes if o.kind != "deferred")
        if attempted:
            usage.count_stat(conn, account_id, now, "delivery_attempts", attempted)
        bounced = sum(1 for o in outcomes if o.kind == "bounced")
        if bounced:
            usage.count_stat(conn, account_id, now, "bounces", bounced)
        complained = sum(1 for o in outcomes if o.kind == "complained")
        if complained:
            usage.count_stat(conn, account_id, now, "complaints", complained)


def _delay_type(outcome: Outcome) -> str:
    if outcome.code == 421 and outcome.enhanced.startswith("4.4"):
        return "TransientCommunicationFailure"
    if outcome.enhanced == "4.2.2":
        return "MailboxFull"
    return "RecipientServerError"
