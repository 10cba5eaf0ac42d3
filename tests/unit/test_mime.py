"""MIME building (SendEmail) and raw rewriting (SendRawEmail) as SES does (ses-spec.md 4.2)."""

from __future__ import annotations

import email.policy
from email.message import EmailMessage
from email.parser import BytesParser
from typing import Any, cast

import pytest

from postroom.errors import InvalidParameterValue
from postroom.wire.addresses import Address, parse_address
from postroom.wire.mime import (
    Content,
    build_simple_message,
    check_message_size,
    fold,
    resolve_charset,
)
from postroom.wire.raw_mime import (
    PreparedRaw,
    prepare_raw_message,
    require_from,
    require_recipients,
    subject_of,
    summarize,
)

MESSAGE_ID = "0100018c5e1c4a11-2f7a1b0e-9c3d-4e5f-8a6b-1c2d3e4f5a6b-000000"
DOMAIN = "email.amazonses.com"
DATE = 1704067200.0  # 2024-01-01T00:00:00Z
KOREAN_SUBJECT = (
    "안녕하세요, 이번 주 회의 일정 안내드립니다. 참석 여부를 회신해 주세요. 감사합니다!"
)
KOREAN_BODY = "김철수 님께,\n\n이번 주 회의는 목요일 오후 3시입니다.\n감사합니다."


def addr(text: str) -> Address:
    return parse_address(text)


def build(**overrides: Any) -> bytes:
    args: dict[str, Any] = {
        "source": addr("Sender <sender@example.com>"),
        "to": [addr("to@example.com")],
        "cc": [],
        "reply_to": [],
        "subject": Content("Hello"),
        "text": Content("Hi there"),
        "html": None,
        "message_id": MESSAGE_ID,
        "mail_domain": DOMAIN,
        "date": DATE,
    }
    args.update(overrides)
    return build_simple_message(**args)


def parse(data: bytes) -> EmailMessage:
    return cast(EmailMessage, BytesParser(policy=email.policy.default).parsebytes(data))


def header_names(data: bytes) -> list[str]:
    head = data.split(b"\r\n\r\n", 1)[0].decode("ascii")
    return [line.split(":", 1)[0].lower() for line in head.split("\r\n") if line[:1] not in " \t"]


def body_text(part: EmailMessage) -> str:
    return cast(str, part.get_content()).replace("\r\n", "\n").rstrip("\n")


def assert_wire_safe(data: bytes) -> None:
    """CRLF only, lines <= 998 octets (RFC 5322 2.1.1, RFC 5321 4.5.3.1.6), 7-bit."""
    assert data.count(b"\n") == data.count(b"\r\n")
    assert b"\r" not in data.replace(b"\r\n", b"")
    assert max(len(line) for line in data.split(b"\r\n")) <= 998
    assert data.isascii()


# --- SendEmail ----------------------------------------------------------------------------


def test_korean_subject_and_body_round_trip() -> None:
    data = build(subject=Content(KOREAN_SUBJECT, "UTF-8"), text=Content(KOREAN_BODY, "UTF-8"))
    assert_wire_safe(data)
    msg = parse(data)
    assert msg["Subject"] == KOREAN_SUBJECT
    assert body_text(msg) == KOREAN_BODY
    assert msg.get_content_type() == "text/plain"
    assert msg.get_content_charset() == "utf-8"


def test_headers_match_ses() -> None:
    data = build(
        to=[addr("a@example.com"), addr("B <b@example.com>")],
        cc=[addr("c@example.com")],
        reply_to=[addr('"Doe, John" <r@example.com>'), addr("r2@example.com")],
    )
    msg = parse(data)
    assert msg["From"] == "Sender <sender@example.com>"
    assert [a.addr_spec for a in msg["To"].addresses] == ["a@example.com", "b@example.com"]
    assert [a.addr_spec for a in msg["Cc"].addresses] == ["c@example.com"]
    assert [a.display_name for a in msg["Reply-To"].addresses] == ["Doe, John", ""]
    assert msg["Message-ID"] == f"<{MESSAGE_ID}@{DOMAIN}>"
    assert msg["Date"] == "Mon, 01 Jan 2024 00:00:00 +0000"
    assert msg["MIME-Version"] == "1.0"
    assert "bcc" not in header_names(data)


