"""Webhooks: an account's HTTP endpoints that receive its sending events as SES's event
publishing shapes them (`events.event_json`), signed with the webhook's secret.

The rules here are pure: which webhooks an event goes to, the URL an operator may give,
the event-type names, the signature (`Postroom-Signature: t=<unix seconds>,v1=<hex
HMAC-SHA256 of "<t>.<body>">`, as Stripe signs its webhooks) and the retry schedule
(exponential backoff with jitter for 24 hours). Each notification is an outbox row written
in the commit of the state change that caused it (admission, outcome recording); the
publisher (`use_cases/webhooks.publish_due`) posts them and records every attempt.
"""

from __future__ import annotations

import hashlib
import hmac
import random
import secrets
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from urllib.parse import urlsplit

from postroom.domain import events as ev
from postroom.errors import InvalidParameterValue

# CLI names of the event types (SES v2's enum without underscores, lower-cased) -> the
# `eventType` of the JSON (ses-spec.md 8.2).
EVENT_NAMES: dict[str, str] = {
    "send": ev.SEND,
    "reject": ev.REJECT,
    "bounce": ev.BOUNCE,
    "complaint": ev.COMPLAINT,
    "delivery": ev.DELIVERY,
    "deliverydelay": ev.DELIVERY_DELAY,
    "renderingfailure": ev.RENDERING_FAILURE,
}
NAME_OF = {value: name for name, value in EVENT_NAMES.items()}
URL_MAX_LENGTH = 2048
SECRET_PREFIX = "whsec_"
SIGNATURE_HEADER = "Postroom-Signature"
EVENT_ID_HEADER = "Postroom-Event-Id"
EVENT_TYPE_HEADER = "Postroom-Event-Type"
REPLAY_WINDOW = 300.0  # seconds a receiver should accept a signature's timestamp for
RETRY_MAX_AGE = 24 * 3600.0  # a notification is retried for 24 h, then given up
RETRY_MAX_DELAY = 1800.0  # at most half an hour between attempts
# Outbox states: pending (due at next_attempt_at), delivered, failed (given up).
PENDING, DELIVERED, FAILED = "pending", "delivered", "failed"


@dataclass(frozen=True)
class Webhook:
    id: str
    account_id: str
    url: str
    event_types: frozenset[str]  # SES eventType values
    secret_sealed: str
    created_at: float

    def wants(self, event_type: str) -> bool:
        return event_type in self.event_types


@dataclass(frozen=True)
class Notification:
    """An outbox row to write: one event for one webhook."""

    event_id: str
    webhook_id: str
    account_id: str
    message_id: str
    event: ev.Event
    created_at: float


@dataclass(frozen=True)
class Due:
    """A claimed outbox row, with what posting it needs."""

    id: int
    event_id: str
    webhook_id: str
    url: str
    secret_sealed: str
    message_id: str
    event: ev.Event
    attempts: int
    created_at: float


@dataclass(frozen=True)
class PostResult:
    """What one POST got: a status code, or the error that prevented one."""

    status: int | None
    error: str | None
    duration: float  # seconds

    @property
    def ok(self) -> bool:
        return self.status is not None and 200 <= self.status < 300


@dataclass(frozen=True)
class Settled:
    """One attempt of one outbox row, decided: recorded, and the row's new state."""

    due: Due
    attempted_at: float
    result: PostResult
    state: str
    next_attempt_at: float


def check_url(url: str) -> str:
    """An operator-given endpoint: http(s), a host, no credentials, no fragment, bounded."""
    if not url or len(url) > URL_MAX_LENGTH:
        raise InvalidParameterValue(f"A webhook URL has 1 to {URL_MAX_LENGTH} characters.")
    if any(c.isspace() or ord(c) < 0x20 or ord(c) == 0x7F for c in url):
        raise InvalidParameterValue("A webhook URL may not contain spaces or control characters.")
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018  (raises ValueError on a bad port)
    except ValueError as exc:
        raise InvalidParameterValue(f"Invalid webhook URL: {exc}.") from exc
    if parts.scheme not in ("http", "https"):
        raise InvalidParameterValue("A webhook URL must be http:// or https://.")
    if not parts.hostname:
        raise InvalidParameterValue("A webhook URL must name a host.")
    if parts.username is not None or parts.password is not None:
        raise InvalidParameterValue("A webhook URL may not carry credentials (user:password@).")
    if parts.fragment:
        raise InvalidParameterValue("A webhook URL may not have a fragment (#...).")
    return url


