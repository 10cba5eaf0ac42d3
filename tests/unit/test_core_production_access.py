"""Production access against the fakes: the request, its review and the state per region."""

from __future__ import annotations

import dataclasses

import pytest
from core_helpers import OPERATOR, REGION, fake_core, tenant

from postroom.domain.production_access import AccountDetails
from postroom.domain.use_cases import account, sending
from postroom.domain.use_cases import production_access as access
from postroom.errors import AccessDenied, Conflict, InvalidParameterValue, NotFound, Throttling
from postroom.testing.fakes import FakeWorld

DETAILS = AccountDetails("TRANSACTIONAL", "https://shop.example", "비밀번호 재설정 메일", "EN",
                         ["ops@shop.example"])  # fmt: skip
SEOUL = "ap-northeast-2"


async def test_a_request_is_pending_then_granted_in_its_region_only() -> None:
    world = fake_core()
    caller = tenant(world, "acme")
    filed = await access.put_account_details(world.core, caller, DETAILS, True)
    assert filed is not None and filed.status == "PENDING" and filed.case_id.isdigit()
    status = await account.account_status(world.core, caller)
    assert status.details == DETAILS and status.review == filed
    assert not status.production_access

    [pending] = await access.pending_requests(world.core, OPERATOR)
    assert (pending.account_name, pending.request.region) == ("acme", REGION)

    await access.approve(world.core, OPERATOR, "acme", REGION)
    status = await account.account_status(world.core, caller)
    assert status.production_access and status.review is not None
    assert status.review.status == "GRANTED" and status.quota.max_24h == 50_000
    seoul = dataclasses.replace(caller, region=SEOUL)
    assert (await account.account_status(world.core, seoul)).production_access is False
    assert await access.pending_requests(world.core, OPERATOR) == []


async def test_a_second_request_conflicts_while_pending_and_waits_a_day_after_denial() -> None:
    world = fake_core()
    caller = tenant(world, "acme")
    await access.put_account_details(world.core, caller, DETAILS, True)
    with pytest.raises(Conflict, match="already pending"):
        await access.put_account_details(world.core, caller, DETAILS, True)
    # Details alone may change while the request waits.
    await access.put_account_details(world.core, caller, dataclasses.replace(DETAILS,
                                     website_url="https://new.example"), False)  # fmt: skip
    [denied] = await access.deny(world.core, OPERATOR, "acme", None, "Tell us more.")
    status = await account.account_status(world.core, caller)
    assert status.review is not None and status.review.status == "DENIED"
    assert world.memory.access_requests[denied.case_id].reason == "Tell us more."
    assert status.details is not None and status.details.website_url == "https://new.example"

    world.clock.advance(3600)
    with pytest.raises(Throttling, match="at most one request a day"):
        await access.put_account_details(world.core, caller, DETAILS, True)
    world.clock.advance(86400)
    again = await access.put_account_details(world.core, caller, DETAILS, True)
    assert again is not None and again.case_id != denied.case_id


async def test_without_a_region_the_operator_acts_everywhere_and_needs_no_request() -> None:
    world = fake_core()
    caller = tenant(world, "acme", "example.com")
    seoul = dataclasses.replace(caller, region=SEOUL)
    await access.put_account_details(world.core, seoul, DETAILS, True)
    with pytest.raises(NotFound, match="no production access request pending in us-east-1"):
        await access.deny(world.core, OPERATOR, "acme", REGION, "No.")
    with pytest.raises(InvalidParameterValue):
        await access.deny(world.core, OPERATOR, "acme", None, " ")

    await access.approve(world.core, OPERATOR, "acme", None)
    for where in (caller, seoul, dataclasses.replace(caller, region="eu-west-1")):
        assert (await account.account_status(world.core, where)).production_access
    review = (await account.account_status(world.core, seoul)).review
    assert review is not None and review.status == "GRANTED"
    # In production already: details are recorded, no request is filed.
    assert await access.put_account_details(world.core, caller, DETAILS, True) is None


async def test_quotas_and_the_sending_switch_are_per_region() -> None:
    world = fake_core()
    caller = tenant(world, "acme", "example.com")
    seoul = dataclasses.replace(caller, region=SEOUL)
    await access.approve(world.core, OPERATOR, "acme", REGION)
    await account.set_account_sending(world.core, seoul, False)
    assert await account.account_sending_enabled(world.core, caller)
    assert not await account.account_sending_enabled(world.core, seoul)
    assert (await account.send_quota(world.core, seoul)).max_24h == 200
    assert (await account.send_quota(world.core, caller)).max_24h == 50_000


async def test_only_the_operator_reviews(world: FakeWorld | None = None) -> None:
    world = fake_core()
    caller = tenant(world, "acme")
    with pytest.raises(AccessDenied):
        await access.pending_requests(world.core, caller)
    with pytest.raises(AccessDenied):
        await access.deny(world.core, caller, "acme", None, "no")
    limited = dataclasses.replace(caller, permissions=frozenset({"send_email"}))
    with pytest.raises(AccessDenied):
        await access.put_account_details(world.core, limited, DETAILS, True)
    assert sending  # the sending use cases share the caller's rules
