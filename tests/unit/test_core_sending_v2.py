"""The core's sending rules for SES v2 SendEmail content against the fakes: the 40 MB
limit, FeedbackForwardingEmailAddress as the verified envelope sender of Raw content,
attachments and custom headers in Simple content."""

from __future__ import annotations

import base64
import dataclasses

import pytest
from core_helpers import fake_core, mail, tenant

from postroom.domain.requests import SendRawEmail
from postroom.domain.use_cases import sending
from postroom.errors import InvalidParameterValue, MessageRejected
from postroom.wire.attachments import Attachment
from postroom.wire.mime import MAX_MESSAGE_SIZE, MAX_MESSAGE_SIZE_V2

RAW = b"From: app@example.com\r\nTo: success@simulator.amazonses.com\r\nSubject: s\r\n\r\n"


def raw_of(size: int) -> bytes:
    """A raw message whose base64 form is exactly `size` bytes (size a multiple of 4)."""
    body_len = size // 4 * 3 - len(RAW)
    return RAW + b"x" * body_len


async def test_v2_raw_content_gets_40_mb_and_v1_keeps_10_mb() -> None:
    world = fake_core()
    caller = tenant(world, "acme", "example.com")
    world.core.repos.accounts.set_production(world.memory, caller.account_id, None, 1000, 1000)
    data = raw_of(MAX_MESSAGE_SIZE + 4)
    assert len(base64.b64encode(data)) == MAX_MESSAGE_SIZE + 4
    with pytest.raises(InvalidParameterValue, match=f"more than {MAX_MESSAGE_SIZE} bytes"):
        await sending.send_raw_email(world.core, caller, SendRawEmail(data=data))
    v2 = SendRawEmail(data=data, operation="SendEmail", max_size=MAX_MESSAGE_SIZE_V2)
    assert await sending.send_raw_email(world.core, caller, v2)
    too_big = SendRawEmail(data=raw_of(MAX_MESSAGE_SIZE_V2 + 4), max_size=MAX_MESSAGE_SIZE_V2)
    with pytest.raises(InvalidParameterValue, match=f"more than {MAX_MESSAGE_SIZE_V2} bytes"):
        await sending.send_raw_email(world.core, caller, too_big)


async def test_feedback_forwarding_address_is_the_verified_envelope_sender_of_raw() -> None:
    world = fake_core()
    caller = tenant(world, "acme", "example.com")
    with pytest.raises(MessageRejected, match="bounces@elsewhere.org"):
        await sending.send_raw_email(
            world.core, caller, SendRawEmail(data=RAW, return_path="bounces@elsewhere.org")
        )
    request = SendRawEmail(data=RAW, return_path="bounces@example.com", operation="SendEmail")
    message_id = await sending.send_raw_email(world.core, caller, request)
    stored = world.memory.messages[message_id]
    assert stored.envelope_from == "bounces@example.com"


async def test_simple_content_carries_attachments_and_headers() -> None:
    world = fake_core()
    caller = tenant(world, "acme", "example.com")
    request = dataclasses.replace(
        mail(), headers=[("X-Campaign", "c1")], attachments=[Attachment(b"\x00\x01", "a.bin")]
    )
    message_id = await sending.send_email(world.core, caller, request)
    raw = world.memory.messages[message_id].raw
    assert b"X-Campaign: c1\r\n" in raw
    assert b"multipart/mixed" in raw and b'filename="a.bin"' in raw