def test_no_cc_no_reply_to_headers_when_empty() -> None:
    names = header_names(build())
    assert "cc" not in names and "reply-to" not in names and "bcc" not in names


def test_text_only_and_html_only() -> None:
    assert parse(build(text=Content("t"), html=None)).get_content_type() == "text/plain"
    html = parse(build(text=None, html=Content("<b>h</b>")))
    assert html.get_content_type() == "text/html"
    assert body_text(html) == "<b>h</b>"


def test_both_bodies_make_multipart_alternative_text_first() -> None:
    data = build(text=Content(KOREAN_BODY), html=Content(f"<p>{KOREAN_BODY}</p>"))
    assert_wire_safe(data)
    msg = parse(data)
    assert msg.get_content_type() == "multipart/alternative"
    parts = list(msg.iter_parts())
    assert [p.get_content_type() for p in parts] == ["text/plain", "text/html"]
    assert body_text(cast(EmailMessage, parts[0])) == KOREAN_BODY
    assert body_text(cast(EmailMessage, parts[1])) == f"<p>{KOREAN_BODY}</p>"
    assert all("MIME-Version" not in p for p in parts)


def test_idn_sender_and_rfc2047_names() -> None:
    data = build(
        source=addr("김철수 <kim@도메인.한국>"),
        to=[addr("=?utf-8?B?7ZWc6rWt7Ja0?= <to@example.com>")],
    )
    assert_wire_safe(data)
    msg = parse(data)
    (sender,) = msg["From"].addresses
    assert (sender.display_name, sender.domain) == ("김철수", "xn--hq1bm8jm9l.xn--3e0b707e")
    assert msg["To"].addresses[0].display_name == "한국어"


@pytest.mark.parametrize(
    ("charset", "text"),
    [
        ("ISO-8859-1", "Grüße aus Köln, café"),
        ("Shift_JIS", "こんにちは、世界"),
        ("EUC-KR", KOREAN_BODY),
        ("utf-16", KOREAN_BODY),
        ("US-ASCII", "plain"),
    ],
)
def test_charsets_are_honoured(charset: str, text: str) -> None:
    data = build(subject=Content(text, charset), text=Content(text, charset))
    assert_wire_safe(data)
    msg = parse(data)
    assert (msg.get_content_charset() or "").lower() == charset.lower()
    assert body_text(msg) == text
    assert msg["Subject"] == text.replace("\n", " ")
    if charset != "US-ASCII":
        assert f"=?{charset}?B?" in data.decode("ascii")


@pytest.mark.parametrize("charset", ["klingon", "base64", "idna", "utf-8\r\nBcc: x@example.com"])
def test_unknown_charsets_are_refused(charset: str) -> None:
    with pytest.raises(InvalidParameterValue, match="Unsupported charset"):
        build(text=Content("x", charset))
    with pytest.raises(InvalidParameterValue, match="Unsupported charset"):
        build(subject=Content("x", charset))


def test_text_the_charset_cannot_hold_is_refused() -> None:
    with pytest.raises(InvalidParameterValue, match="cannot be encoded in charset ISO-8859-1"):
        build(text=Content("한국어", "ISO-8859-1"))


def test_resolve_charset_returns_the_label_as_given() -> None:
    assert resolve_charset("Shift_JIS") == "Shift_JIS"


@pytest.mark.parametrize(
    "subject",
    [
        "Hello\r\nBcc: evil@example.com",
        "Hello\nBcc: evil@example.com",
        "Hello\rBcc: evil@example.com",
        "안녕\r\nBcc: evil@example.com",
        "Hello\r\n\r\nbody injection",
        "Hi\x00there\x0b",
    ],
)
def test_subject_injection_gives_a_harmless_value(subject: str) -> None:
    data = build(subject=Content(subject))
    assert_wire_safe(data)
    assert header_names(data) == [
        "from",
        "to",
        "subject",
        "message-id",
        "date",
        "mime-version",
        "content-type",
        "content-transfer-encoding",
    ]
    decoded = parse(data)["Subject"]
    assert "\r" not in decoded and "\n" not in decoded and "\x00" not in decoded


