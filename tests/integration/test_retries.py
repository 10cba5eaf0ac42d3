"""The delivery worker against a real SMTP sink, in virtual time where time is the point:
deferrals back off and then bounce as Transient; a slow delivery keeps its lease."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence

import pytest

from postroom.clock import Clock, FakeClock, SystemClock
from postroom.config import RelaySettings, Settings
from postroom.delivery.worker import DeliveryWorker, relay_transport
from postroom.domain.sending import Caller, Submission
from postroom.services import STORE_ADMISSION, build_worker
from postroom.store import accounts as account_store
from postroom.store import messages as message_store
from postroom.store.database import Database
from postroom.testing.sink import SinkBehaviour, SinkServer
from postroom.wire.addresses import parse_address

T0 = 1_800_000_000.0
GREYLISTED = "451 4.7.1 Greylisted, try later"


@pytest.fixture
def db(sqlite_db: Database) -> Database:
    return sqlite_db


@pytest.fixture
async def smarthost() -> AsyncIterator[SinkServer]:
    server = SinkServer(behaviour=SinkBehaviour(rcpt_replies={"@example.org": GREYLISTED}))
    await server.start()
    yield server
    await server.stop()


def _worker(db: Database, sink: SinkServer, clock: Clock, **settings: float) -> DeliveryWorker:
    relay = RelaySettings(host="127.0.0.1", port=sink.port, starttls="off")
    config = Settings(relay=relay, delivery="relay", **settings)  # type: ignore[arg-type]
    return build_worker(db, config, clock, relay_transport(config))


def _queue_one(
    db: Database, when: float = T0, recipients: Sequence[str] = ("a@example.org",)
) -> str:
    def job(conn: object) -> str:
        account = account_store.insert_account(conn, "retry", when)  # type: ignore[arg-type]
        submission = Submission(
            caller=Caller(account.id, "us-east-1"), operation="SendEmail",
            message_id="retry-1", senders=[], recipients=[parse_address(r) for r in recipients],
            envelope_from="app@example.com", source="app@example.com", subject="s",
            raw=b"Subject: s\r\n\r\nx\r\n", created_at=when, internal=True,
        )  # fmt: skip
        return STORE_ADMISSION.admit(conn, submission)  # type: ignore[arg-type]

    return db.transact(job)  # type: ignore[arg-type]


async def _run_due(worker: DeliveryWorker) -> int:
    claimed = await worker._claim_batch()
    await worker.drain()
    return claimed


async def test_deferrals_back_off_then_expire_as_transient_bounce(
    db: Database, smarthost: SinkServer
) -> None:
    clock = FakeClock(T0)
    worker = _worker(db, smarthost, clock, retry_initial=60.0, retry_max_age=3600.0)
    message_id = _queue_one(db)

    assert await _run_due(worker) == 1
    assert await _run_due(worker) == 0  # not due again before the backoff
    delays: list[float] = []
    attempts = 1
    while True:
        [row] = db.query(lambda c: message_store.queue_rows(c, message_id))
        if row["state"] == "done":
            break
        delays.append(row["next_attempt_at"] - clock.now())
        clock.set(row["next_attempt_at"])
        assert await _run_due(worker) == 1
        attempts += 1

    events = db.query(lambda c: message_store.events_of(c, message_id))
    kinds = [e.event_type for e in events]
    assert kinds[0] == "Send" and kinds[-1] == "Bounce"
    assert set(kinds[1:-1]) == {"DeliveryDelay"} and len(kinds) - 2 == attempts - 1
    assert 48 <= delays[0] <= 72  # first retry within minutes (60 s +-20 %)
    assert all(b > a for a, b in zip(delays, delays[1:], strict=False))  # spreading out
    bounce = events[-1].detail
    assert (bounce["bounceType"], bounce["bounceSubType"]) == ("Transient", "General")
    assert GREYLISTED in bounce["bouncedRecipients"][0]["diagnosticCode"]
    assert events[1].detail["delayedRecipients"][0]["status"] == "4.7.1"
    assert clock.now() - T0 <= 3600 + 600
    assert smarthost.messages == []  # every attempt was refused at RCPT


async def test_a_later_success_delivers(db: Database, smarthost: SinkServer) -> None:
    clock = FakeClock(T0)
    worker = _worker(db, smarthost, clock)
    message_id = _queue_one(db)
    await _run_due(worker)
    smarthost.behaviour = SinkBehaviour()  # the greylist lets us through now
    clock.advance(3600)
    await _run_due(worker)
    kinds = [e.event_type for e in db.query(lambda c: message_store.events_of(c, message_id))]
    assert kinds == ["Send", "DeliveryDelay", "Delivery"]
    [received] = smarthost.messages
    assert received.rcpt_tos == ["a@example.org"]


async def test_a_slow_delivery_keeps_its_lease(db: Database, smarthost: SinkServer) -> None:
    """A live worker extends its lease: a second worker does not take the job meanwhile."""
    smarthost.behaviour = SinkBehaviour(data_delay=1.2)
    clock = SystemClock()
    message_id = _queue_one(db, clock.now())
    first = _worker(db, smarthost, clock, lease_seconds=0.3)
    second = _worker(db, smarthost, clock, lease_seconds=0.3)
    assert await first._claim_batch() == 1
    for _ in range(5):  # well past the 0.3 s lease, while the first is still delivering
        await asyncio.sleep(0.2)
        assert await second._claim_batch() == 0
    await first.drain()
    kinds = [e.event_type for e in db.query(lambda c: message_store.events_of(c, message_id))]
    assert kinds == ["Send", "Delivery"]
    assert len(smarthost.messages) == 1  # delivered once


async def test_attempts_recorded_together_keep_each_outcome(db: Database) -> None:
    """Three destinations of one message finish in the same group commit (one batch of
    OutcomeRecorder.record_all): each queue row and event is its own."""
    replies = {"@example.org": GREYLISTED, "@example.net": "550 5.1.1 No such user"}
    sink = SinkServer(behaviour=SinkBehaviour(rcpt_replies=replies))
    await sink.start()
    try:
        worker = _worker(db, sink, FakeClock(T0))
        to = ["a@example.org", "b@example.net", "c@example.com"]
        message_id = _queue_one(db, recipients=to)
        assert await _run_due(worker) == 3
    finally:
        await sink.stop()
    rows = {r["domain"]: r for r in db.query(lambda c: message_store.queue_rows(c, message_id))}
    assert {d: (r["state"], r["attempts"]) for d, r in rows.items()} == {
        "example.org": ("queued", 1), "example.net": ("done", 1), "example.com": ("done", 1),
    }  # fmt: skip
    assert rows["example.org"]["next_attempt_at"] > T0
    events = db.query(lambda c: message_store.events_of(c, message_id))
    by_kind = {e.event_type: e for e in events}
    assert sorted(by_kind) == ["Bounce", "Delivery", "DeliveryDelay", "Send"] and len(events) == 4
    assert by_kind["Delivery"].recipients == ["c@example.com"]
    assert by_kind["Bounce"].detail["bouncedRecipients"][0]["emailAddress"] == "b@example.net"
    assert by_kind["DeliveryDelay"].recipients == ["a@example.org"]
    assert [m.rcpt_tos for m in sink.messages] == [["c@example.com"]]
