"""The delivery worker: claim queued deliveries with a lease, deliver, record the outcome.

Outcomes, events, statistics and the queue row change in one transaction (outbox), so a
crash between delivery and recording at worst delivers twice, never loses a message.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections import Counter, defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from functools import partial
from typing import Protocol

from sqlalchemy.engine import Connection

from postroom.clock import Clock
from postroom.config import Settings
from postroom.delivery.outcomes import (
    Outcome,
    account_suppressed,
    classify,
    undeliverable,
)
from postroom.delivery.relay import RelayConfig, TransportResult, relay_message
from postroom.delivery.session_pool import SessionPool
from postroom.delivery.simulator import simulate
from postroom.domain import events as ev
from postroom.domain.bounces import verp_address
from postroom.domain.dkim import DkimKey
from postroom.domain.dkim_signing import DkimSigner
from postroom.domain.identities import covering_identities
from postroom.domain.mail_from_rules import most_specific
from postroom.domain.messages import Job
from postroom.domain.recording import Attempt
from postroom.domain.sending import SIMULATOR_DOMAIN
from postroom.store import attempts as attempt_store
from postroom.store import mail_from as mail_from_store
from postroom.store import messages as store
from postroom.store import suppression
from postroom.store.database import Database

log = logging.getLogger(__name__)


class Transport(Protocol):
    """Relay or direct delivery of one message to recipients of one domain. `require_tls`
    (a configuration set's TlsPolicy REQUIRE, issue 10): never send it in clear; a peer
    without STARTTLS defers it, as a per-domain `require` policy does."""

    async def __call__(
        self, mail_from: str, recipients: Sequence[str], data: bytes, *, require_tls: bool = False
    ) -> TransportResult: ...


# The core's `record_outcomes` (domain/recording.py), run as a batch of the group commit.
RecordOutcomes = Callable[[Connection, list[Attempt]], Sequence[None]]
Blocked = set[tuple[str, str]]  # (account id, lower-cased address) on a suppression list
SigningKey = tuple[str, DkimKey]  # (signing domain, key)
Keys = dict[str, SigningKey]  # by MessageId
LOCAL_BATCH = 256  # capture and simulator deliveries claimed at once
CLAIM_INTERVAL = 0.01  # seconds between claims at least: what frees up meanwhile goes together


@dataclass(frozen=True)
class Prepared:
    """What a remote delivery needs from the database, read with its batch."""

    record: ev.MailRecord
    envelope_from: str
    suppressed: set[str]  # recipients (as queued) on the account's suppression list
    mail_from_domain: str | None
    signing: tuple[str, DkimKey] | None


def _key(job: Job, recipient: str) -> tuple[str, str]:
    return job.account_id, recipient.lower()


def _signature(raw: bytes, key: SigningKey | None) -> bytes | None:
    """The DKIM-Signature header field a captured message gets (None: not signed)."""
    if key is None:
        return None
    signed = DkimSigner.sign(raw, key)
    return signed[: len(signed) - len(raw)] or None


def _suppressed(conn: Connection, jobs: list[Job]) -> Blocked:
    """(account, address) pairs of these jobs' recipients on their accounts' lists."""
    found: Blocked = set()
    by_account: dict[str, list[str]] = defaultdict(list)
    for job in jobs:
        if job.domain != SIMULATOR_DOMAIN:
            by_account[job.account_id].extend(job.recipients)
    for account_id, addresses in by_account.items():
        found |= {(account_id, a) for a in suppression.among(conn, account_id, addresses)}
    return found


def _mail_from_domain(conn: Connection, record: ev.MailRecord) -> str | None:
    """The verified custom MAIL FROM domain of the sender's most specific identity."""
    local, _, domain = record.source.rpartition("@")
    candidates = covering_identities(local, domain)
    found = most_specific(
        mail_from_store.for_identities(conn, record.account_id, record.region, candidates),
        candidates,
    )
    return found.domain if found is not None and found.status == "Success" else None


def _captured(recipient: str) -> Outcome:
    return classify(recipient, 250, "2.6.0", "Message received")


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
        timeout=settings.smtp_timeout,
    )

    # The smarthost's connections, reused across messages: as many as deliveries at once.
    sessions = SessionPool(per_server=settings.workers)

    # A configuration set with TlsPolicy REQUIRE: STARTTLS or nothing (implicit TLS is TLS).
    required = config if config.implicit_tls else replace(config, starttls="require")

    async def send(
        mail_from: str, recipients: Sequence[str], data: bytes, *, require_tls: bool = False
    ) -> TransportResult:
        chosen = required if require_tls else config
        return await relay_message(chosen, mail_from, recipients, data, sessions)

    return send


