"""Retries in virtual time: deferrals back off, then the window closes with a Transient bounce."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from pathlib import Path

from postroom.clock import FakeClock, SystemClock
from postroom.config import Settings
from postroom.delivery.relay import RecipientResult, TransportResult
from postroom.delivery.worker import DeliveryWorker
from postroom.domain.sending import Caller, Submission, admit
from postroom.store import accounts as account_store
from postroom.store import messages as message_store
from postroom.store.database import Database
from postroom.wire.addresses import parse_address

T0 = 1_800_000_000.0


class GreylistingTransport:
    """A smarthost that answers 451 for everyone until told otherwise (a fake of our port)."""

    def __init__(self) -> None:
        self.reply = (451, "4.7.1", "Greylisted, try later")
        self.attempts = 0

    async def __call__(
        self, mail_from: str, recipients: Sequence[str], data: bytes
    ) -> TransportResult:
        self.attempts += 1
        code, enhanced, text = self.reply
        results = [RecipientResult(r, code, enhanced, text) for r in recipients]
        return TransportResult(results, "mx.example.org", "127.0.0.9")


def _queue_one(db: Database, when: float = T0) -> str:
    def job(conn: object) -> str:
        account = account_store.insert_account(conn, "retry", when)  # type: ignore[arg-type]
        submission = Submission(
            caller=Caller(account.id, "us-east-1"), operation="SendEmail",
            message_id="retry-1", senders=[], recipients=[parse_address("a@example.org")],
            envelope_from="app@example.com", source="app@example.com", subject="s",
            raw=b"Subject: s\r\n\r\nx\r\n", created_at=when, internal=True,
        )  # fmt: skip
        return admit(conn, submission)  # type: ignore[arg-type]

    return db.transact(job)  # type: ignore[arg-type]


async def _run_due(worker: DeliveryWorker) -> int:
    claimed = await worker._claim_batch()
    await worker.drain()
    return claimed


async def test_deferrals_back_off_then_expire_as_transient_bounce(tmp_path: Path) -> None:
    db = Database(f"sqlite:///{tmp_path / 'db.sqlite'}")
    db.create_schema()
    clock = FakeClock(T0)
    settings = Settings(data_dir=tmp_path, retry_initial=60.0, retry_max_age=3600.0)
    transport = GreylistingTransport()
    worker = DeliveryWorker(db, settings, clock, transport)
    message_id = _queue_one(db)

    assert await _run_due(worker) == 1
    assert await _run_due(worker) == 0  # not due again before the backoff
    delays: list[float] = []
    while True:
        [row] = db.query(lambda c: message_store.queue_rows(c, message_id))
        if row["state"] == "done":
            break
        delays.append(row["next_attempt_at"] - clock.now())
        clock.set(row["next_attempt_at"])
        assert await _run_due(worker) == 1

    events = db.query(lambda c: message_store.events_of(c, message_id))
    kinds = [e.event_type for e in events]
    assert kinds[0] == "Send" and kinds[-1] == "Bounce"
    assert set(kinds[1:-1]) == {"DeliveryDelay"} and len(kinds) - 2 == transport.attempts - 1
    assert 48 <= delays[0] <= 72  # first retry within minutes (60 s +-20 %)
    assert all(b > a for a, b in zip(delays, delays[1:], strict=False))  # spreading out
    bounce = events[-1].detail
    assert (bounce["bounceType"], bounce["bounceSubType"]) == ("Transient", "General")
    assert "451 4.7.1 Greylisted" in bounce["bouncedRecipients"][0]["diagnosticCode"]
    delay = events[1].detail
    assert delay["delayedRecipients"][0]["status"] == "4.7.1"
    assert clock.now() - T0 <= 3600 + 600
    db.close()


async def test_a_later_success_delivers(tmp_path: Path) -> None:
    db = Database(f"sqlite:///{tmp_path / 'db.sqlite'}")
    db.create_schema()
    clock = FakeClock(T0)
    transport = GreylistingTransport()
    worker = DeliveryWorker(db, Settings(data_dir=tmp_path), clock, transport)
    message_id = _queue_one(db)
    await _run_due(worker)
    transport.reply = (250, "2.0.0", "OK queued")
    clock.advance(3600)
    await _run_due(worker)
    kinds = [e.event_type for e in db.query(lambda c: message_store.events_of(c, message_id))]
    assert kinds == ["Send", "DeliveryDelay", "Delivery"]
    db.close()


class SlowTransport(GreylistingTransport):
    def __init__(self, seconds: float) -> None:
        super().__init__()
        self.reply = (250, "2.0.0", "OK")
        self.seconds = seconds

    async def __call__(
        self, mail_from: str, recipients: Sequence[str], data: bytes
    ) -> TransportResult:
        await asyncio.sleep(self.seconds)
        return await super().__call__(mail_from, recipients, data)


async def test_a_slow_delivery_keeps_its_lease(tmp_path: Path) -> None:
    """A live worker extends its lease: a second worker does not take the job meanwhile."""
    db = Database(f"sqlite:///{tmp_path / 'db.sqlite'}")
    db.create_schema()
    settings = Settings(data_dir=tmp_path, lease_seconds=0.3)
    clock = SystemClock()
    message_id = _queue_one(db, clock.now())
    slow, other = SlowTransport(1.2), SlowTransport(0)
    first = DeliveryWorker(db, settings, clock, slow)
    second = DeliveryWorker(db, settings, clock, other)
    assert await first._claim_batch() == 1
    for _ in range(5):  # well past the 0.3 s lease, while the first is still delivering
        await asyncio.sleep(0.2)
        assert await second._claim_batch() == 0
    await first.drain()
    kinds = [e.event_type for e in db.query(lambda c: message_store.events_of(c, message_id))]
    assert kinds == ["Send", "Delivery"] and other.attempts == 0
    db.close()
