"""Storage behaviour on both engines: group commit, admission, queue leases, quotas, links."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from typing import Any

import pytest

from postroom.domain import identities as rules
from postroom.domain.sending import Caller, Submission
from postroom.domain.use_cases import identities as identity_use_cases
from postroom.errors import ClientError, MessageRejected, Throttling
from postroom.services import STORE, STORE_ADMISSION
from postroom.store import accounts as account_store
from postroom.store import attempts as attempt_store
from postroom.store import identities as identity_store
from postroom.store import messages as message_store
from postroom.store import usage as usage_store
from postroom.store.database import Database
from postroom.wire.addresses import parse_address

admit, admit_all = STORE_ADMISSION.admit, STORE_ADMISSION.admit_all
confirm_link = identity_use_cases.confirm_link

T0 = 1_800_000_000.0
REGION = "us-east-1"


@pytest.fixture
def db(engine_url: str) -> Iterator[Database]:
    database = Database(engine_url)
    database.create_schema()
    yield database
    database.close()


def _account(db: Database, name: str = "acme", verified: tuple[str, ...] = ()) -> str:
    def job(conn: object) -> str:
        account = account_store.insert_account(conn, name, T0)  # type: ignore[arg-type]
        for identity in verified:
            found = identity_store.upsert_pending(
                conn,
                account.id,
                "us-east-1",
                identity,
                rules.kind_of(identity),
                "t-" + identity,  # type: ignore[arg-type]
                T0,
            )
            identity_store.set_status(conn, found, rules.SUCCESS, T0, verified=True)  # type: ignore[arg-type]
        return account.id

    return db.transact(job)  # type: ignore[arg-type]


def _submission(
    account_id: str, n: int, recipients: list[str], when: float, source: str = "me@example.com"
) -> Submission:
    return Submission(
        caller=Caller(account_id, "us-east-1"),
        operation="SendEmail",
        message_id=f"msg-{n}",
        senders=[parse_address(source)],
        recipients=[parse_address(r) for r in recipients],
        envelope_from=source,
        source=source,
        subject=f"s{n}",
        raw=b"Subject: x\r\n\r\nbody\r\n",
        created_at=when,
    )


async def test_group_commit_isolates_failures(db: Database) -> None:
    account_id = _account(db, verified=("example.com",))
    db.transact(lambda conn: account_store.set_production(conn, account_id, None, 1000, 1000))
    good = [_submission(account_id, i, ["you@example.org"], T0) for i in range(40)]
    bad = _submission(account_id, 99, ["you@example.org"], T0, source="x@unverified.test")
    results = await asyncio.gather(
        *[db.write(lambda c, s=s: admit(c, s)) for s in good],  # type: ignore[misc]
        db.write(lambda c: admit(c, bad)),
        return_exceptions=True,
    )
    assert [r for r in results if isinstance(r, Exception)][0].__class__ is MessageRejected
    assert sorted(r for r in results if isinstance(r, str)) == sorted(s.message_id for s in good)
    counts = db.query(message_store.queue_counts)
    assert counts == {"queued": 40}
    assert db.query(lambda c: message_store.load_record(c, "msg-99")) is None


def test_sandbox_rejects_unverified_recipient_and_counts_nothing(db: Database) -> None:
    account_id = _account(db, verified=("me@example.com", "friend@example.org"))
    with pytest.raises(MessageRejected) as info:
        db.transact(lambda c: admit(c, _submission(account_id, 1, ["stranger@example.org"], T0)))
    assert "US-EAST-1: stranger@example.org" in info.value.message
    assert db.query(lambda c: usage_store.sent_last_24h(c, account_id, REGION, T0)) == 0
    db.transact(lambda c: admit(c, _submission(account_id, 2, ["friend@example.org"], T0)))
    assert db.query(lambda c: usage_store.sent_last_24h(c, account_id, REGION, T0 + 1)) == 1


def test_rate_allows_a_burst_then_throttles(db: Database) -> None:
    account_id = _account(db, verified=("me@example.com", "a@example.org", "b@example.org"))
    both = ["a@example.org", "b@example.org"]
    db.transact(lambda c: admit(c, _submission(account_id, 1, both, T0)))
    with pytest.raises(Throttling, match="Maximum sending rate exceeded."):
        db.transact(lambda c: admit(c, _submission(account_id, 2, both, T0 + 0.9)))
    db.transact(lambda c: admit(c, _submission(account_id, 3, both, T0 + 2.5)))


def test_daily_quota_counts_recipients_but_not_the_simulator(db: Database) -> None:
    account_id = _account(db, verified=("me@example.com",))
    db.transact(lambda conn: account_store.set_production(conn, account_id, None, 3, 100))
    sim = ["success@simulator.amazonses.com"] * 3
    db.transact(lambda c: admit(c, _submission(account_id, 1, sim, T0)))
    db.transact(lambda c: admit(c, _submission(account_id, 2, ["a@x.org", "b@x.org"], T0 + 1)))
    with pytest.raises(Throttling, match="Daily message quota exceeded."):
        db.transact(lambda c: admit(c, _submission(account_id, 3, ["c@x.org", "d@x.org"], T0 + 2)))
    # A day later the window has moved on.
    later = T0 + 24 * 3600 + 120
    db.transact(lambda c: admit(c, _submission(account_id, 4, ["c@x.org", "d@x.org"], later)))


def test_expired_lease_is_taken_by_another_worker(db: Database) -> None:
    account_id = _account(db, verified=("me@example.com",))
    db.transact(lambda conn: account_store.set_production(conn, account_id, None, 1000, 1000))
    db.transact(lambda c: admit(c, _submission(account_id, 1, ["a@one.test", "b@two.test"], T0)))
    first = db.transact(lambda c: message_store.claim(c, "w1", T0, 60, 10))
    assert sorted(j.domain for j in first) == ["one.test", "two.test"]
    assert db.transact(lambda c: message_store.claim(c, "w2", T0 + 30, 60, 10)) == []
    # w1 died without finishing: after the lease expires w2 takes both jobs.
    again = db.transact(lambda c: message_store.claim(c, "w2", T0 + 61, 60, 10))
    assert sorted(j.id for j in again) == sorted(j.id for j in first)
    db.transact(lambda c: attempt_store.finish(c, again[0], "250 ok"))
    rest = db.transact(lambda c: message_store.claim(c, "w3", T0 + 200, 60, 10))
    assert [j.id for j in rest] == [again[1].id]


def test_claims_take_only_what_each_destination_has_room_for(db: Database) -> None:
    account_id = _account(db, verified=("me@example.com",))
    db.transact(lambda conn: account_store.set_production(conn, account_id, None, 1000, 1000))
    for i in range(6):
        rcpts = [f"u{i}@busy.test"] if i < 5 else ["v@quiet.test"]
        db.transact(lambda c, i=i, r=rcpts: admit(c, _submission(account_id, i, r, T0 + i)))
    room = {"busy.test": 2, "quiet.test": 5}
    first = db.transact(
        lambda c: message_store.claim(c, "w1", T0 + 10, 60, 10, room=room.__getitem__)
    )
    assert sorted(j.domain for j in first) == ["busy.test", "busy.test", "quiet.test"]
    # The other three jobs of busy.test were not leased: another worker may take them now.
    other = db.transact(lambda c: message_store.claim(c, "w2", T0 + 10, 60, 10))
    assert [j.domain for j in other] == ["busy.test"] * 3


def test_verification_link_valid_for_24_hours(db: Database) -> None:
    account_id = _account(db)

    def start(conn: object, identity: str, token: str, when: float) -> None:
        identity_store.upsert_pending(
            conn,
            account_id,
            "us-east-1",
            identity,
            rules.EMAIL,  # type: ignore[arg-type]
            token,
            when,
        )

    db.transact(lambda c: start(c, "fresh@example.com", "tok-fresh", T0))
    db.transact(lambda c: start(c, "late@example.com", "tok-late", T0))
    ok = db.transact(lambda c: confirm_link(identity_store, c, "tok-fresh", T0 + 23 * 3600))
    assert ok is not None and ok.status == rules.SUCCESS
    late = db.transact(lambda c: confirm_link(identity_store, c, "tok-late", T0 + 25 * 3600))
    assert late is not None and late.status == rules.FAILED
    assert db.transact(lambda c: confirm_link(identity_store, c, "nope", T0)) is None


def test_tenants_do_not_share_identities(db: Database) -> None:
    a = _account(db, "a", verified=("example.com",))
    b = _account(db, "b")
    with pytest.raises(MessageRejected):
        db.transact(lambda c: admit(c, _submission(b, 1, ["success@simulator.amazonses.com"], T0)))
    assert db.query(lambda c: identity_store.list_for(c, b, "us-east-1")) == []
    assert [i.identity for i in db.query(lambda c: identity_store.list_for(c, a, "us-east-1"))] == [
        "example.com"
    ]


def test_migrations_match_the_schema(db: Database) -> None:
    """The Alembic revisions build exactly what schema.py declares (no drift)."""
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    from postroom.store.schema import metadata

    with db.write_engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), metadata)
    assert diff == []
    db.create_schema()  # running again is a no-op


async def test_a_job_that_fails_after_writing_leaves_nothing_and_the_rest_commit(
    db: Database,
) -> None:
    account_id = _account(db, verified=("example.com",))
    db.transact(lambda conn: account_store.set_production(conn, account_id, None, 1000, 1000))
    runs: list[int] = []

    def half_written(conn: Any) -> None:
        runs.append(1)
        admit(conn, _submission(account_id, 77, ["you@example.org"], T0))
        raise RuntimeError("after its writes")

    good = [_submission(account_id, i, ["you@example.org"], T0) for i in range(20)]
    for expected in (20, 40):  # twice: a failure leaves the writer as it was
        results = await asyncio.gather(
            *[db.write(lambda c, s=s: admit(c, s)) for s in good],  # type: ignore[misc]
            db.write(half_written),
            return_exceptions=True,
        )
        [failure] = [r for r in results if isinstance(r, BaseException)]
        assert isinstance(failure, RuntimeError)
        assert db.query(lambda c: message_store.load_record(c, "msg-77")) is None
        assert db.query(message_store.queue_counts) == {"queued": expected}
        good = [_submission(account_id, i, ["you@example.org"], T0) for i in range(20, 40)]
    assert len(runs) >= 2


async def test_a_batch_of_admissions_refuses_each_message_alone(db: Database) -> None:
    """One group commit, one batch: the quota runs out part-way and a message from an
    unverified sender is refused; each refusal writes nothing and the rest are charged."""
    account_id = _account(db, verified=("example.com",))
    db.transact(lambda conn: account_store.set_production(conn, account_id, None, 30, 1000))
    good = [_submission(account_id, i, ["you@example.org"], T0 + i / 1000) for i in range(40)]
    bad = _submission(account_id, 99, ["you@example.org"], T0, source="x@unverified.test")
    results = await asyncio.gather(
        *[db.write_batched(admit_all, s) for s in [bad, *good]], return_exceptions=True
    )
    assert isinstance(results[0], MessageRejected)
    assert results[1:31] == [s.message_id for s in good[:30]]
    assert all(isinstance(r, Throttling) and "Daily" in r.message for r in results[31:])
    assert db.query(message_store.queue_counts) == {"queued": 30}
    assert db.query(lambda c: usage_store.sent_last_24h(c, account_id, REGION, T0 + 1)) == 30
    assert db.query(lambda c: message_store.load_record(c, "msg-99")) is None


async def test_a_batch_that_raises_is_run_again_item_by_item(db: Database) -> None:
    account_id = _account(db, verified=("example.com",))
    db.transact(lambda conn: account_store.set_production(conn, account_id, None, 1000, 1000))
    calls: list[int] = []

    def fragile(conn: Any, items: list[Submission]) -> list[str | ClientError]:
        calls.append(len(items))
        results = admit_all(conn, items)
        if any(s.message_id == "msg-77" for s in items):
            raise RuntimeError("after its writes")
        return results

    subs = [_submission(account_id, i, ["you@example.org"], T0) for i in (*range(10), 77)]
    gate = threading.Event()  # holds the writer, so that every item joins the next group
    held = asyncio.ensure_future(db.write(lambda conn: gate.wait(5)))
    await asyncio.sleep(0.1)
    pending = [asyncio.ensure_future(db.write_batched(fragile, s)) for s in subs]
    await asyncio.sleep(0)
    gate.set()
    await held
    results = await asyncio.gather(*pending, return_exceptions=True)
    assert results[:10] == [s.message_id for s in subs[:10]]
    assert isinstance(results[10], RuntimeError)
    assert calls[0] == 11 and calls[1:] == [1] * 11  # once for all, then one by one
    assert db.query(message_store.queue_counts) == {"queued": 10}
    assert db.query(lambda c: message_store.load_record(c, "msg-77")) is None


def test_verification_rate_limits_hold_across_connections_in_virtual_time(
    engine_url: str, db: Database
) -> None:
    """Issue 8: the buckets live in the database, so another process (here another
    Database on the same URL) sees them; times come from the caller's clock."""
    account_id = _account(db)
    other = Database(engine_url)
    caller = Caller(account_id, "us-east-1")
    mailed: list[str] = []

    def start(database: Database, address: str, when: float) -> bool:
        def submission(token: str) -> Submission:
            mailed.append(token)
            link = f"http://postroom.test/verify/{token}"
            return identity_use_cases.verification_submission(
                caller, address, "no-reply@postroom.test", link, when
            )

        def verification(c: Any) -> bool:
            return identity_use_cases.start_email_verification(
                STORE, STORE_ADMISSION, c, caller, address, submission, when
            )

        return database.transact(verification)

    try:
        assert start(db, "v@example.com", T0) is True
        with pytest.raises(Throttling, match="^Rate exceeded$"):
            start(other, "w@example.com", T0 + 0.5)  # one request a second per account
        assert start(other, "v@example.com", T0 + 1.0) is False  # mailed 1 s ago: no mail
        assert start(db, "V@example.com", T0 + 2.0) is False  # the same mailbox
        assert start(db, "w@example.com", T0 + 3.0) is True  # another address
        assert start(other, "v@example.com", T0 + 301.0) is True  # 5 minutes later
        assert mailed[0] == mailed[-1]  # one pending link, mailed twice: still valid
        assert len(mailed) == 3
    finally:
        other.close()
