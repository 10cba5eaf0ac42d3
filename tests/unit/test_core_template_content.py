"""SES v2 Template content's `Headers` and `Attachments` and SendBulkEmail's per-entry
`ReplacementHeaders`, against the fakes: the merge rule (SES API reference,
BulkEmailEntry.ReplacementHeaders), the same header and attachment rules as Simple
content, and where a bad one fails a bulk call (the defaults) or only its entry."""

from __future__ import annotations

import dataclasses
import email
import email.policy
from email.message import EmailMessage
from typing import Any

import pytest
from core_helpers import fake_core, tenant

from postroom.domain import template_sending as ts
from postroom.domain.callers import Caller
from postroom.domain.templates import EmailTemplate
from postroom.domain.use_cases import templates
from postroom.errors import InvalidParameterValue
from postroom.testing.fakes import FakeWorld
from postroom.wire.attachments import Attachment
from postroom.wire.mime import MAX_MESSAGE_SIZE, MAX_MESSAGE_SIZE_V2

GREETING = EmailTemplate("greeting", "Hi {{name}}", "Dear {{name}}", None)
PDF = Attachment(b"%PDF-1.4\x00\xff", "report.pdf", content_type="application/pdf")


def test_replacement_headers_replace_by_name_in_place_and_add_the_rest() -> None:
    defaults = [("X-Campaign", "spring"), ("List-Unsubscribe", "<mailto:a@x.example>"),
                ("X-Team", "growth")]  # fmt: skip
    merged = ts.merged_headers(defaults, [("x-team", "sales"), ("X-Entry", "7")])
    assert merged == [("X-Campaign", "spring"), ("List-Unsubscribe", "<mailto:a@x.example>"),
                      ("x-team", "sales"), ("X-Entry", "7")]  # fmt: skip
    assert ts.merged_headers(defaults, []) == defaults
    assert ts.merged_headers([], [("X-Entry", "7")]) == [("X-Entry", "7")]
    # a repeated name: all of the template's go, all of the entry's come, once
    repeated = [("X-Tag", "a"), ("X-Other", "o"), ("X-Tag", "b")]
    assert ts.merged_headers(repeated, [("X-Tag", "c"), ("X-Tag", "d")]) == [
        ("X-Tag", "c"), ("X-Tag", "d"), ("X-Other", "o")]  # fmt: skip


async def _world() -> tuple[FakeWorld, Caller]:
    world = fake_core()
    acme = tenant(world, "acme", "example.com")
    world.core.repos.accounts.set_production(world.memory, acme.account_id, None, None, 100)
    await templates.create_template(world.core, acme, GREETING)
    return world, acme


def _parsed(world: FakeWorld, message_id: str) -> EmailMessage:
    raw = world.memory.messages[message_id].raw
    parsed = email.message_from_bytes(raw, policy=email.policy.default)
    assert isinstance(parsed, EmailMessage)
    return parsed


def _single(**extra: Any) -> ts.SendTemplated:
    request = ts.SendTemplated(
        source="app@example.com", destination=ts.Recipients(to=["ann@example.com"]),
        template=ts.TemplateRef(name="greeting"), data='{"name": "Ann"}',
    )  # fmt: skip
    return dataclasses.replace(request, **extra)


async def test_template_send_carries_headers_and_attachments_through_simple_builder() -> None:
    world, acme = await _world()
    request = _single(headers=[("X-Campaign", "c1")], attachments=[PDF])
    message = _parsed(world, await templates.send_templated_email(world.core, acme, request))
    assert message["X-Campaign"] == "c1"
    assert message["Subject"] == "Hi Ann"
    assert message.get_content_type() == "multipart/mixed"
    (part,) = list(message.iter_attachments())
    assert (part.get_filename(), part.get_content_type()) == ("report.pdf", "application/pdf")
    assert part.get_content() == PDF.data


@pytest.mark.parametrize("header", [("From", "ceo@example.com"), ("X-SES-Anything", "x"),
                                    ("X-Note", "a\r\nBcc: v@x.example")])  # fmt: skip
async def test_template_headers_follow_simple_contents_rules(header: tuple[str, str]) -> None:
    world, acme = await _world()
    with pytest.raises(InvalidParameterValue):
        await templates.send_templated_email(world.core, acme, _single(headers=[header]))
    bad = Attachment(b"x", "a.txt\r\nBcc: v@x.example")
    with pytest.raises(InvalidParameterValue, match="file name"):
        await templates.send_templated_email(world.core, acme, _single(attachments=[bad]))
    assert world.memory.messages == {}


async def test_v2_template_sends_get_the_40_mb_limit() -> None:
    world, acme = await _world()
    big = Attachment(b"x" * (MAX_MESSAGE_SIZE // 4 * 3 + 1000), "big.bin")
    with pytest.raises(InvalidParameterValue, match=f"more than {MAX_MESSAGE_SIZE} bytes"):
        await templates.send_templated_email(world.core, acme, _single(attachments=[big]))
    v2 = _single(attachments=[big], max_size=MAX_MESSAGE_SIZE_V2)
    assert await templates.send_templated_email(world.core, acme, v2)


def _bulk(*entries: ts.BulkDestination, **extra: Any) -> ts.SendBulkTemplated:
    request = ts.SendBulkTemplated(
        source="app@example.com", template=ts.TemplateRef(name="greeting"),
        default_data='{"name": "you"}', destinations=list(entries), operation="SendBulkEmail",
    )  # fmt: skip
    return dataclasses.replace(request, **extra)


def _to(address: str, *headers: tuple[str, str]) -> ts.BulkDestination:
    return ts.BulkDestination(ts.Recipients(to=[address]), headers=list(headers))


async def test_bulk_entries_merge_replacement_headers_and_share_attachments() -> None:
    world, acme = await _world()
    request = _bulk(
        _to("ann@example.com", ("List-Unsubscribe", "<https://x.example/u/ann>")),
        _to("bob@example.com"),
        default_headers=[("List-Unsubscribe", "<https://x.example/u>"), ("X-Campaign", "c1")],
        attachments=[PDF],
    )
    ann, bob = await templates.send_bulk_templated_email(world.core, acme, request)
    assert isinstance(ann, str) and isinstance(bob, str)
    for message_id, unsubscribe in ((ann, "<https://x.example/u/ann>"),
                                    (bob, "<https://x.example/u>")):  # fmt: skip
        message = _parsed(world, message_id)
        assert message.get_all("List-Unsubscribe") == [unsubscribe]
        assert message["X-Campaign"] == "c1"
        assert [p.get_content() for p in message.iter_attachments()] == [PDF.data]


async def test_bad_defaults_fail_the_bulk_call_a_bad_replacement_only_its_entry() -> None:
    world, acme = await _world()
    entries = (_to("ann@example.com"), _to("bob@example.com", ("Reply-To", "x@y.example")))
    ann, bob = await templates.send_bulk_templated_email(world.core, acme, _bulk(*entries))
    assert isinstance(ann, str)
    assert isinstance(bob, InvalidParameterValue) and "Reply-To" in bob.message
    for bad in ({"default_headers": [("Subject", "x")]},
                {"attachments": [Attachment(b"\xff", "a.txt", transfer_encoding="SEVEN_BIT")]}):
        with pytest.raises(InvalidParameterValue):
            await templates.send_bulk_templated_email(world.core, acme, _bulk(*entries, **bad))
    assert list(world.memory.messages) == [ann]
