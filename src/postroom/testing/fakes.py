"""In-memory fakes of the core's ports (`domain/ports.py`), for unit tests of its rules
without a database: repositories over one `Memory` (`fake_repositories.py`), a unit of
work that runs functions against it and rolls back what a failing function changed
(`fake_state.py`), an attempt log, DNS answered from dicts, a sealer, and `fake_core()`,
which wires them into a `Core` as `services.py` wires the real ones.

They follow the store's semantics closely enough for the rules (sandbox, quotas,
suppression, outcomes, pauses, rate limits); the SQL itself is tested by the integration
tests on both engines.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from postroom.clock import FakeClock
from postroom.config import Settings
from postroom.delivery import outcomes as reply_rules
from postroom.domain.core import Core, Repositories
from postroom.domain.events import Event
from postroom.domain.messages import Job
from postroom.domain.ports import DnsLookupError
from postroom.domain.quotas import stats_bucket
from postroom.domain.webhooks import Notification
from postroom.testing.fake_accounts import FakeAccessRequests, FakeAccounts
from postroom.testing.fake_configuration_sets import FakeConfigurationSets
from postroom.testing.fake_repositories import (
    FakeDkim,
    FakeIdentities,
    FakeMailFrom,
    FakeMessages,
    FakeRateLimits,
    FakeReputation,
    FakeSuppression,
    FakeUsage,
)
from postroom.testing.fake_state import FakeUnitOfWork, Memory
from postroom.testing.fake_tags import FakeTags
from postroom.testing.fake_templates import FakeTemplates
from postroom.testing.fake_webhooks import FakeWebhooks

__all__ = ["FakeDns", "FakeSealer", "FakeUnitOfWork", "FakeWorld", "Memory", "fake_core"]


class FakeAttemptLog:
    """The store's `AttemptWrites`, applied to a `Memory`."""

    def __init__(self) -> None:
        self.changes: list[Any] = []

    def add_events(self, message_id: str, account_id: str, new: list[Event]) -> None:
        self.changes.append(("events", message_id, account_id, new))

    def add_notifications(self, notes: list[Notification]) -> None:
        self.changes.append(("notifications", notes))

    def finish(self, job: Job, reply: str) -> None:
        self.changes.append(("finish", job, reply))

    def reschedule(self, job: Job, when: float, reply: str, recipients: list[str]) -> None:
        self.changes.append(("reschedule", job, when, recipients))

    def keep_in_mailbox(
        self, job: Job, recipients: list[str], when: float, dkim_signature: bytes | None
    ) -> None:
        row = {
            "message_id": job.message_id,
            "account_id": job.account_id,
            "recipients": recipients,
            "delivered_at": when,
            "dkim_signature": dkim_signature,
        }
        self.changes.append(("mailbox", row))  # fmt: skip

    def count(self, account_id: str, region: str, when: float, counts: dict[str, int]) -> None:
        self.changes.append(("count", (account_id, region, stats_bucket(when)), counts))

    def apply(self, conn: Memory) -> None:
        for change in self.changes:
            kind = change[0]
            if kind == "events":
                _, message_id, account_id, new = change
                conn.events.extend((message_id, account_id, e) for e in new)
                if new:
                    conn.statuses[message_id] = new[-1].event_type
            elif kind == "finish":
                conn.jobs.pop(change[1].id, None)
                conn.done[change[1].id] = change[2]
            elif kind == "reschedule":
                _, job, when, recipients = change
                conn.jobs[job.id] = Job(job.id, job.message_id, job.account_id, job.domain,
                                        recipients, job.attempts + 1, job.created_at)  # fmt: skip
            elif kind == "mailbox":
                conn.mailbox.append(change[1])
            elif kind == "notifications":
                FakeWebhooks().add_notifications(conn, change[1])
            else:
                conn.stats.setdefault(change[1], Counter()).update(change[2])


class FakeDns:
    """TXT and MX answers from dicts; names in `failing` raise DnsLookupError."""

    def __init__(self) -> None:
        self.txt: dict[str, list[str]] = {}
        self.mx: dict[str, list[str]] = {}
        self.failing: set[str] = set()
        self.asked: list[str] = []

    async def lookup_txt(self, name: str) -> list[str]:
        return self._answer(self.txt, name)

    async def lookup_mx(self, name: str) -> list[str]:
        return self._answer(self.mx, name)

    def _answer(self, records: dict[str, list[str]], name: str) -> list[str]:
        self.asked.append(name)
        if name in self.failing:
            raise DnsLookupError(f"lookup of {name} timed out")
        return list(records.get(name, []))


class FakeSealer:
    """Seals reversibly and visibly (tests may look at what was stored)."""

    def seal(self, secret: str) -> str:
        return "sealed:" + secret

    def open(self, sealed: str) -> str:
        if not sealed.startswith("sealed:"):
            raise ValueError("not sealed by this sealer")
        return sealed.removeprefix("sealed:")


@dataclass
class FakeWorld:
    """A core over fakes, and the fakes, for a test to arrange and inspect."""

    core: Core
    memory: Memory
    uow: FakeUnitOfWork
    clock: FakeClock
    dns: FakeDns
    woken: list[float] = field(default_factory=list)


def fake_repositories() -> Repositories:
    return Repositories(
        accounts=FakeAccounts(),
        identities=FakeIdentities(),
        mail_from=FakeMailFrom(),
        dkim=FakeDkim(),
        usage=FakeUsage(),
        messages=FakeMessages(),
        templates=FakeTemplates(),
        configuration_sets=FakeConfigurationSets(),
        suppression=FakeSuppression(),
        reputation=FakeReputation(),
        rate_limits=FakeRateLimits(),
        tags=FakeTags(),
        access_requests=FakeAccessRequests(),
        webhooks=FakeWebhooks(),
    )


def fake_core(settings: Settings | None = None, start: float = 1_800_000_000.0) -> FakeWorld:
    memory, clock, dns = Memory(), FakeClock(start), FakeDns()
    uow = FakeUnitOfWork(memory)
    core = Core(
        uow=uow,
        repos=fake_repositories(),
        clock=clock,
        dns=dns,
        box=FakeSealer(),
        settings=settings or Settings(),
        reply_rules=reply_rules,
        new_attempt_log=FakeAttemptLog,
    )
    world = FakeWorld(core, memory, uow, clock, dns)
    core.wake = lambda: world.woken.append(clock.now())
    return world
