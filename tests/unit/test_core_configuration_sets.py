"""Configuration sets against the fakes (issue 10, part 1): one state per account and
region, the limit, hostile names, v1's tracking options as their own resource, an
identity's default set, and the sending rules (a set must exist, a paused set refuses,
the set's SuppressedReasons replace the account's, TLS REQUIRE and the automatic tag are
kept on the message)."""

from __future__ import annotations

import dataclasses

import pytest
from core_helpers import fake_core, mail, tenant

from postroom.delivery.outcomes import classify
from postroom.domain import configuration_sets as sets
from postroom.domain.callers import Caller
from postroom.domain.configuration_sets import ConfigurationSet
from postroom.domain.events import event_json
from postroom.domain.outcomes import Outcome
from postroom.domain.recording import Attempt
from postroom.domain.use_cases import configuration_sets as use_cases
from postroom.domain.use_cases import sending, suppression, tags
from postroom.errors import ClientError, InvalidParameterValue, NotFound
from postroom.testing.fakes import FakeWorld


def new(name: str, **options: object) -> ConfigurationSet:
    return ConfigurationSet(name, 0.0, **options)  # type: ignore[arg-type]


async def test_crud_per_account_and_region() -> None:
    world = fake_core()
    acme, other = tenant(world, "acme"), tenant(world, "other")
    await use_cases.create_configuration_set(world.core, acme, new("cs"), [("team", "a")])
    with pytest.raises(ClientError, match="Configuration set <cs> already exists.") as dup:
        await use_cases.create_configuration_set(world.core, acme, new("cs"))
    assert dup.value.code == "ConfigurationSetAlreadyExists"
    await use_cases.create_configuration_set(world.core, other, new("cs"))  # per account
    elsewhere = dataclasses.replace(acme, region="eu-west-1")
    with pytest.raises(ClientError) as missing:
        await use_cases.get_configuration_set(world.core, elsewhere, "cs")
    assert missing.value.code == "ConfigurationSetDoesNotExist"

    stored = await use_cases.get_configuration_set(world.core, acme, "cs")
    assert stored.tags == {"team": "a"} and stored.found.created_at == world.clock.now()
    await use_cases.change_configuration_set(
        world.core, acme, "cs", lambda f: dataclasses.replace(f, tls_policy="REQUIRE"), "x"
    )
    assert (await use_cases.get_configuration_set(world.core, acme, "cs")).found.tls_policy == (
        "REQUIRE")
    assert (await use_cases.get_configuration_set(world.core, other, "cs")).found.tls_policy == (
        "OPTIONAL")
    arn = f"arn:aws:ses:us-east-1:{acme.account_id}:configuration-set/cs"
    assert await tags.list_tags(world.core, acme, arn) == [("team", "a")]
    with pytest.raises(NotFound):
        await tags.list_tags(world.core, other, arn)
    await use_cases.delete_configuration_set(world.core, acme, "cs")
    with pytest.raises(ClientError, match="does not exist"):
        await use_cases.delete_configuration_set(world.core, acme, "cs")
    assert world.memory.tags.get((acme.account_id, arn)) in (None, {})


async def test_pages_and_the_limit(monkeypatch: pytest.MonkeyPatch) -> None:
    world = fake_core()
    acme = tenant(world)
    for name in ("c", "a", "b"):
        await use_cases.create_configuration_set(world.core, acme, new(name))
    first = await use_cases.list_configuration_sets(world.core, acme, 2, None)
    assert first.names == ["a", "b"] and first.next_token
    rest = await use_cases.list_configuration_sets(world.core, acme, 2, first.next_token)
    assert rest.names == ["c"] and rest.next_token is None
    with pytest.raises(InvalidParameterValue):
        await use_cases.list_configuration_sets(world.core, acme, None, "bm90IGEgbmFtZSE=")
    monkeypatch.setattr(sets, "MAX_CONFIGURATION_SETS", 3)
    with pytest.raises(ClientError) as limit:
        await use_cases.create_configuration_set(world.core, acme, new("d"))
    assert limit.value.code == "LimitExceeded"