def test_long_ascii_subject_is_folded_losslessly() -> None:
    subject = " ".join(f"word{i}" for i in range(60)) + " " + "x" * 120
    data = build(subject=Content(subject))
    assert_wire_safe(data)
    assert parse(data)["Subject"] == subject


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("X-Evil\r\nBcc", "x"),
        ("X-Ok", "x\r\nBcc: evil@example.com"),
        ("X-Ok", "한국어"),
        ("Bad:Name", "x"),
        ("Bcc", "evil@example.com"),
        ("From", "other@example.com"),
        ("Message-ID", "<x@y>"),
        ("X-SES-CONFIGURATION-SET", "other"),
        ("X-Ok", ""),
        ("X-Ok", "x" * 996),
    ],
)
def test_extra_headers_are_validated(name: str, value: str) -> None:
    with pytest.raises(InvalidParameterValue):
        build(extra_headers=[(name, value)])


def test_extra_headers_are_added() -> None:
    data = build(extra_headers=[("List-Unsubscribe", "<mailto:u@example.com>"), ("X-Id", "7")])
    msg = parse(data)
    assert msg["List-Unsubscribe"] == "<mailto:u@example.com>"
    assert msg["X-Id"] == "7"


def test_many_recipients_fold_and_stay_short() -> None:
    to = [addr(f"수신자{i} <user{i}@example.com>") for i in range(50)]
    data = build(to=to, html=Content("<p>" + "x" * 5000 + "</p>"))
    assert_wire_safe(data)
    head = data.split(b"\r\n\r\n", 1)[0]
    assert all(len(line) <= 78 for line in head.split(b"\r\n") if b"Message-ID" not in line)
    assert len(parse(data)["To"].addresses) == 50


def test_fold_is_lossless() -> None:
    value = "a  b " + " ".join(["word"] * 40)
    folded = fold("Subject", value)
    assert folded.replace("\r\n", "") == value
    assert all(line.strip() for line in folded.split("\r\n"))


def test_unsafe_message_id_is_a_programming_error() -> None:
    with pytest.raises(ValueError):
        build(message_id="x>\r\nBcc: evil@example.com")


# --- SendRawEmail -------------------------------------------------------------------------

RAW_BODY = (
    b"--b1\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n"
    + "한국어 8비트 본문\r\n".encode()
    + b"\r\n--b1--\r\n"
)
RAW = (
    b"DKIM-Signature: v=1; a=rsa-sha256; d=example.com; s=s1;\r\n\tbh=abc; b=def\r\n"
    b"From: =?utf-8?B?6rmA7LKg7IiY?= <kim@example.com>\r\n"
    b"To: a@example.com, B <b@example.com>\r\n"
    b"Cc: c@example.com\r\n"
    b"Bcc: secret@example.com\r\n"
    b"Subject: =?utf-8?B?7ZWc6rWt7Ja0?=\r\n"
    b"Message-ID: <old@client.example>\r\n"
    b"Date: Sat, 01 Jan 2000 00:00:00 +0000\r\n"
    b"X-SES-CONFIGURATION-SET: marketing\r\n"
    b"X-SES-MESSAGE-TAGS: campaign=spring, tier=gold\r\n"
    b"X-SES-SOURCE-ARN: arn:aws:ses:us-east-1:123456789012:identity/example.com\r\n"
    b"X-SES-FROM-ARN: arn:aws:ses:us-east-1:123456789012:identity/from.example\r\n"
    b"X-SES-RETURN-PATH-ARN: arn:aws:ses:us-east-1:123456789012:identity/rp.example\r\n"
    b"Return-Path: <bounces@example.com>\r\n"
    b"MIME-Version: 1.0\r\n"
    b'Content-Type: multipart/alternative; boundary="b1"\r\n'
    b"\r\n" + RAW_BODY
)


