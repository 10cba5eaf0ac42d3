"""Raw mail is normalised once, before it is stored (issue 8, item 1).

What is stored, DKIM-signed and sent must be the same bytes: after normalisation the SMTP
client's own line-ending rule (aiosmtplib's `normalize_message_line_endings`, RFC 5321
2.3.8) must change nothing, and no bare CR or NUL may hide a header line inside another.
"""

from __future__ import annotations

import re
from email.message import EmailMessage

import pytest
from aiosmtplib.protocol import normalize_message_line_endings

from postroom.errors import InvalidParameterValue
from postroom.wire.raw_mime import PreparedRaw, prepare_raw_message

SMUGGLER = (
    b"From: app@example.com\r\n"
    b"To: b@example.com\r\n"
    b"X-Note: a\rFrom: ceo@bank.example\rBcc: hidden@evil.example\r\n"
    b"Subject: hi\r\n\r\nbody\r\n"
)


def prepare(raw: bytes) -> PreparedRaw:
    return prepare_raw_message(raw, message_id="m-1", mail_domain="email.amazonses.com",
                               date=1_704_067_200.0)  # fmt: skip


def refusal(raw: bytes) -> str:
    with pytest.raises(InvalidParameterValue) as caught:
        prepare(raw)
    return caught.value.message


@pytest.mark.parametrize(
    ("raw", "header"),
    [
        (SMUGGLER, "X-Note"),
        (b"From: a@example.com\r\nSubject: hi\rX-SES-CONFIGURATION-SET: x\r\n\r\nb", "Subject"),
        (b"From: a@example.com\r\nSubject: hi\r\n there\rBcc: e@evil.example\r\n\r\nb", "Subject"),
        (b"From: a@example.com\nX-Note: a\rBcc: e@evil.example\n\nbody\n", "X-Note"),
        (b"From: a@example.com\r\nX-Note: a\r\r\n\r\nbody", "X-Note"),
        (b"From: a@example.com\rBcc: e@evil.example\r\n\r\nbody", "From"),
        (b"From: a@example.com\r\nX-Note: a\x00b\r\n\r\nbody", "X-Note"),
        (b"From: a@example.com\r\nX-Note: a\r\n \x00b\r\n\r\nbody", "X-Note"),
    ],
)
def test_bare_cr_or_nul_in_the_header_section_is_refused_naming_the_header(
    raw: bytes, header: str
) -> None:
    assert f"'{header}'" in refusal(raw)


@pytest.mark.parametrize(
    "name",
    ["From", "Sender", "Return-Path", "X-SES-CONFIGURATION-SET", "X-SES-MESSAGE-TAGS",
     "X-SES-SOURCE-ARN", "X-SES-FROM-ARN", "X-SES-RETURN-PATH-ARN", "X-SES-Anything"],
)  # fmt: skip
def test_sender_and_ses_control_headers_cannot_appear_twice(name: str) -> None:
    value = {"X-SES-MESSAGE-TAGS": "a=b"}.get(name, "a@example.com")
    if name.startswith("X-SES-") and name.endswith("ARN"):
        value = "arn:aws:ses:us-east-1:123456789012:identity/example.com"
    raw = (f"From: a@example.com\r\n{name}: {value}\r\n{name.lower()}: {value}\r\n"
           "To: b@example.com\r\n\r\nbody\r\n").encode()  # fmt: skip
    if name == "From":
        raw = raw.replace(b"From: a@example.com\r\n", b"", 1)
    assert refusal(raw) == f"Duplicate header '{name.lower()}'."


def _smtp_safe(data: bytes) -> None:
    """What the SMTP client would send (before dot-stuffing) is `data` itself."""
    assert normalize_message_line_endings(data) == data
    assert not re.search(rb"\r(?!\n)|(?<!\r)\n", data)


@pytest.mark.parametrize(
    "raw",
    [
        b"From: a@example.com\nTo: b@example.com\nSubject: x\n\nline 1\nline 2\n",
        b"From: a@example.com\r\nTo: b@example.com\r\n\r\nline 1\rline 2\r\n",
        b"From: a@example.com\r\nTo: b@example.com\n\r\nmixed\r\nends\nhere\r",
        b"From: a@example.com\r\nTo: b@example.com\r\n\r\nno final line break",
        b"From: a@example.com\r\nTo: b@example.com",
        b"From: a@example.com\r\nTo: b@example.com\r\nforgot the separator\rline\n",
    ],
)
def test_what_is_stored_is_what_the_smtp_client_sends(raw: bytes) -> None:
    data = prepare(raw).data
    _smtp_safe(data)
    assert prepare(data).data == data  # a second pass changes nothing


def test_bare_cr_in_the_body_becomes_crlf() -> None:
    data = prepare(b"From: a@example.com\r\nTo: b@example.com\r\n\r\none\rtwo\r\n").data
    assert data.endswith(b"\r\n\r\none\r\ntwo\r\n")


def test_email_package_output_with_bare_lf_is_accepted() -> None:
    msg = EmailMessage()
    msg["From"] = "App <app@example.com>"
    msg["To"] = "b@example.com"
    msg["Subject"] = "Hello"
    msg.set_content("line 1\nline 2\n")
    prepared = prepare(msg.as_string().encode())
    _smtp_safe(prepared.data)
    assert [a.addr_spec for a in prepared.recipients] == ["b@example.com"]
    assert prepared.data.endswith(b"\r\n\r\nline 1\r\nline 2\r\n")


def test_the_normaliser_is_one_function_smtp_submission_can_reuse() -> None:
    from postroom.wire.normalise import normalise_message

    message = normalise_message(b"From: a@example.com\nSubject: s\n folded\n\nbody\rmore")
    assert [f.name for f in message.fields] == ["From", "Subject"]
    assert message.fields[1].value == "s folded"
    assert message.data == b"From: a@example.com\r\nSubject: s\r\n folded\r\n\r\nbody\r\nmore\r\n"
    assert normalise_message(message.data) == message
    with pytest.raises(InvalidParameterValue, match="'X-Note'"):
        normalise_message(b"X-Note: a\rBcc: e@evil.example\r\n\r\n")
