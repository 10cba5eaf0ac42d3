"""v2 Simple content's attachments (`wire/attachments.py`): every encoding gives back the
exact bytes through the `email` package, names and descriptions are encoded, never
trusted, and long non-ASCII names are continued (RFC 2231 section 3)."""

from __future__ import annotations

import email
import email.policy
import os
from email.message import EmailMessage

import pytest

from postroom.errors import InvalidParameterValue
from postroom.wire.addresses import parse_address
from postroom.wire.attachments import Attachment
from postroom.wire.mime import MAX_LINE, Content, build_simple_message


def build(*attachments: Attachment, html: Content | None = None) -> EmailMessage:
    raw = build_simple_message(
        source=parse_address("a@example.com"), to=[parse_address("b@example.com")], cc=[],
        reply_to=[], subject=Content("s"), text=Content("body"), html=html,
        message_id="0100abc", mail_domain="email.amazonses.com", date=0,
        attachments=attachments,
    )  # fmt: skip
    assert raw.isascii()
    assert max(len(line) for line in raw.split(b"\r\n")) <= MAX_LINE
    message = email.message_from_bytes(raw, policy=email.policy.default)
    assert isinstance(message, EmailMessage)
    return message


def parts(message: EmailMessage) -> list[EmailMessage]:
    return [p for p in message.walk() if p.get_content_disposition() in ("attachment", "inline")]


@pytest.mark.parametrize("encoding", ["BASE64", "QUOTED_PRINTABLE"])
def test_binary_content_comes_back_exactly(encoding: str) -> None:
    data = bytes(range(256)) + b"\r\n \t\r\r\n" + os.urandom(2000) + b"trailing \n"
    message = build(Attachment(data, "blob.bin", transfer_encoding=encoding))
    (part,) = parts(message)
    assert part.get_payload(decode=True) == data


def test_seven_bit_content_is_kept_and_anything_else_refused() -> None:
    (part,) = parts(build(Attachment(b"a,b\r\n1,2\r\n", "t.csv", transfer_encoding="SEVEN_BIT")))
    assert part["Content-Transfer-Encoding"] == "7bit"
    assert part.get_payload(decode=True) == b"a,b\r\n1,2\r\n"
    for bad in (b"caf\xc3\xa9", b"a\x00b", b"bare\nlf", b"x" * 999):
        with pytest.raises(InvalidParameterValue, match="not 7bit"):
            build(Attachment(bad, "t.txt", transfer_encoding="SEVEN_BIT"))


def test_inline_part_with_content_id_after_the_alternative_body() -> None:
    logo = Attachment(b"\x89PNG", "logo.png", disposition="INLINE", content_id="logo@x")
    message = build(logo, html=Content('<img src="cid:logo@x">'))
    assert message.get_content_type() == "multipart/mixed"
    first, part = message.get_payload()
    assert first.get_content_type() == "multipart/alternative"
    assert (part["Content-ID"], part.get_content_type()) == ("<logo@x>", "image/png")
    assert part.get_content_disposition() == "inline"


def test_names_and_descriptions_are_encoded() -> None:
    long_name = "연간 보고서 " * 20 + ".pdf"
    message = build(
        Attachment(b"1", 'a"; filename="evil.pdf', description="설명"),
        Attachment(b"2", long_name),
    )
    quoted, continued = parts(message)
    assert quoted.get_filename() == 'a"; filename="evil.pdf'
    assert str(quoted["Content-Description"]) == "설명"
    assert continued.get_filename() == long_name


@pytest.mark.parametrize("attachment", [
    Attachment(b"", "a\r\nb.txt"),
    Attachment(b"", ""),
    Attachment(b"", "x" * 256),
    Attachment(b"", "a.txt", content_type="text/plain\nX: y"),
    Attachment(b"", "a.txt", content_type="nonsense"),
    Attachment(b"", "a.txt", content_id="a b"),
    Attachment(b"", "a.txt", description="a\rb"),
    Attachment(b"", "a.txt", transfer_encoding="8BIT"),
    Attachment(b"", "a.txt", disposition="FORM-DATA"),
])  # fmt: skip
def test_unsafe_fields_are_refused(attachment: Attachment) -> None:
    with pytest.raises(InvalidParameterValue):
        build(attachment)