@pytest.mark.parametrize("name", ["", "x" * 65, "a b", "a\x00b", "a\r\nb", "ü", "a/b"])
async def test_hostile_names(name: str) -> None:
    world = fake_core()
    acme = tenant(world)
    with pytest.raises(ClientError) as refused:
        await use_cases.create_configuration_set(world.core, acme, new(name))
    assert refused.value.code == "InvalidConfigurationSet"
    assert all(c.isprintable() for c in refused.value.message)
    with pytest.raises(ClientError) as missing:
        await use_cases.get_configuration_set(world.core, acme, name)
    assert missing.value.code == "ConfigurationSetDoesNotExist"


@pytest.mark.parametrize(("options", "code"), [
    ({"tls_policy": "MAYBE"}, "InvalidDeliveryOptions"),
    ({"tracking_domain": "not a domain"}, "InvalidTrackingOptions"),
    ({"max_delivery_seconds": 10}, "InvalidParameterValue"),
    ({"suppressed_reasons": frozenset({"SPAM"})}, "InvalidParameterValue"),
])  # fmt: skip
async def test_bad_options(options: dict[str, object], code: str) -> None:
    world = fake_core()
    with pytest.raises(ClientError) as refused:
        await use_cases.create_configuration_set(world.core, tenant(world), new("cs", **options))
    assert refused.value.code == code


async def test_v1_tracking_options_exist_or_not() -> None:
    world = fake_core()
    acme = tenant(world)
    await use_cases.create_configuration_set(world.core, acme, new("cs"))

    async def change(step: use_cases.Change) -> None:
        await use_cases.change_configuration_set(world.core, acme, "cs", step, "x")

    with pytest.raises(ClientError) as absent:
        await change(use_cases.update_tracking("t.example.com"))
    assert absent.value.code == "TrackingOptionsDoesNotExistException"
    await change(use_cases.add_tracking(None))
    with pytest.raises(ClientError) as twice:
        await change(use_cases.add_tracking("t.example.com"))
    assert twice.value.code == "TrackingOptionsAlreadyExistsException"
    await change(use_cases.update_tracking("t.example.com"))
    stored = await use_cases.get_configuration_set(world.core, acme, "cs")
    assert stored.found.tracking_domain == "t.example.com"
    await change(use_cases.remove_tracking)
    with pytest.raises(ClientError):
        await change(use_cases.remove_tracking)


# -- sending -------------------------------------------------------------------------------
async def _sender(world: FakeWorld) -> Caller:
    caller = tenant(world, "acme", "example.com")
    world.core.repos.accounts.set_production(world.memory, caller.account_id, None, None, None)
    return caller


async def _send(world: FakeWorld, caller: Caller, cs: str | None = None, *to: str) -> str:
    request = dataclasses.replace(mail("app@example.com", *to), configuration_set=cs)
    return await sending.send_email(world.core, caller, request)


async def test_a_send_names_an_existing_set_that_is_not_paused() -> None:
    world = fake_core()
    caller = await _sender(world)
    with pytest.raises(ClientError, match=r"Configuration set <nope> does not exist\.") as no:
        await _send(world, caller, "nope")
    assert no.value.code == "ConfigurationSetDoesNotExist"
    await use_cases.create_configuration_set(
        world.core, caller, new("cs", tls_policy="REQUIRE", sending_enabled=False)
    )
    with pytest.raises(ClientError) as paused:
        await _send(world, caller, "cs")
    assert paused.value.code == "ConfigurationSetSendingPausedException"
    assert not world.memory.messages  # nothing written
    await use_cases.change_configuration_set(
        world.core, caller, "cs", lambda f: dataclasses.replace(f, sending_enabled=True), "x"
    )
    message = world.memory.messages[await _send(world, caller, "cs")]
    assert (message.configuration_set, message.require_tls) == ("cs", True)
    assert message.tags["ses:configuration-set"] == ["cs"]
    plain = world.memory.messages[await _send(world, caller)]
    assert (plain.configuration_set, plain.require_tls) == (None, False)
    assert "ses:configuration-set" not in plain.tags