def parse_event_types(text: str | None) -> frozenset[str]:
    """`send,delivery,...` (or SES's DELIVERY_DELAY style; None or empty: every type)."""
    if text is None or not text.strip():
        return frozenset(EVENT_NAMES.values())
    chosen: set[str] = set()
    for item in text.split(","):
        key = item.strip().lower().replace("_", "").replace(" ", "").replace("-", "")
        if key not in EVENT_NAMES:
            known = ", ".join(EVENT_NAMES)
            raise InvalidParameterValue(f"Unknown event type {item.strip()!r}: use {known}.")
        chosen.add(EVENT_NAMES[key])
    return frozenset(chosen)


def event_names(types: Iterable[str]) -> list[str]:
    """The CLI names of `types`, in EVENT_NAMES order."""
    wanted = set(types)
    return [name for name, value in EVENT_NAMES.items() if value in wanted]


def new_secret() -> str:
    return SECRET_PREFIX + secrets.token_urlsafe(32)


def new_webhook_id() -> str:
    return "wh-" + uuid.uuid4().hex[:16]


def signature(secret: str, timestamp: int, body: bytes) -> str:
    """The `Postroom-Signature` header's value for `body` sent at `timestamp`."""
    signed = str(timestamp).encode() + b"." + body
    digest = hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={digest}"


def verify(
    secret: str, header: str, body: bytes, now: float, tolerance: float = REPLAY_WINDOW
) -> bool:
    """What a receiver checks: a v1 signature of `body` by `secret`, made within
    `tolerance` seconds of `now` (the replay window)."""
    fields: dict[str, list[str]] = {}
    for part in header.split(","):
        key, _, value = part.strip().partition("=")
        fields.setdefault(key, []).append(value)
    try:
        timestamp = int(fields["t"][0])
    except (KeyError, ValueError):
        return False
    if abs(now - timestamp) > tolerance:
        return False
    expected = signature(secret, timestamp, body).rpartition("v1=")[2]
    return any(hmac.compare_digest(expected, given) for given in fields.get("v1", []))


def next_delay(
    attempts: int, initial: float, rng: random.Random | None = None,
    max_delay: float = RETRY_MAX_DELAY,
) -> float:  # fmt: skip
    """Delay after the `attempts`-th failed attempt: initial * 2^(attempts-1), capped at
    `max_delay`, times a jitter of 0.8 to 1.2 (so receivers that come back are not hit by
    every publisher at once)."""
    base = min(max_delay, initial * (2 ** max(0, attempts - 1)))
    return base * (rng or random).uniform(0.8, 1.2)


def settle(
    due: Due, result: PostResult, now: float, initial: float, max_age: float = RETRY_MAX_AGE,
    rng: random.Random | None = None,
) -> Settled:  # fmt: skip
    """A 2xx delivers; anything else is retried with backoff until `max_age` after the
    notification was made, then given up."""
    if result.ok:
        return Settled(due, now, result, DELIVERED, now)
    next_at = now + next_delay(due.attempts + 1, initial, rng)
    if next_at - due.created_at > max_age:
        return Settled(due, now, result, FAILED, now)
    return Settled(due, now, result, PENDING, next_at)


def notifications_for(
    hooks: Sequence[Webhook], account_id: str, message_id: str, events: Iterable[ev.Event],
    now: float,
) -> list[Notification]:  # fmt: skip
    """One outbox row per event and webhook of the account that wants its type."""
    found: list[Notification] = []
    for event in events:
        for hook in hooks:
            if hook.account_id == account_id and hook.wants(event.event_type):
                found.append(
                    Notification(uuid.uuid4().hex, hook.id, account_id, message_id, event, now)
                )
    return found
