"""The account-level suppression list against the fakes: the tenant's own list (put, get,
delete, list with filters and pages), the reasons for which outcomes add to it
(`record_outcomes` honours SuppressedReasons), GetAccount's status, and hostile input."""

from __future__ import annotations

import base64

import pytest
from core_helpers import fake_core, mail, tenant

from postroom.delivery.outcomes import classify
from postroom.domain.callers import Caller
from postroom.domain.messages import Job
from postroom.domain.outcomes import Outcome
from postroom.domain.recording import Attempt
from postroom.domain.use_cases import account, sending, suppression
from postroom.domain.use_cases.suppression import ListSuppressed
from postroom.errors import InvalidParameterValue, NotFound
from postroom.testing.fakes import FakeWorld


async def _queued(world: FakeWorld, caller: Caller, *to: str) -> Job:
    world.core.repos.accounts.set_production(world.memory, caller.account_id, None, None, None)
    await sending.send_email(world.core, caller, mail("app@example.com", *to))
    [job] = world.memory.jobs.values()
    return job


async def _record(world: FakeWorld, job: Job, outcomes: list[Outcome]) -> None:
    loaded = world.core.repos.messages.load_record(world.memory, job.message_id)
    assert loaded is not None
    record, envelope_from = loaded
    attempt = Attempt(job, record, envelope_from, outcomes, world.clock.now(), False)
    await world.uow.write_batched(world.core.record_outcomes, attempt)


def _complaint(recipient: str) -> Outcome:
    return Outcome(recipient, "complained", 250, "2.0.0", "ok")


# -- SuppressedReasons in the outcome rules ------------------------------------------------
@pytest.mark.parametrize(
    ("enabled", "listed"),
    [
        (["BOUNCE", "COMPLAINT"], {"gone@example.org": "BOUNCE", "angry@example.org": "COMPLAINT"}),
        (["BOUNCE"], {"gone@example.org": "BOUNCE"}),
        (["COMPLAINT"], {"angry@example.org": "COMPLAINT"}),
        ([], {}),
    ],
)
async def test_outcomes_add_to_the_list_only_for_the_enabled_reasons(
    enabled: list[str], listed: dict[str, str]
) -> None:
    world = fake_core()
    caller = tenant(world, "acme", "example.com")
    await suppression.set_suppressed_reasons(world.core, caller, enabled)
    job = await _queued(world, caller, "gone@example.org", "angry@example.org")
    bounced = classify("gone@example.org", 550, "5.1.1", "user unknown")
    await _record(world, job, [bounced, _complaint("angry@example.org")])
    found = {a: e["reason"] for (_, a), e in world.memory.suppressed.items()}
    assert found == listed
    kinds = [e.event_type for e in world.memory.events_of(job.message_id)]
    assert kinds == ["Send", "Delivery", "Bounce", "Complaint"]  # events never change


async def test_disabling_a_reason_keeps_the_entries_already_listed() -> None:
    world = fake_core()
    caller = tenant(world, "acme", "example.com")
    await suppression.put_suppressed_destination(world.core, caller, "old@example.org", "BOUNCE")
    await suppression.set_suppressed_reasons(world.core, caller, [])
    job = await _queued(world, caller, "old@example.org")
    await _record(world, job, [classify("old@example.org", 550, "5.1.1", "user unknown")])
    entry = await suppression.get_suppressed_destination(world.core, caller, "old@example.org")
    assert entry.reason == "BOUNCE" and entry.message_id is None  # not refreshed either


async def test_the_reasons_are_the_accounts_own_and_shown_by_get_account() -> None:
    world = fake_core()
    acme, other = tenant(world, "acme"), tenant(world, "other")
    status = await account.account_status(world.core, acme)
    assert status.suppressed_reasons == ["BOUNCE", "COMPLAINT"]  # SES's default
    await suppression.set_suppressed_reasons(world.core, acme, ["COMPLAINT", "COMPLAINT"])
    assert (await account.account_status(world.core, acme)).suppressed_reasons == ["COMPLAINT"]
    assert await suppression.suppressed_reasons(world.core, other) == ["BOUNCE", "COMPLAINT"]
    with pytest.raises(InvalidParameterValue):
        await suppression.set_suppressed_reasons(world.core, acme, ["SPAM"])


async def test_account_status_reads_every_field() -> None:
    world = fake_core()
    caller = tenant(world, "acme")
    status = await account.account_status(world.core, caller)
    assert (status.quota.max_24h, status.quota.max_rate, status.quota.sent_last_24h) == (
        200.0, 1.0, 0.0,
    )  # fmt: skip
    assert status.sending_enabled and not status.production_access
    assert status.enforcement == "HEALTHY"
    await account.set_account_sending(world.core, caller, False)
    assert not (await account.account_status(world.core, caller)).sending_enabled