def prepare(raw: bytes = RAW) -> PreparedRaw:
    return prepare_raw_message(raw, message_id=MESSAGE_ID, mail_domain=DOMAIN, date=DATE)


def test_raw_headers_are_replaced_and_body_bytes_kept() -> None:
    prepared = prepare()
    head, body = prepared.data.split(b"\r\n\r\n", 1)
    assert body == RAW_BODY
    assert head.startswith(b"DKIM-Signature: v=1; a=rsa-sha256; d=example.com; s=s1;\r\n\tbh=abc")
    msg = parse(prepared.data)
    assert msg["Message-ID"] == f"<{MESSAGE_ID}@{DOMAIN}>"
    assert msg["Date"] == "Mon, 01 Jan 2024 00:00:00 +0000"
    names = header_names(prepared.data)
    assert names.count("message-id") == 1 and names.count("date") == 1
    assert names.index("message-id") == 5  # where the old one was (Bcc removed)


def test_raw_x_ses_headers_are_honoured_and_stripped() -> None:
    prepared = prepare()
    assert prepared.configuration_set == "marketing"
    assert prepared.tags == [("campaign", "spring"), ("tier", "gold")]
    assert prepared.source_arn == "arn:aws:ses:us-east-1:123456789012:identity/example.com"
    assert prepared.from_arn == "arn:aws:ses:us-east-1:123456789012:identity/from.example"
    assert prepared.return_path_arn == "arn:aws:ses:us-east-1:123456789012:identity/rp.example"
    names = header_names(prepared.data)
    assert not [n for n in names if n.startswith("x-ses-")]


def test_raw_bcc_and_return_path_are_read_then_removed() -> None:
    prepared = prepare()
    specs = [a.addr_spec for a in prepared.recipients]
    assert specs == ["a@example.com", "b@example.com", "c@example.com", "secret@example.com"]
    assert prepared.return_path is not None
    assert prepared.return_path.addr_spec == "bounces@example.com"
    names = header_names(prepared.data)
    assert "bcc" not in names and "return-path" not in names
    assert b"secret@example.com" not in prepared.data


def test_raw_from_and_subject_are_decoded() -> None:
    prepared = prepare()
    assert [(a.display_name, a.addr_spec) for a in prepared.from_] == [
        ("김철수", "kim@example.com")
    ]
    assert prepared.subject == "한국어"


def test_raw_without_date_or_message_id_gets_them_appended() -> None:
    raw = b"From: a@example.com\r\nTo: b@example.com\r\n\r\nbody\r\n"
    data = prepare(raw).data
    assert data == (
        b"From: a@example.com\r\nTo: b@example.com\r\n"
        + f"Message-ID: <{MESSAGE_ID}@{DOMAIN}>\r\n".encode()
        + b"Date: Mon, 01 Jan 2024 00:00:00 +0000\r\n\r\nbody\r\n"
    )


def test_raw_bare_lf_is_converted_to_crlf() -> None:
    raw = b"From: a@example.com\nTo: b@example.com\nSubject: x\n\nline 1\nline 2\n"
    data = prepare(raw).data
    assert data.count(b"\n") == data.count(b"\r\n")
    assert data.endswith(b"\r\n\r\nline 1\r\nline 2\r\n")


def test_raw_missing_separator_gets_one() -> None:
    raw = b"From: a@example.com\r\nTo: b@example.com\r\nHello, forgot the blank line\r\n"
    data = prepare(raw).data
    assert data.endswith(b"\r\n\r\nHello, forgot the blank line\r\n")


def test_raw_headers_without_body() -> None:
    data = prepare(b"From: a@example.com\r\nTo: b@example.com").data
    assert data.startswith(b"From: a@example.com\r\nTo: b@example.com\r\nMessage-ID: ")


