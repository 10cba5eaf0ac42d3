"""The webhooks' SQL on both engines: the account's flag, outbox rows written by
admission only for flagged accounts, claims with leases (no row twice), recorded attempts."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from postroom.domain import identities as rules
from postroom.domain import webhooks as hooks
from postroom.domain.sending import Caller, Submission
from postroom.domain.webhooks import PostResult, Webhook
from postroom.services import STORE_ADMISSION
from postroom.store import accounts as account_store
from postroom.store import identities as identity_store
from postroom.store import webhooks as webhook_store
from postroom.store.database import Database
from postroom.wire.addresses import parse_address

T0 = 1_800_000_000.0


@pytest.fixture
def db(engine_url: str) -> Iterator[Database]:
    database = Database(engine_url)
    database.create_schema()
    yield database
    database.close()


def _account(conn: Any, name: str) -> str:
    account = account_store.insert_account(conn, name, T0)
    found = identity_store.upsert_pending(
        conn, account.id, "us-east-1", "example.com", rules.DOMAIN, "t-" + name, T0
    )
    identity_store.set_status(conn, found, rules.SUCCESS, T0, verified=True)
    account_store.set_production(conn, account.id, None, 1000, 1000)
    return account.id


def _submission(account_id: str, n: int) -> Submission:
    return Submission(
        caller=Caller(account_id, "us-east-1"), operation="SendEmail", message_id=f"msg-{n}",
        senders=[parse_address("me@example.com")], recipients=[parse_address("a@example.org")],
        envelope_from="me@example.com", source="me@example.com", subject="s",
        raw=b"Subject: x\r\n\r\nbody\r\n", created_at=T0,
    )  # fmt: skip


def test_outbox_rows_claims_and_attempts(db: Database) -> None:
    acme, other = db.transact(lambda c: (_account(c, "acme"), _account(c, "other")))
    hook = Webhook("wh-1", acme, "http://127.0.0.1:1/", frozenset({"Send"}), "sealed", T0)
    db.transact(lambda c: webhook_store.add(c, hook))
    flags = db.transact(
        lambda c: [account_store.get_account(c, a, "us-east-1").has_webhooks for a in (acme, other)]
    )
    assert flags == [True, False]
    db.transact(
        lambda c: STORE_ADMISSION.admit_all(c, [_submission(acme, 1), _submission(other, 2)])
    )
    first = db.transact(lambda c: webhook_store.claim(c, "p1", T0 + 1, 60, 10))
    assert [(d.webhook_id, d.message_id, d.event.event_type) for d in first] == [
        ("wh-1", "msg-1", "Send")
    ]
    assert first[0].url == hook.url and first[0].secret_sealed == "sealed"
    assert db.transact(lambda c: webhook_store.claim(c, "p2", T0 + 2, 60, 10)) == []  # leased
    settled = hooks.settle(first[0], PostResult(500, None, 0.25), T0 + 2, 30.0)
    db.transact(lambda c: webhook_store.record_attempts(c, [settled]))
    assert not db.transact(lambda c: webhook_store.any_due(c, T0 + 3))
    again = db.transact(lambda c: webhook_store.claim(c, "p2", T0 + 100, 60, 10))
    assert [d.attempts for d in again] == [1]
    done = hooks.settle(again[0], PostResult(204, None, 0.01), T0 + 100, 30.0)
    db.transact(lambda c: webhook_store.record_attempts(c, [done]))
    [shown] = db.transact(lambda c: webhook_store.deliveries_of(c, "wh-1", 10))
    assert shown["state"] == "delivered"
    assert [(a["status_code"], a["duration_ms"]) for a in shown["attempts_made"]] == [
        (500, 250), (204, 10),
    ]  # fmt: skip
    assert db.transact(lambda c: webhook_store.remove(c, "wh-1")) == hook
    assert not db.transact(lambda c: account_store.get_account(c, acme, "us-east-1").has_webhooks)
    assert db.transact(lambda c: webhook_store.deliveries_of(c, "wh-1", 10)) == []
