"""Identity, DKIM and MAIL FROM use cases against the fakes: verification rate limits,
the link, DNS checks through the fake resolver, paging, deletion."""

from __future__ import annotations

import pytest
from core_helpers import OPERATOR, REGION, fake_core, tenant

from postroom.domain import dkim
from postroom.domain.requests import ListIdentities, SetMailFromDomain
from postroom.domain.use_cases import domains, identities
from postroom.errors import InvalidParameterValue, Throttling


async def test_verification_mail_is_rate_limited_per_account_and_per_address() -> None:
    world = fake_core()
    caller = tenant(world)
    await identities.verify_email_identity(world.core, caller, "v@example.com")
    mailed = [m for m in world.memory.messages.values() if m.operation == "VerifyEmailIdentity"]
    assert len(mailed) == 1 and mailed[0].internal and world.woken
    with pytest.raises(Throttling, match="^Rate exceeded$"):
        await identities.verify_email_identity(world.core, caller, "w@example.com")
    world.clock.advance(1.0)
    await identities.verify_email_identity(world.core, caller, "V@example.com")  # same mailbox
    world.clock.advance(1.0)
    await identities.verify_email_identity(world.core, caller, "v@example.com")
    assert len(world.memory.messages) == 1  # no second mail within 5 minutes
    world.clock.advance(300.0)
    await identities.verify_email_identity(world.core, caller, "v@example.com")
    assert len(world.memory.messages) == 2


async def test_the_link_verifies_the_address_while_valid() -> None:
    world = fake_core()
    caller = tenant(world)
    await identities.verify_email_identity(world.core, caller, "v@example.com")
    [found] = world.memory.identities.values()
    assert found.token in world.memory.messages[next(iter(world.memory.messages))].raw.decode()
    confirmed = await identities.confirm_verification_link(world.core, found.token)
    assert confirmed is not None and confirmed.status == "Success"
    assert await identities.list_verified_email_addresses(world.core, caller) == ["v@example.com"]
    assert await identities.confirm_verification_link(world.core, "nope") is None


async def test_a_domain_is_verified_by_its_txt_record() -> None:
    world = fake_core()
    caller = tenant(world)
    token = await identities.verify_domain(world.core, caller, "Example.COM")
    asked = await identities.identity_verification_attributes(world.core, caller, ["example.com"])
    assert asked["example.com"].status == "Pending" and asked["example.com"].token == token
    world.dns.txt["_amazonses.example.com"] = [token]
    world.clock.advance(2.0)
    asked = await identities.identity_verification_attributes(world.core, caller, ["example.com"])
    assert asked["example.com"].status == "Success"


async def test_identities_are_paged_and_deleted() -> None:
    world = fake_core()
    caller = tenant(world, "acme", "a.example", "b.example", "c.example")
    page = await identities.list_identities(world.core, caller, ListIdentities(page_size=2))
    assert page.identities == ["a.example", "b.example"] and page.next_token
    rest = ListIdentities(page_size=2, next_token=page.next_token)
    assert (await identities.list_identities(world.core, caller, rest)).identities == ["c.example"]
    await identities.delete_identity(world.core, caller, "b.example")
    await identities.delete_identity(world.core, caller, "not an identity")
    everything = await identities.list_identities(world.core, caller, ListIdentities())
    assert everything.identities == ["a.example", "c.example"]
    with pytest.raises(InvalidParameterValue):
        await identities.list_identities(world.core, caller, ListIdentities(page_size=1001))


async def test_dkim_tokens_then_success_when_dns_shows_every_key() -> None:
    world = fake_core()
    caller = tenant(world)
    tokens = await domains.verify_domain_dkim(world.core, caller, "example.com")
    assert len(tokens) == 3
    assert await domains.verify_domain_dkim(world.core, caller, "example.com") == tokens
    keys = world.core.repos.dkim.keys_of(world.memory, caller.account_id, REGION, "example.com")
    for key, _seen in keys:
        world.dns.txt[dkim.record_name(key.selector, "example.com")] = [dkim.txt_record_value(key)]
    found = await domains.dkim_attributes(world.core, caller, ["example.com", "a@b.org"])
    assert found["example.com"].status == "Success" and found["example.com"].tokens == tokens
    assert found["a@b.org"].status == "NotStarted"
    [identity] = world.memory.identities.values()
    assert identity.status == "Success"  # DKIM verifies the domain too, as on SES
    lines = await domains.dns_records_of(world.core, OPERATOR, "acme", "example.com")
    assert lines is not None and any(tokens[0] in line for line in lines)


async def test_mail_from_needs_a_subdomain_and_an_mx_at_the_feedback_host() -> None:
    world = fake_core()
    caller = tenant(world, "acme", "example.com")
    bad = SetMailFromDomain("example.com", "elsewhere.org")
    with pytest.raises(InvalidParameterValue, match="subdomain"):
        await domains.set_mail_from_domain(world.core, caller, bad)
    good = SetMailFromDomain("example.com", "bounce.example.com", "RejectMessage")
    await domains.set_mail_from_domain(world.core, caller, good)
    world.dns.failing.add("bounce.example.com")
    found = await domains.mail_from_attributes(world.core, caller, ["example.com"])
    assert found["example.com"].status == "TemporaryFailure"
    world.dns.failing.clear()
    world.dns.mx["bounce.example.com"] = [world.core.settings.feedback_host]
    world.clock.advance(2.0)
    found = await domains.mail_from_attributes(world.core, caller, ["example.com"])
    assert found["example.com"].status == "Success"
    assert found["example.com"].behavior_on_mx_failure == "RejectMessage"
