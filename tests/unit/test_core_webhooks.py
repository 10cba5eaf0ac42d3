"""Webhooks against the fakes: outbox rows only for the account's matching webhooks, at
admission and with delivery outcomes; the operator's use cases; the publisher's signing,
retries with backoff for 24 h and recorded attempts; the signature and URL rules."""

from __future__ import annotations

import hashlib
import hmac
import json
import random
from collections.abc import Mapping
from typing import Any

import pytest
from core_helpers import OPERATOR, fake_core, mail, tenant

from postroom.config import Settings
from postroom.delivery.outcomes import classify
from postroom.domain import webhooks as rules
from postroom.domain.callers import Caller
from postroom.domain.recording import Attempt
from postroom.domain.use_cases import sending
from postroom.domain.use_cases import webhooks as uc
from postroom.domain.webhooks import PostResult
from postroom.errors import AccessDenied, InvalidParameterValue, NotFound
from postroom.testing.fakes import FakeWorld


async def _hook(world: FakeWorld, account: str, events: str | None = None) -> uc.AddedWebhook:
    request = uc.AddWebhook(account, "https://hooks.example.net/in", events, "s3cret")
    return await uc.add_webhook(world.core, OPERATOR, request)


def _tenant(world: FakeWorld, name: str) -> Caller:
    caller = tenant(world, name, "example.com")
    world.core.repos.accounts.set_production(world.memory, caller.account_id, None, None, None)
    return caller


def _outbox(world: FakeWorld) -> list[tuple[str, str]]:
    """(webhook id, event type) of every outbox row, in order."""
    rows = sorted(world.memory.outbox.values(), key=lambda r: r["id"])
    return [(r["webhook_id"], r["note"].event.event_type) for r in rows]


async def test_send_without_webhooks_writes_no_outbox_rows() -> None:
    world = fake_core()
    caller = _tenant(world, "acme")
    await sending.send_email(world.core, caller, mail("app@example.com", "a@example.org"))
    assert world.memory.outbox == {}


async def test_send_events_go_only_to_the_accounts_matching_webhooks() -> None:
    world = fake_core()
    acme, other = _tenant(world, "acme"), _tenant(world, "other")
    every = await _hook(world, "acme")
    bounces = await _hook(world, "acme", "bounce")
    theirs = await _hook(world, "other", "send")
    await sending.send_email(world.core, acme, mail("app@example.com", "a@example.org"))
    assert _outbox(world) == [(every.webhook.id, "Send")]
    await sending.send_email(world.core, other, mail("app@example.com", "b@example.org"))
    assert _outbox(world)[1:] == [(theirs.webhook.id, "Send")]
    assert bounces.webhook.id not in {w for w, _ in _outbox(world)}


async def test_outcome_events_get_outbox_rows_in_the_recording_commit() -> None:
    world = fake_core()
    caller = _tenant(world, "acme")
    hook = await _hook(world, "acme", "delivery,bounce")
    await sending.send_email(
        world.core, caller, mail("app@example.com", "ok@example.org", "gone@example.org")
    )
    assert _outbox(world) == []  # Send is not wanted
    [job] = world.memory.jobs.values()
    loaded = world.core.repos.messages.load_record(world.memory, job.message_id)
    assert loaded is not None
    outcomes = [
        classify("ok@example.org", 250, "2.0.0", "ok"),
        classify("gone@example.org", 550, "5.1.1", "user unknown"),
    ]
    attempt = Attempt(job, loaded[0], loaded[1], outcomes, world.clock.now(), False)
    await world.uow.write_batched(world.core.record_outcomes, attempt)
    assert _outbox(world) == [(hook.webhook.id, "Delivery"), (hook.webhook.id, "Bounce")]


async def test_removing_the_last_webhook_stops_the_rows_and_drops_pending_ones() -> None:
    world = fake_core()
    caller = _tenant(world, "acme")
    hook = await _hook(world, "acme")
    await sending.send_email(world.core, caller, mail("app@example.com", "a@example.org"))
    assert len(world.memory.outbox) == 1
    await uc.remove_webhook(world.core, OPERATOR, hook.webhook.id)
    assert world.memory.outbox == {}
    await sending.send_email(world.core, caller, mail("app@example.com", "a@example.org"))
    assert world.memory.outbox == {}
    with pytest.raises(NotFound):
        await uc.remove_webhook(world.core, OPERATOR, hook.webhook.id)


async def test_webhook_use_cases_are_the_operators_and_the_secret_is_sealed() -> None:
    world = fake_core()
    caller = _tenant(world, "acme")
    with pytest.raises(AccessDenied):
        await uc.add_webhook(world.core, caller, uc.AddWebhook("acme", "https://x.example/"))
    added = await uc.add_webhook(world.core, OPERATOR, uc.AddWebhook("acme", "https://x.example/"))
    assert added.secret.startswith("whsec_") and len(added.secret) > 30
    assert added.webhook.secret_sealed == "sealed:" + added.secret
    listed = await uc.list_webhooks(world.core, OPERATOR, "acme")
    assert [(w.webhook.id, w.account) for w in listed] == [(added.webhook.id, "acme")]
    assert listed[0].webhook.event_types == frozenset(rules.EVENT_NAMES.values())


