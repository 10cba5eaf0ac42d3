"""Arranging the core over fakes (no database): accounts, verified identities, callers."""

from __future__ import annotations

from postroom.domain.callers import Caller, operator
from postroom.domain.identities import DOMAIN, EMAIL, SUCCESS
from postroom.domain.requests import SendEmail
from postroom.testing.fakes import FakeWorld
from postroom.testing.fakes import fake_core as fake_core
from postroom.wire.mime import Content

REGION = "us-east-1"
OPERATOR = operator(REGION)


def tenant(world: FakeWorld, name: str = "acme", *verified: str) -> Caller:
    """A new account (in the sandbox) with `verified` identities, as its own caller."""
    now = world.clock.now()
    repos, memory = world.core.repos, world.memory
    account = repos.accounts.insert_account(memory, name, now)
    for identity in verified:
        kind = EMAIL if "@" in identity else DOMAIN
        found = repos.identities.upsert_pending(
            memory, account.id, REGION, identity, kind, f"token-{identity}", now
        )
        repos.identities.set_status(memory, found, SUCCESS, now, verified=True)
    return Caller(account.id, REGION, access_key_id="AKIATEST", principal="acme-user")


def mail(source: str = "app@example.com", *to: str, subject: str = "Hi") -> SendEmail:
    return SendEmail(
        source=source, to=list(to or ["success@simulator.amazonses.com"]),
        subject=Content(subject), text=Content("Hello"),
    )  # fmt: skip
