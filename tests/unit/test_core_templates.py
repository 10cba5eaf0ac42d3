"""The core's template rules against the fakes: one state per account and region, the
template limit, listing pages, test rendering, and templated sends (a missing template or
bad data fails the call; a rendering problem is admitted, charged, never delivered)."""

from __future__ import annotations

import dataclasses

import pytest
from core_helpers import REGION, fake_core, tenant

from postroom.domain import template_sending as ts
from postroom.domain.callers import Caller
from postroom.domain.requests import Tag
from postroom.domain.templates import EmailTemplate
from postroom.domain.use_cases import templates
from postroom.errors import (
    AccessDenied,
    ClientError,
    InvalidParameterValue,
    InvalidTemplate,
    MessageRejected,
    MissingRenderingAttribute,
)

GREETING = EmailTemplate("greeting", "Hi {{name}}", "Dear {{name}}", None)


def send(data: str | None, to: str = "ann@example.com", name: str = "greeting") -> ts.SendTemplated:
    return ts.SendTemplated(source="app@example.com", destination=ts.Recipients(to=[to]),
                            template=ts.TemplateRef(name=name), data=data)  # fmt: skip


async def test_crud_per_account_and_region() -> None:
    world = fake_core()
    acme, other = tenant(world, "acme"), tenant(world, "other")
    await templates.create_template(world.core, acme, GREETING)
    with pytest.raises(ClientError, match="Template greeting already exists.") as dup:
        await templates.create_template(world.core, acme, GREETING)
    assert dup.value.code == "AlreadyExists"
    await templates.create_template(world.core, other, GREETING)  # names are per account
    elsewhere = dataclasses.replace(acme, region="eu-west-1")
    with pytest.raises(ClientError, match="Template greeting does not exist."):
        await templates.get_template(world.core, elsewhere, "greeting")

    changed = dataclasses.replace(GREETING, text="Changed")
    await templates.update_template(world.core, acme, changed)
    assert (await templates.get_template(world.core, acme, "greeting")).template == changed
    assert (await templates.get_template(world.core, other, "greeting")).template == GREETING
    assert await templates.delete_template(world.core, acme, "greeting")
    assert not await templates.delete_template(world.core, acme, "greeting")
    with pytest.raises(ClientError) as missing:
        await templates.update_template(world.core, acme, changed)
    assert missing.value.code == "TemplateDoesNotExist"


async def test_invalid_templates_and_the_account_limit(monkeypatch: pytest.MonkeyPatch) -> None:
    world = fake_core()
    acme = tenant(world)
    with pytest.raises(InvalidTemplate):
        await templates.create_template(world.core, acme, EmailTemplate("t", None, "{{#if", None))
    with pytest.raises(InvalidParameterValue):
        await templates.create_template(world.core, acme, EmailTemplate("a\tb", None, "x", None))
    monkeypatch.setattr(templates, "MAX_TEMPLATES", 2)
    for name in ("a", "b"):
        await templates.create_template(world.core, acme, EmailTemplate(name, None, "x", None))
    with pytest.raises(ClientError) as limit:
        await templates.create_template(world.core, acme, EmailTemplate("c", None, "x", None))
    assert limit.value.code == "LimitExceeded"


async def test_list_pages_by_name_and_refuses_forged_tokens() -> None:
    world = fake_core()
    acme = tenant(world)
    for name in ("c", "a", "b"):
        await templates.create_template(world.core, acme, EmailTemplate(name, None, "x", None))
    first = await templates.list_templates(world.core, acme, 2, None)
    assert [n for n, _ in first.templates] == ["a", "b"] and first.next_token
    rest = await templates.list_templates(world.core, acme, 2, first.next_token)
    assert ([n for n, _ in rest.templates], rest.next_token) == (["c"], None)
    assert len((await templates.list_templates(world.core, acme, 500, None)).templates) == 3
    for token in ("!!!", "Li4v", "AAEC"):  # not base64, "../", control characters
        with pytest.raises(InvalidParameterValue, match="Invalid NextToken"):
            await templates.list_templates(world.core, acme, None, token)


async def test_test_render_gives_a_mime_message_and_ses_errors() -> None:
    world = fake_core()
    acme = tenant(world)
    await templates.create_template(world.core, acme, GREETING)
    rendered = await templates.test_render_template(world.core, acme, "greeting", '{"name":"A"}')
    assert "Subject: Hi A\r\n" in rendered and rendered.endswith("\r\n\r\nDear A\r\n")
    assert not rendered.startswith("From:")
    with pytest.raises(MissingRenderingAttribute):
        await templates.test_render_template(world.core, acme, "greeting", "{}")
    with pytest.raises(ClientError) as bad:
        await templates.test_render_template(world.core, acme, "greeting", "[]")
    assert bad.value.code == "InvalidRenderingParameter"


