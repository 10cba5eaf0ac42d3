"""Account use cases against the fakes: pause ownership, the operator's actions, quotas
and statistics, reputation enforcement."""

from __future__ import annotations

import dataclasses
from collections import Counter

import pytest
from core_helpers import OPERATOR, REGION, fake_core, mail, tenant

from postroom.domain.use_cases import account, operator, sending
from postroom.domain.use_cases import production_access as access
from postroom.errors import AccessDenied, AccountSendingPaused, AccountSuspended, NotFound


async def test_the_tenant_lifts_its_own_pause_only() -> None:
    world = fake_core()
    caller = tenant(world, "acme", "example.com")
    await account.set_account_sending(world.core, caller, False)
    assert await account.account_sending_enabled(world.core, caller) is False
    await account.set_account_sending(world.core, caller, True)
    assert await account.account_sending_enabled(world.core, caller) is True

    await operator.pause(world.core, OPERATOR, "acme")
    with pytest.raises(AccessDenied, match="paused by the operator"):
        await account.set_account_sending(world.core, caller, True)
    with pytest.raises(AccountSendingPaused):
        await sending.send_email(world.core, caller, mail())


async def test_resume_lifts_the_operators_pause_but_keeps_the_tenants() -> None:
    world = fake_core()
    caller = tenant(world, "acme", "example.com")
    await account.set_account_sending(world.core, caller, False)
    await operator.pause(world.core, OPERATOR, "acme")
    [resumed] = await operator.resume(world.core, OPERATOR, "acme")
    assert resumed.region == caller.region
    assert resumed.paused_by_tenant and not resumed.paused_by_operator
    assert not resumed.sending_enabled
    await account.set_account_sending(world.core, caller, True)
    assert await account.account_sending_enabled(world.core, caller)


async def test_operator_actions_refuse_a_tenant() -> None:
    world = fake_core()
    caller = tenant(world, "acme")
    with pytest.raises(AccessDenied, match="operator action"):
        await access.approve(world.core, caller, "acme", None)
    with pytest.raises(AccessDenied):
        await operator.pause(world.core, caller, "acme")
    with pytest.raises(NotFound):
        await operator.pause(world.core, OPERATOR, "nobody")


async def test_create_account_seals_the_secret_and_approve_grants_production_quotas() -> None:
    world = fake_core()
    issued = await operator.create_account(world.core, OPERATOR, "acme")
    assert issued.account.sandbox
    assert world.memory.keys[issued.access_key_id] == (
        issued.account.id,
        "sealed:" + issued.secret_access_key,
    )
    caller = tenant(world, "other")
    quota = await account.send_quota(world.core, caller)
    assert (quota.max_24h, quota.max_rate, quota.sent_last_24h) == (200.0, 1.0, 0.0)
    assert await access.approve(world.core, OPERATOR, "acme", None) == []  # no region used yet
    owner = dataclasses.replace(caller, account_id=issued.account.id)
    quota = await account.send_quota(world.core, owner)  # a region used for the first time
    assert (quota.max_24h, quota.max_rate) == (50_000.0, 14.0)


async def test_a_shutdown_by_reputation_is_lifted_by_the_operator_only() -> None:
    world = fake_core()
    caller = tenant(world, "acme", "example.com")
    stats = world.memory.stats
    bucket = int(world.clock.now() // 900) * 900
    stats[(caller.account_id, REGION, bucket)] = Counter(rep_sends=200, rep_hard_bounces=40)
    changes = await account.reassess_reputation(world.core)
    assert changes == {"acme": "SHUTDOWN"}
    with pytest.raises(AccountSuspended) as suspended:  # v2's AccountSuspendedException
        await sending.send_email(world.core, caller, mail())
    assert suspended.value.code == "AccountSendingPausedException"  # v1: any pause
    with pytest.raises(AccessDenied, match="SHUTDOWN"):
        await account.set_account_sending(world.core, caller, True)
    world.clock.advance(60)
    await operator.resume(world.core, OPERATOR, "acme")
    assert await account.account_sending_enabled(world.core, caller)
    assert await account.reassess_reputation(world.core) == {}  # counted afresh from now