async def test_the_identity_default_set_most_specific_first() -> None:
    world = fake_core()
    caller = tenant(world, "acme", "example.com", "app@example.com")
    world.core.repos.accounts.set_production(world.memory, caller.account_id, None, None, None)
    for name in ("domain-set", "address-set", "named"):
        await use_cases.create_configuration_set(world.core, caller, new(name))
    with pytest.raises(NotFound):
        await use_cases.set_identity_configuration_set(world.core, caller, "x.example", "named")
    with pytest.raises(ClientError) as unknown_set:
        await use_cases.set_identity_configuration_set(world.core, caller, "example.com", "no")
    assert unknown_set.value.code == "ConfigurationSetDoesNotExist"
    await use_cases.set_identity_configuration_set(world.core, caller, "example.com", "domain-set")
    assert world.memory.messages[await _send(world, caller)].configuration_set == "domain-set"
    await use_cases.set_identity_configuration_set(
        world.core, caller, "app@example.com", "address-set")
    assert world.memory.messages[await _send(world, caller)].configuration_set == "address-set"
    assert world.memory.messages[await _send(world, caller, "named")].configuration_set == "named"
    await use_cases.delete_configuration_set(world.core, caller, "address-set")
    with pytest.raises(ClientError) as deleted:  # SES: the call fails
        await _send(world, caller)
    assert deleted.value.code == "ConfigurationSetDoesNotExist"


async def test_the_sets_suppressed_reasons_replace_the_accounts() -> None:
    world = fake_core()
    caller = await _sender(world)
    await suppression.set_suppressed_reasons(world.core, caller, ["BOUNCE", "COMPLAINT"])
    await use_cases.create_configuration_set(
        world.core, caller, new("cs", suppressed_reasons=frozenset({"COMPLAINT"}))
    )
    message_id = await _send(world, caller, "cs", "gone@example.org", "angry@example.org")
    [job] = world.memory.jobs.values()
    loaded = world.core.repos.messages.load_record(world.memory, message_id)
    assert loaded is not None
    record, envelope_from = loaded
    assert record.suppressed_reasons == frozenset({"COMPLAINT"})
    outcomes = [classify("gone@example.org", 550, "5.1.1", "user unknown"),
                Outcome("angry@example.org", "complained", 250, "2.0.0", "ok")]  # fmt: skip
    attempt = Attempt(job, record, envelope_from, outcomes, world.clock.now(), False)
    await world.uow.write_batched(world.core.record_outcomes, attempt)
    found = {a: e["reason"] for (_, a), e in world.memory.suppressed.items()}
    assert found == {"angry@example.org": "COMPLAINT"}  # the bounce is not listed


async def test_events_show_the_automatic_tags_and_who_sent() -> None:
    world = fake_core()
    caller = dataclasses.replace(await _sender(world), source_ip="203.0.113.9")
    await use_cases.create_configuration_set(world.core, caller, new("cs"))
    message_id = await _send(world, caller, "cs")
    loaded = world.core.repos.messages.load_record(world.memory, message_id)
    assert loaded is not None
    mail_json = event_json(loaded[0], world.memory.events_of(message_id)[0])["mail"]
    assert mail_json["tags"] == {
        "ses:operation": ["SendEmail"], "ses:source-ip": ["203.0.113.9"],
        "ses:from-domain": ["example.com"], "ses:caller-identity": ["AKIATEST"],
        "ses:configuration-set": ["cs"],
    }  # fmt: skip
    assert (mail_json["sourceIp"], mail_json["callerIdentity"]) == ("203.0.113.9", "AKIATEST")
