"""Messages as the core sees them: one accepted for the queue, one queued delivery (a job:
one message and recipient domain), and a filter over the sending history."""

from __future__ import annotations

from dataclasses import dataclass

from postroom.domain.events import SEND, Event


@dataclass(frozen=True)
class NewMessage:
    message_id: str
    account_id: str
    region: str
    operation: str
    source: str
    envelope_from: str
    recipients: list[str]
    subject: str
    raw: bytes
    tags: dict[str, list[str]]
    created_at: float
    internal: bool = False
    failure: Event | None = None  # ends the message at admission (Rendering Failure)
    # Issue 10: the configuration set it was sent with, and what delivery and outcome
    # recording need of it (as it was when the message was accepted).
    configuration_set: str | None = None
    require_tls: bool = False
    suppressed_reasons: frozenset[str] | None = None  # None: the account's


def first_event(message: NewMessage) -> Event:
    """Send, or the failure that ends the message at admission (a Rendering Failure)."""
    if message.failure is not None:
        return message.failure
    return Event(SEND, message.recipients, message.created_at, {})


@dataclass(frozen=True)
class Job:
    id: int
    message_id: str
    account_id: str
    domain: str
    recipients: list[str]
    attempts: int
    created_at: float


@dataclass(frozen=True)
class HistoryFilter:
    account_id: str | None = None
    status: str | None = None
    recipient: str | None = None
    since: float | None = None
    until: float | None = None
    include_internal: bool = False
    limit: int = 100