class DeliveryWorker:
    def __init__(
        self,
        db: Database,
        settings: Settings,
        clock: Clock,
        record_outcomes: RecordOutcomes,
        transport: Transport | None = None,
        signer: DkimSigner | None = None,
    ) -> None:
        self.signer = signer
        self.record_outcomes = record_outcomes
        self.db = db
        self.settings = settings
        self.clock = clock
        self.transport = transport
        self.owner = f"worker-{uuid.uuid4().hex[:12]}"
        self.reporting_mta = settings.helo_name
        self._wake = asyncio.Event()
        self._tasks: set[asyncio.Task[None]] = set()
        self._talking: set[int] = set()  # jobs in an SMTP session now (not yet recording)
        self._in_flight: Counter[str] = Counter()  # of those, per recipient domain

    def wake(self) -> None:
        self._wake.set()

    async def run(self) -> None:
        loop = asyncio.get_running_loop()
        last_claim = -CLAIM_INTERVAL
        while True:
            # Under load every finished delivery and every accepted message wakes the
            # worker; one claim per wake would be a write transaction per message.
            pause = last_claim + CLAIM_INTERVAL - loop.time()
            if pause > 0:
                await asyncio.sleep(pause)
            last_claim = loop.time()
            self._wake.clear()  # before claiming: a wake during the claim is not lost
            try:
                claimed = await self._claim_batch()
            except Exception:
                log.exception("claiming deliveries failed")
                claimed = 0
            if not claimed:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), timeout=0.5)

    async def _claim_batch(self) -> int:
        # Local deliveries (capture, simulator) are cheap and done in batches; remote ones
        # (relay) run as tasks, at most `workers` in an SMTP session at a time.
        remote_free = self.settings.workers - len(self._talking)
        limit = LOCAL_BATCH if self.transport is None else remote_free
        if limit <= 0:
            return 0
        now = self.clock.now()
        cap = self.settings.per_domain_concurrency
        in_flight = dict(self._in_flight)  # a snapshot: the claim runs in the writer thread
        busy_domains = {domain for domain, n in in_flight.items() if n >= cap}

        def room(domain: str) -> int:  # free slots for a destination; local ones are cheap
            return limit if domain == SIMULATOR_DOMAIN else cap - in_flight.get(domain, 0)

        jobs = await self.db.write(
            lambda conn: store.claim(
                conn, self.owner, now, self.settings.lease_seconds, limit, busy_domains,
                room=None if self.transport is None else room,
            )
        )  # fmt: skip
        local = [j for j in jobs if self._is_local(j)]
        # The claim took no more of a destination than its free slots (`in_flight` only
        # falls meanwhile): one slow destination never takes every slot.
        remote = [j for j in jobs if not self._is_local(j)]
        for job in remote:
            self._talking.add(job.id)
            self._in_flight[job.domain] += 1
        if remote:  # one read for the whole batch, then one task per delivery
            prepared = await self.db.read_now(lambda conn: self._prepare(conn, remote))
            for job in remote:
                task = asyncio.create_task(self._deliver_guarded(job, prepared.get(job.id)))
                self._tasks.add(task)
                task.add_done_callback(partial(self._task_done, job=job))
        if local:
            await self._deliver_locally(local)
        return len(jobs)

    def _is_local(self, job: Job) -> bool:
        return self.transport is None or job.domain == SIMULATOR_DOMAIN

    def _task_done(self, task: asyncio.Task[None], job: Job) -> None:
        self._tasks.discard(task)
        self._hang_up(job)

    def _hang_up(self, job: Job) -> None:
        """The job's SMTP session is over: its slot, and its destination's, are free (the
        recording that follows needs neither)."""
        if job.id in self._talking:
            self._talking.discard(job.id)
            self._in_flight[job.domain] -= 1
            self.wake()

    async def drain(self) -> None:
        if self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)

    async def _deliver_locally(self, jobs: list[Job]) -> None:
        """One read for the batch, then each job recorded in its own savepoint of one group
        commit (a job that fails to record keeps its lease and is retried alone)."""
        wanted = {job.message_id for job in jobs}
        captured = [j.message_id for j in jobs if j.domain != SIMULATOR_DOMAIN]

        def read(conn: Connection) -> tuple[dict[str, tuple[ev.MailRecord, str]], Blocked, Keys]:
            records = store.load_records(conn, wanted, raw=False)
            keys = self._signing_keys(conn, [records[m][0] for m in captured if m in records])
            if keys:  # only messages to be signed need their bytes
                signed = store.load_records(conn, keys)
                records.update(signed)
            return records, _suppressed(conn, jobs), keys

        loaded, blocked, keys = await self.db.read(read)  # up to LOCAL_BATCH rows: off the loop
        now = self.clock.now()
        attempts = []
        for job in jobs:
            if job.message_id not in loaded:
                continue
            record, envelope_from = loaded[job.message_id]
            signature = None
            if job.domain == SIMULATOR_DOMAIN:
                outcomes, captured_here = [simulate(r) for r in job.recipients], False
            else:
                outcomes, captured_here = (
                    [
                        account_suppressed(r) if _key(job, r) in blocked else _captured(r)
                        for r in job.recipients
                    ],
                    True,
                )
                signature = _signature(record.raw, keys.get(job.message_id))
            attempts.append(
                Attempt(
                    job, record, envelope_from, outcomes, now, captured_here,
                    dkim_signature=signature,
                )
            )  # fmt: skip
        results = await asyncio.gather(
            *(self.db.write_batched(self.record_outcomes, a) for a in attempts),
            return_exceptions=True,
        )
        for attempt, result in zip(attempts, results, strict=True):
            if isinstance(result, BaseException):
                log.error("recording delivery %s failed: %r", attempt.job.id, result)

    async def _deliver_guarded(self, job: Job, prepared: Prepared | None) -> None:
        heartbeat = asyncio.create_task(self._keep_lease(job))
        try:
            if prepared is not None:
                await self.deliver(job, prepared)
        except Exception:
            # The lease expires and another attempt takes the job: nothing is lost.
            log.exception("delivery %s of %s failed unexpectedly", job.id, job.message_id)
        finally:
            heartbeat.cancel()

    async def _keep_lease(self, job: Job) -> None:
        """Extend the lease while a slow remote delivery is still going on."""
        lease = self.settings.lease_seconds
        while True:
            await asyncio.sleep(lease / 3)
            until = self.clock.now() + lease
            extend = partial(attempt_store.extend_lease, job=job, owner=self.owner, until=until)
            try:
                await self.db.write(extend)
            except Exception:
                log.exception("extending the lease of delivery %s failed", job.id)

    def _signing_keys(self, conn: Connection, records: list[ev.MailRecord]) -> Keys:
        """The DKIM key each message is signed with, by MessageId (looked up once per
        sender domain of the batch)."""
        if self.signer is None:
            return {}
        found: dict[tuple[str, str, str], SigningKey | None] = {}
        keys: Keys = {}
        for record in records:
            where = (record.account_id, record.region, record.source.rpartition("@")[2].lower())
            if where not in found:
                found[where] = self.signer.key_for(conn, *where[:2], record.source)
            key = found[where]
            if key is not None:
                keys[record.message_id] = key
        return keys

    def _prepare(self, conn: Connection, jobs: list[Job]) -> dict[int, Prepared]:
        """What each remote delivery needs, read in one transaction for the whole batch;
        per-sender settings (DKIM key, MAIL FROM domain) once per sender."""
        loaded = store.load_records(conn, {job.message_id for job in jobs})
        blocked = _suppressed(conn, jobs)
        keys = self._signing_keys(conn, [record for record, _ in loaded.values()])
        mail_from: dict[tuple[str, str, str], str | None] = {}
        found: dict[int, Prepared] = {}
        for job in jobs:
            if job.message_id not in loaded:
                continue
            record, envelope_from = loaded[job.message_id]
            sender = (record.account_id, record.region, record.source.lower())
            if sender not in mail_from:
                mail_from[sender] = _mail_from_domain(conn, record)
            found[job.id] = Prepared(
                record, envelope_from, {r for r in job.recipients if _key(job, r) in blocked},
                mail_from[sender], keys.get(job.message_id),
            )  # fmt: skip
        return found

    async def deliver(self, job: Job, prepared: Prepared) -> None:
        """A remote delivery: hand the message to the transport, record what it answered."""
        assert self.transport is not None
        record, envelope_from = prepared.record, prepared.envelope_from
        # Suppressed addresses bounce without a delivery attempt (SES: OnAccountSuppressionList),
        # and so do addresses the API would refuse now (rows queued before it did).
        outcomes = [account_suppressed(r) for r in job.recipients if r in prepared.suppressed]
        outcomes += [
            refused
            for r in job.recipients
            if r not in prepared.suppressed and (refused := undeliverable(r)) is not None
        ]
        settled = {outcome.recipient for outcome in outcomes}
        recipients = [r for r in job.recipients if r not in settled]
        remote_ip = None
        if recipients:
            data = record.raw
            if self.signer is not None:  # DKIM: signed as it leaves, with the current key
                data = self.signer.sign(data, prepared.signing)
            sender = self._mail_from(record, envelope_from, prepared.mail_from_domain)
            result = await self.transport(
                sender, recipients, data, require_tls=record.require_tls
            )
            remote_ip = result.remote_ip
            outcomes += [
                classify(r.recipient, r.code, r.enhanced, r.text) for r in result.recipients
            ]
        attempt = Attempt(job, record, envelope_from, outcomes, self.clock.now(), False, remote_ip)
        self._hang_up(job)
        await self.db.write_batched(self.record_outcomes, attempt)

    def _mail_from(self, record: ev.MailRecord, envelope_from: str, custom: str | None) -> str:
        """VERP: `<MessageId>@<custom MAIL FROM or bounce domain>`; a null sender (auto-
        replies) stays null."""
        if not envelope_from:
            return ""
        return verp_address(record.message_id, custom or self.settings.bounce_domain)