# -- the tenant's list ---------------------------------------------------------------------
async def test_put_get_delete_one_address_normalised_once() -> None:
    world = fake_core()
    caller = tenant(world, "acme")
    added = await suppression.put_suppressed_destination(
        world.core, caller, "Bob <Bob@Example.ORG>", "COMPLAINT"
    )
    assert added == "bob@example.org"
    entry = await suppression.get_suppressed_destination(world.core, caller, "BOB@example.org")
    assert (entry.address, entry.reason) == ("bob@example.org", "COMPLAINT")
    await suppression.delete_suppressed_destination(world.core, caller, "bob@example.org")
    with pytest.raises(NotFound) as missing:
        await suppression.get_suppressed_destination(world.core, caller, "bob@example.org")
    assert missing.value.message == (
        "Email address bob@example.org does not exist on your suppression list."
    )
    with pytest.raises(NotFound):
        await suppression.delete_suppressed_destination(world.core, caller, "bob@example.org")


async def test_another_accounts_entries_are_invisible() -> None:
    world = fake_core()
    acme, other = tenant(world, "acme"), tenant(world, "other")
    await suppression.put_suppressed_destination(world.core, acme, "x@example.org", "BOUNCE")
    with pytest.raises(NotFound):
        await suppression.get_suppressed_destination(world.core, other, "x@example.org")
    with pytest.raises(NotFound):
        await suppression.delete_suppressed_destination(world.core, other, "x@example.org")
    page = await suppression.list_suppressed_destinations(world.core, other, ListSuppressed())
    assert page.entries == [] and page.next_token is None
    assert await suppression.get_suppressed_destination(world.core, acme, "x@example.org")


async def test_list_filters_by_reason_and_time_and_pages_newest_first() -> None:
    world = fake_core()
    caller = tenant(world, "acme")
    for i in range(5):
        reason = "BOUNCE" if i % 2 == 0 else "COMPLAINT"
        await suppression.put_suppressed_destination(world.core, caller, f"a{i}@x.org", reason)
        world.clock.advance(10)
    start = world.clock.now() - 50  # when a0 was listed

    async def listed(request: ListSuppressed) -> list[str]:
        found: list[str] = []
        while True:
            page = await suppression.list_suppressed_destinations(world.core, caller, request)
            found += [e.address for e in page.entries]
            if page.next_token is None:
                return found
            request = ListSuppressed(request.reasons, request.start, request.end,
                                     page.next_token, request.page_size)  # fmt: skip

    everything = [f"a{i}@x.org" for i in (4, 3, 2, 1, 0)]
    assert await listed(ListSuppressed()) == everything
    assert await listed(ListSuppressed(page_size=2)) == everything
    assert await listed(ListSuppressed(reasons=("COMPLAINT",), page_size=1)) == [
        "a3@x.org", "a1@x.org",
    ]  # fmt: skip
    assert await listed(ListSuppressed(start=start + 15, end=start + 35)) == [
        "a3@x.org", "a2@x.org",
    ]  # fmt: skip


# -- hostile input --------------------------------------------------------------------------
@pytest.mark.parametrize(
    "address",
    ["a\x01b@example.org", "a@exa\nmple.org", "user@[127.0.0.1]", "user@[IPv6:::1]",
     "", "a@b@c.org", "x" * 65 + "@example.org", "a@" + "d" * 300 + ".org"],
)  # fmt: skip
async def test_bad_addresses_are_refused_everywhere(address: str) -> None:
    world = fake_core()
    caller = tenant(world, "acme")
    for attempt in (
        suppression.put_suppressed_destination(world.core, caller, address, "BOUNCE"),
        suppression.get_suppressed_destination(world.core, caller, address),
        suppression.delete_suppressed_destination(world.core, caller, address),
    ):
        with pytest.raises(InvalidParameterValue):
            await attempt
    assert not world.memory.suppressed


@pytest.mark.parametrize(
    "request_",
    [
        ListSuppressed(page_size=0),
        ListSuppressed(page_size=1001),
        ListSuppressed(page_size=-1),
        ListSuppressed(next_token="not base64 !"),
        ListSuppressed(next_token=base64.urlsafe_b64encode(b"-1").decode()),
        ListSuppressed(next_token=base64.urlsafe_b64encode(b"9" * 40).decode()),
        ListSuppressed(next_token="A" * 100),
        ListSuppressed(next_token="\u00e9t\u00e9"),
        ListSuppressed(reasons=("SPAM",)),
    ],
)
async def test_bad_list_requests_are_refused(request_: ListSuppressed) -> None:
    world = fake_core()
    caller = tenant(world, "acme")
    with pytest.raises(InvalidParameterValue):
        await suppression.list_suppressed_destinations(world.core, caller, request_)


async def test_a_bad_reason_is_refused() -> None:
    world = fake_core()
    caller = tenant(world, "acme")
    with pytest.raises(InvalidParameterValue):
        await suppression.put_suppressed_destination(world.core, caller, "a@x.org", "SPAM")