def test_raw_mbox_from_line_is_dropped() -> None:
    raw = b"From sender@example.com Mon Jan  1 00:00:00 2024\nFrom: a@example.com\n\nx\n"
    assert prepare(raw).data.startswith(b"From: a@example.com\r\n")
    obsolete = prepare(b"From : a@example.com\r\n\r\nx")  # RFC 5322 4.5: WSP before ':'
    assert obsolete.data.startswith(b"From : a@example.com\r\n")
    assert [a.addr_spec for a in obsolete.from_] == ["a@example.com"]


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        (b"", "Illegal content."),
        (b"\r\n\r\nonly a body", "Illegal content."),
        (b"this is not a message", "Illegal content."),
        (
            b" leading continuation\r\nFrom: a@example.com\r\n\r\n",
            "Empty header names are illegal.",
        ),
        (b"From: a@example.com\r\n: no name\r\n\r\n", "Empty header names are illegal."),
        (b"A" * 200_000, "Header section too long."),
        (b"X-Big: " + b"a" * 200_000 + b"\r\n\r\nbody", "Header section too long."),
        (b"From: a@example.com\r\nFrom: b@example.com\r\n\r\n", "Duplicate header 'From'."),
        (b"From: bob\r\n\r\n", "Missing final '@domain'"),
        (b"From: a@example.com\r\nTo: a b@example.com\r\n\r\n", "Local address contains"),
        (b"From: DEBUG: Bob <a@example.com>\r\n\r\n", "Local address contains illegal character"),
        (b"From: a@example.com\r\nX-SES-MESSAGE-TAGS: novalue\r\n\r\n", "Expected '='"),
    ],
)
def test_raw_errors_use_ses_texts(raw: bytes, message: str) -> None:
    with pytest.raises(InvalidParameterValue) as caught:
        prepare(raw)
    assert caught.value.message.startswith(message)


def test_raw_folded_header_cannot_smuggle_a_bcc() -> None:
    raw = (
        b"From: a@example.com\r\nSubject: hi\r\n Bcc: evil@example.com\r\nTo: b@example.com\r\n\r\n"
    )
    prepared = prepare(raw)
    assert [a.addr_spec for a in prepared.recipients] == ["b@example.com"]
    assert prepared.subject == "hi Bcc: evil@example.com"


def test_undisclosed_recipients_give_no_recipient() -> None:
    prepared = prepare(b"From: a@example.com\r\nTo: undisclosed-recipients:;\r\n\r\nx")
    assert prepared.recipients == []
    with pytest.raises(InvalidParameterValue, match="Missing required header 'To'."):
        require_recipients(prepared, [])
    require_recipients(prepared, [addr("x@example.com")])


def test_require_from() -> None:
    prepared = prepare(b"To: b@example.com\r\n\r\nx")
    with pytest.raises(InvalidParameterValue, match="Missing required header 'From'."):
        require_from(prepared, None)
    require_from(prepared, addr("a@example.com"))
    require_from(prepare(), None)


def test_check_message_size_uses_aws_text() -> None:
    check_message_size(10485760)
    with pytest.raises(InvalidParameterValue) as caught:
        check_message_size(12078147)
    assert caught.value.message == "Message length is more than 10485760 bytes long: '12078147'."


# --- listings -----------------------------------------------------------------------------


def test_summarize_built_message() -> None:
    data = build(
        source=addr("김철수 <kim@example.com>"),
        to=[addr("a@example.com"), addr("B <b@example.com>")],
        cc=[addr("c@example.com")],
        subject=Content(KOREAN_SUBJECT),
    )
    summary = summarize(data)
    assert summary == {
        "from": "김철수 <kim@example.com>",
        "to": ["a@example.com", "B <b@example.com>"],
        "cc": ["c@example.com"],
        "subject": KOREAN_SUBJECT,
        "date": "Mon, 01 Jan 2024 00:00:00 +0000",
        "message_id": f"<{MESSAGE_ID}@{DOMAIN}>",
    }
    assert subject_of(data) == KOREAN_SUBJECT


@pytest.mark.parametrize("data", [b"", b"garbage", b"\xff\xfe\x00", RAW])
def test_summarize_never_raises(data: bytes) -> None:
    summary = summarize(data)
    assert set(summary) == {"from", "to", "cc", "subject", "date", "message_id"}
    assert isinstance(subject_of(data), str)
