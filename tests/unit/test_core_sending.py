"""The core's sending rules against the fakes: sandbox, quotas, pauses, MAIL FROM, the
caller's permissions; what an accepted message leaves behind."""

from __future__ import annotations

import dataclasses

import pytest
from core_helpers import OPERATOR, REGION, fake_core, mail, tenant

from postroom.domain.use_cases import sending
from postroom.errors import AccessDenied, AccountSendingPaused, MessageRejected, Throttling


async def test_an_accepted_message_is_queued_with_its_send_event_and_wakes_delivery() -> None:
    world = fake_core()
    caller = tenant(world, "acme", "example.com", "example.org")
    message_id = await sending.send_email(
        world.core, caller, mail("app@example.com", "friend@example.org", "b@example.org")
    )
    assert message_id in world.memory.messages
    [job] = world.memory.jobs.values()
    assert (job.domain, job.recipients) == ("example.org", ["friend@example.org", "b@example.org"])
    assert [e.event_type for e in world.memory.events_of(message_id)] == ["Send"]
    assert world.woken == [world.clock.now()]
    assert (
        world.core.repos.usage.sent_last_24h(
            world.memory, caller.account_id, REGION, world.clock.now()
        )
        == 2
    )


async def test_the_sandbox_needs_verified_sender_and_recipients_but_not_the_simulator() -> None:
    world = fake_core()
    caller = tenant(world, "acme", "example.com")
    with pytest.raises(MessageRejected, match="not verified.*US-EAST-1: stranger@example.org"):
        await sending.send_email(
            world.core, caller, mail("app@example.com", "stranger@example.org")
        )
    with pytest.raises(MessageRejected, match="other@elsewhere.org"):
        await sending.send_email(world.core, caller, mail("other@elsewhere.org"))
    await sending.send_email(world.core, caller, mail("app@example.com"))  # the simulator
    assert not world.woken[1:] and len(world.memory.messages) == 1


async def test_production_access_lifts_the_recipient_check_but_not_the_senders() -> None:
    world = fake_core()
    caller = tenant(world, "acme", "example.com")
    world.core.repos.accounts.set_production(world.memory, caller.account_id, None, None, None)
    await sending.send_email(world.core, caller, mail("app@example.com", "stranger@example.org"))
    with pytest.raises(MessageRejected):
        await sending.send_email(world.core, caller, mail("app@unverified.org", "x@example.org"))


async def test_the_rate_and_the_daily_quota_throttle() -> None:
    world = fake_core()
    caller = tenant(world, "acme", "example.com")
    await sending.send_email(world.core, caller, mail())
    with pytest.raises(Throttling, match="Maximum sending rate exceeded"):
        await sending.send_email(world.core, caller, mail())  # 1/s in the sandbox
    world.clock.advance(1.0)
    await sending.send_email(world.core, caller, mail())
    accounts, memory = world.core.repos.accounts, world.memory
    accounts.set_production(memory, caller.account_id, None, max_24h=2, max_rate=100)
    world.clock.advance(1.0)
    await sending.send_email(world.core, caller, mail("app@example.com", "a@x.org", "b@x.org"))
    with pytest.raises(Throttling, match="Daily message quota exceeded"):
        await sending.send_email(world.core, caller, mail("app@example.com", "c@x.org"))
    world.clock.advance(24 * 3600 + 60)
    await sending.send_email(world.core, caller, mail("app@example.com", "c@x.org"))


async def test_a_refused_message_leaves_nothing_behind() -> None:
    world = fake_core()
    caller = tenant(world, "acme", "example.com")
    before = dataclasses.replace(world.memory.accounts[caller.account_id])
    with pytest.raises(MessageRejected):
        await sending.send_email(world.core, caller, mail("app@example.com", "x@example.org"))
    assert world.memory.accounts[caller.account_id] == before
    assert not world.memory.messages and not world.memory.usage and not world.woken


async def test_a_paused_account_sends_nothing() -> None:
    world = fake_core()
    caller = tenant(world, "acme", "example.com")
    world.core.repos.accounts.set_paused(world.memory, caller.account_id, None, "operator", True)
    with pytest.raises(AccountSendingPaused):
        await sending.send_email(world.core, caller, mail())


async def test_a_mail_from_domain_not_seen_in_dns_refuses_when_asked_to() -> None:
    world = fake_core()
    caller = tenant(world, "acme", "example.com")
    world.core.repos.mail_from.put(
        world.memory, caller.account_id, caller.region, "example.com", "bounce.example.com",
        "RejectMessage", world.clock.now(),
    )  # fmt: skip
    with pytest.raises(Exception, match="MAIL FROM domain bounce.example.com"):
        await sending.send_email(world.core, caller, mail())


async def test_permissions_are_checked_in_the_core_for_every_interface() -> None:
    world = fake_core()
    caller = tenant(world, "acme", "example.com")
    scoped = dataclasses.replace(caller, permissions=frozenset({"send_raw_email"}))
    with pytest.raises(AccessDenied, match="send_email"):
        await sending.send_email(world.core, scoped, mail())
    allowed = dataclasses.replace(caller, permissions=frozenset({"send_email"}))
    await sending.send_email(world.core, allowed, mail())
    assert OPERATOR.is_operator and not caller.is_operator