async def test_rendering_failure_is_admitted_charged_and_never_queued() -> None:
    world = fake_core()
    acme = tenant(world, "acme", "example.com")
    await templates.create_template(world.core, acme, GREETING)
    message_id = await templates.send_templated_email(world.core, acme, send("{}"))
    [event] = world.memory.events_of(message_id)
    assert event.event_type == "Rendering Failure"
    assert event.detail == {
        "errorMessage": "Attribute 'name' is not present in the rendering data.",
        "templateName": "greeting"}  # fmt: skip
    assert world.memory.jobs == {}
    usage = world.core.repos.usage
    assert usage.sent_last_24h(world.memory, acme.account_id, REGION, world.clock.now()) == 1


async def test_send_time_errors_fail_the_call_and_leave_nothing() -> None:
    world = fake_core()
    acme = tenant(world, "acme", "example.com")
    await templates.create_template(world.core, acme, GREETING)
    with pytest.raises(ClientError) as missing:
        await templates.send_templated_email(world.core, acme, send("{}", name="nope"))
    assert missing.value.code == "TemplateDoesNotExist"
    for data in (None, "[]", "nope", '"x"'):
        with pytest.raises(InvalidParameterValue):
            await templates.send_templated_email(world.core, acme, send(data))
    with pytest.raises(MessageRejected):  # the sandbox applies as to any send
        await templates.send_templated_email(world.core, acme, send('{"name": "A"}', "x@y.org"))
    assert world.memory.messages == {}


async def test_template_arns_name_only_the_callers_own_templates() -> None:
    world = fake_core()
    acme = tenant(world, "acme", "example.com")
    await templates.create_template(world.core, acme, GREETING)
    own = f"arn:aws:ses:us-east-1:{acme.account_id}:template/greeting"
    request = dataclasses.replace(send('{"name": "A"}'), template=ts.TemplateRef(arn=own))
    assert await templates.send_templated_email(world.core, acme, request)
    for arn in (own.replace(acme.account_id, "999999999999"), own.replace("us-east-1", "eu")):
        foreign = dataclasses.replace(request, template=ts.TemplateRef(arn=arn))
        with pytest.raises(ClientError) as hidden:
            await templates.send_templated_email(world.core, acme, foreign)
        assert hidden.value.code == "TemplateDoesNotExist"


async def test_bulk_merges_data_and_tags_per_destination() -> None:
    world = fake_core()
    acme = tenant(world, "acme", "example.com")
    world.core.repos.accounts.set_production(world.memory, acme.account_id, None, None, 100)
    await templates.create_template(world.core, acme, GREETING)
    request = ts.SendBulkTemplated(
        source="app@example.com", template=ts.TemplateRef(name="greeting"),
        default_data='{"name": "you"}', default_tags=[Tag("a", "1"), Tag("b", "1")],
        destinations=[
            ts.BulkDestination(ts.Recipients(to=["ann@example.com"]), '{"name": "Ann"}',
                               [Tag("b", "2")]),
            ts.BulkDestination(ts.Recipients(to=["bob@example.com"])),
            ts.BulkDestination(ts.Recipients(to=["not an address"])),
        ],
    )  # fmt: skip
    ann, bob, eve = await templates.send_bulk_templated_email(world.core, acme, request)
    assert isinstance(ann, str) and isinstance(bob, str)
    assert isinstance(eve, InvalidParameterValue)
    messages = world.memory.messages
    assert (messages[ann].subject, messages[bob].subject) == ("Hi Ann", "Hi you")
    assert (messages[ann].tags["a"], messages[ann].tags["b"]) == (["1"], ["2"])
    too_many = dataclasses.replace(request, destinations=request.destinations[:1] * 51)
    with pytest.raises(InvalidParameterValue):
        await templates.send_bulk_templated_email(world.core, acme, too_many)


async def test_every_template_use_case_asks_authorize_first() -> None:
    world = fake_core()
    acme = tenant(world)
    limited = Caller(acme.account_id, acme.region, permissions=frozenset())
    with pytest.raises(AccessDenied):
        await templates.create_template(world.core, limited, GREETING)
    with pytest.raises(AccessDenied):
        await templates.list_templates(world.core, limited, None, None)
    with pytest.raises(AccessDenied):
        await templates.send_templated_email(world.core, limited, send("{}"))


async def test_tags_are_kept_with_the_template_and_go_with_it() -> None:
    world = fake_core()
    acme = tenant(world)
    await templates.create_template(world.core, acme, GREETING, [("team", "growth")])
    assert (await templates.get_template(world.core, acme, "greeting")).tags == {"team": "growth"}
    with pytest.raises(InvalidParameterValue):
        await templates.create_template(
            world.core, acme, dataclasses.replace(GREETING, name="other"), [("aws:x", "1")]
        )
    assert world.memory.templates.keys() == {(acme.account_id, acme.region, "greeting")}
    await templates.delete_template(world.core, acme, "greeting")
    await templates.create_template(world.core, acme, GREETING)
    assert (await templates.get_template(world.core, acme, "greeting")).tags == {}
