"""The in-memory state of the fakes and their unit of work (see `postroom.testing.fakes`)."""

from __future__ import annotations

import copy
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

from postroom.domain.accounts import Account
from postroom.domain.configuration_sets import ConfigurationSet
from postroom.domain.dkim import DkimKey
from postroom.domain.events import Event
from postroom.domain.identities import DkimDomain, Identity, MailFrom
from postroom.domain.messages import Job, NewMessage
from postroom.domain.ports import Tx
from postroom.domain.production_access import AccessRequest
from postroom.domain.templates import EmailTemplate
from postroom.domain.webhooks import Webhook

T = TypeVar("T")
I = TypeVar("I")  # noqa: E741
Where = tuple[str, str, str]  # (account id, region, identity or domain)


@dataclass
class Memory:
    """Everything the fake repositories hold: the transaction handle of the fakes."""

    accounts: dict[str, Account] = field(default_factory=dict)  # defaults for new regions
    regions: dict[tuple[str, str], Account] = field(default_factory=dict)  # (account, region)
    details: dict[tuple[str, str], str] = field(default_factory=dict)  # (account, region)
    access_requests: dict[str, AccessRequest] = field(default_factory=dict)  # by case id
    reputation_since: dict[str, float] = field(default_factory=dict)
    keys: dict[str, tuple[str, str]] = field(default_factory=dict)  # key -> (account, sealed)
    identities: dict[Where, Identity] = field(default_factory=dict)
    mail_from: dict[Where, MailFrom] = field(default_factory=dict)
    dkim_domains: dict[Where, DkimDomain] = field(default_factory=dict)
    dkim_keys: dict[Where, list[tuple[DkimKey, float | None]]] = field(default_factory=dict)
    usage: Counter[tuple[str, str, int]] = field(default_factory=Counter)  # account, region, min
    stats: dict[tuple[str, str, int], Counter[str]] = field(default_factory=dict)
    messages: dict[str, NewMessage] = field(default_factory=dict)
    statuses: dict[str, str] = field(default_factory=dict)
    templates: dict[Where, tuple[EmailTemplate, float]] = field(default_factory=dict)
    configuration_sets: dict[Where, ConfigurationSet] = field(default_factory=dict)
    events: list[tuple[str, str, Event]] = field(default_factory=list)  # (message, account, e)
    jobs: dict[int, Job] = field(default_factory=dict)  # queued
    done: dict[int, str] = field(default_factory=dict)  # job id -> last reply
    mailbox: list[dict[str, Any]] = field(default_factory=list)
    suppressed: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)
    suppressed_reasons: dict[str, frozenset[str]] = field(default_factory=dict)  # by account
    buckets: dict[str, tuple[float, float]] = field(default_factory=dict)  # tokens, at
    tags: dict[tuple[str, str], dict[str, str]] = field(default_factory=dict)  # (account, arn)
    webhooks: dict[str, Webhook] = field(default_factory=dict)  # by id
    outbox: dict[int, dict[str, Any]] = field(default_factory=dict)  # by row id
    webhook_attempts: list[dict[str, Any]] = field(default_factory=list)

    def events_of(self, message_id: str) -> list[Event]:
        return [e for m, _a, e in self.events if m == message_id]


class FakeUnitOfWork:
    """Runs each function against the memory; a function (or batch) that raises leaves
    the memory as it found it, as a rolled-back savepoint does."""

    def __init__(self, memory: Memory) -> None:
        self.memory = memory
        self.writes = 0

    async def read(self, job: Callable[[Tx], T]) -> T:
        return job(self.memory)

    async def write(self, job: Callable[[Tx], T]) -> T:
        self.writes += 1
        return self._atomically(lambda: job(self.memory))

    async def write_batched(
        self, batch: Callable[[Tx, list[I]], Sequence[T | BaseException]], item: I
    ) -> T:
        self.writes += 1
        result = self._atomically(lambda: batch(self.memory, [item])[0])
        if isinstance(result, BaseException):
            raise result
        return result

    def _atomically(self, run: Callable[[], T]) -> T:
        saved = copy.deepcopy(self.memory.__dict__)
        try:
            return run()
        except BaseException:
            self.memory.__dict__.update(saved)
            raise