@pytest.mark.parametrize(
    "url",
    ["", "ftp://x.example/", "https:///path", "http://user:pw@x.example/", "http://x/#frag",
     "http://x.example/a b", "http://x.example:99999/", "https://x.example/" + "a" * 2100],
)  # fmt: skip
def test_bad_urls_are_refused(url: str) -> None:
    with pytest.raises(InvalidParameterValue):
        rules.check_url(url)


def test_event_type_names() -> None:
    assert rules.parse_event_types("send, DELIVERY_DELAY,renderingFailure") == {
        "Send", "DeliveryDelay", "Rendering Failure",
    }  # fmt: skip
    with pytest.raises(InvalidParameterValue):
        rules.parse_event_types("send,open")


def test_signature_is_hmac_sha256_of_timestamp_dot_body_and_verifies_in_the_window() -> None:
    body = b'{"eventType":"Send"}'
    header = rules.signature("k", 1_800_000_000, body)
    digest = hmac.new(b"k", b"1800000000." + body, hashlib.sha256).hexdigest()
    assert header == f"t=1800000000,v1={digest}"
    assert rules.verify("k", header, body, now=1_800_000_299)
    assert not rules.verify("k", header, body, now=1_800_000_301)  # replayed too late
    assert not rules.verify("other", header, body, now=1_800_000_000)
    assert not rules.verify("k", header, body + b" ", now=1_800_000_000)
    assert not rules.verify("k", "garbage", body, now=1_800_000_000)


def test_backoff_doubles_with_jitter_up_to_a_cap() -> None:
    rng = random.Random(7)
    for attempts, base in [(1, 30), (2, 60), (3, 120), (7, 1800), (30, 1800)]:
        delay = rules.next_delay(attempts, 30.0, rng)
        assert 0.8 * base <= delay <= 1.2 * base


def test_the_retry_schedule_lasts_24_hours_then_gives_up() -> None:
    rng = random.Random(1)
    note = rules.Due(1, "e", "wh", "http://x/", "s", "m", _send_event(), 0, 0.0)
    failed = PostResult(500, None, 0.01)
    now, tries = 0.0, 0
    while True:
        tries += 1
        settled = rules.settle(note, failed, now, 30.0, rng=rng)
        if settled.state != rules.PENDING:
            break
        now = settled.next_attempt_at
        note = rules.Due(1, "e", "wh", "http://x/", "s", "m", _send_event(), tries, 0.0)
    assert settled.state == rules.FAILED
    assert 24 * 3600 - 1.2 * 1800 <= now <= 24 * 3600
    assert 40 < tries < 70
    ok = rules.settle(note, PostResult(204, None, 0.01), 10.0, 30.0)
    assert ok.state == rules.DELIVERED


def _send_event() -> Any:
    from postroom.domain.events import SEND, Event

    return Event(SEND, ["a@example.org"], 0.0, {})


class FakePoster:
    """Answers each POST with the next status of `answers` (the last one repeats)."""

    def __init__(self, *answers: int | None) -> None:
        self.answers = list(answers)
        self.posted: list[tuple[str, bytes, dict[str, str]]] = []

    async def __call__(self, url: str, body: bytes, headers: Mapping[str, str]) -> PostResult:
        self.posted.append((url, body, dict(headers)))
        status = self.answers.pop(0) if len(self.answers) > 1 else self.answers[0]
        if status is None:
            return PostResult(None, "ConnectError: refused", 0.002)
        return PostResult(status, None, 0.002)


async def test_the_publisher_posts_signed_event_json_and_retries_with_backoff() -> None:
    world = fake_core(Settings(webhook_retry_initial=10.0))
    caller = _tenant(world, "acme")
    hook = await _hook(world, "acme", "send")
    await sending.send_email(world.core, caller, mail("app@example.com", "a@example.org"))
    poster = FakePoster(500, None, 200)
    assert await uc.publish_due(world.core, poster, "p1", rng=random.Random(3)) == 1
    assert await uc.publish_due(world.core, poster, "p1") == 0  # not due yet
    world.clock.advance(12.1)
    assert await uc.publish_due(world.core, poster, "p1") == 1  # refused: retried later
    world.clock.advance(24.1)
    assert await uc.publish_due(world.core, poster, "p1") == 1
    assert await uc.publish_due(world.core, poster, "p1") == 0
    url, body, headers = poster.posted[-1]
    assert url == "https://hooks.example.net/in"
    assert headers["Content-Type"] == "application/json"
    assert rules.verify("s3cret", headers["Postroom-Signature"], body, world.clock.now())
    event = json.loads(body)
    assert event["eventType"] == "Send" and event["send"] == {}
    assert event["mail"]["destination"] == ["a@example.org"]
    assert len({h["Postroom-Event-Id"] for _, _, h in poster.posted}) == 1
    [shown] = await uc.webhook_deliveries(world.core, OPERATOR, hook.webhook.id)
    assert shown["state"] == rules.DELIVERED
    assert [(a["status_code"], a["error"]) for a in shown["attempts_made"]] == [
        (500, None), (None, "ConnectError: refused"), (200, None),
    ]  # fmt: skip
