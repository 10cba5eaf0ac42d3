"""boto3 `ses`: what SendEmail and SendRawEmail put on the wire, read back from the mailbox.

Building and rewriting MIME does not depend on the engine: one SQLite server serves the
module, and `shared_tenant` (production access, example.com verified) sends.
"""

from __future__ import annotations

import email.utils
import re
import time
from typing import Any

import pytest
from botocore.exceptions import ClientError
from ses_support import (
    NOT_VERIFIED,
    SIMULATOR,
    Tenant,
    TenantFactory,
    error_of,
    parse_mime,
    simple_message,
    text_of,
    verify_domain,
    verify_email,
)

from postroom.testing.dns import TestDnsServer

KOREAN_SUBJECT = "[서비스] 임시 비밀번호 안내"
KOREAN_TEXT = "안녕하세요, 홍길동님.\n임시 비밀번호는 Xy7#k2Lq 입니다. 로그인 후 변경해 주세요."
KOREAN_HTML = "<p>안녕하세요, <b>홍길동</b>님.</p><p>임시 비밀번호: <code>Xy7#k2Lq</code></p>"


def _headers(message: Any, name: str) -> list[str]:
    return [str(value) for value in message.get_all(name, [])]


def test_korean_subject_body_and_display_name_arrive_intact(shared_tenant: Tenant) -> None:
    sent = shared_tenant.client().send_email(
        Source="고객센터 <help@example.com>",
        Destination={"ToAddresses": ["user@example.com"]},
        Message={
            "Subject": {"Data": KOREAN_SUBJECT, "Charset": "UTF-8"},
            "Body": {"Text": {"Data": KOREAN_TEXT, "Charset": "UTF-8"},
                     "Html": {"Data": KOREAN_HTML, "Charset": "UTF-8"}},
        },
    )

    mail = shared_tenant.captured(sent["MessageId"])
    assert mail["subject"] == KOREAN_SUBJECT
    raw = mail["raw"]
    assert raw.isascii()  # 7-bit on the wire: RFC 2047 headers, encoded bodies
    message = parse_mime(raw)
    assert message["Subject"] == KOREAN_SUBJECT
    assert message["From"].addresses[0].display_name == "고객센터"
    assert message["From"].addresses[0].addr_spec == "help@example.com"
    assert text_of(message.get_body(("plain",))) == KOREAN_TEXT
    assert text_of(message.get_body(("html",))) == KOREAN_HTML


def test_bcc_recipients_are_envelope_only(shared_tenant: Tenant) -> None:
    sent = shared_tenant.client().send_email(
        Source="me@example.com",
        Destination={"ToAddresses": ["to@example.com"], "CcAddresses": ["cc@example.com"],
                     "BccAddresses": ["hidden@example.com"]},
        Message={"Subject": {"Data": "Minutes"}, "Body": {"Text": {"Data": "Attached."}}},
        ReturnPath="bounces@example.com",
    )

    mail = shared_tenant.captured(sent["MessageId"])
    assert mail["destinations"] == ["to@example.com", "cc@example.com", "hidden@example.com"]
    message = parse_mime(mail["raw"])
    assert _headers(message, "Bcc") == []
    assert "hidden@example.com" not in mail["raw"]
    assert (message["To"], message["Cc"]) == ("to@example.com", "cc@example.com")


def test_no_header_can_be_injected_through_the_subject(shared_tenant: Tenant) -> None:
    sent = shared_tenant.client().send_email(
        Source="me@example.com",
        Destination={"ToAddresses": ["to@example.com"]},
        Message={"Subject": {"Data": "Hi\r\nBcc: victim@elsewhere.example"},
                 "Body": {"Text": {"Data": "Body."}}},
    )

    mail = shared_tenant.captured(sent["MessageId"])
    assert mail["destinations"] == ["to@example.com"]
    message = parse_mime(mail["raw"])
    assert _headers(message, "Bcc") == []
    assert "victim@elsewhere.example" in message["Subject"]  # kept as text, not a header


def test_empty_reply_to_list_is_accepted(shared_tenant: Tenant) -> None:
    # botocore sends an empty list as a bare `ReplyToAddresses=` form field.
    sent = shared_tenant.client().send_email(
        Source="me@example.com", Destination={"ToAddresses": ["to@example.com"]},
        Message={"Subject": {"Data": "s"}, "Body": {"Text": {"Data": "b"}}},
        ReplyToAddresses=[],
    )

    message = parse_mime(shared_tenant.captured(sent["MessageId"])["raw"])
    assert _headers(message, "Reply-To") == []


RAW_WITH_HEADERS = (
    b"From: Me <me@example.com>\r\n"
    b"To: to@example.com\r\n"
    b"Cc: cc@example.com\r\n"
    b"Bcc: hidden@example.com\r\n"
    b"Message-ID: <my-own-id@client.example>\r\n"
    b"Date: Tue, 1 Jan 2002 00:00:00 +0000\r\n"
    b"X-SES-MESSAGE-TAGS: campaign=spring, kind=reset\r\n"
    b"X-Custom: kept as it is\r\n"
    b"Subject: Raw hello\r\n"
    b"MIME-Version: 1.0\r\n"
    b"Content-Type: text/plain; charset=us-ascii\r\n"
    b"\r\n"
    b"Raw body line.\r\n"
)


def test_send_raw_email_without_destinations_rewrites_as_ses_does(
    shared_tenant: Tenant,
) -> None:
    before = time.time()

    sent = shared_tenant.client().send_raw_email(RawMessage={"Data": RAW_WITH_HEADERS})

    message_id = sent["MessageId"]
    mail = shared_tenant.captured(message_id)
    assert mail["destinations"] == ["to@example.com", "cc@example.com", "hidden@example.com"]
    assert mail["source"] == "me@example.com"
    message = parse_mime(mail["raw"])
    assert _headers(message, "Bcc") == []
    assert _headers(message, "Message-ID") == [f"<{message_id}@email.amazonses.com>"]
    dates = _headers(message, "Date")
    assert len(dates) == 1
    assert abs(email.utils.parsedate_to_datetime(dates[0]).timestamp() - before) < 30
    assert _headers(message, "X-SES-MESSAGE-TAGS") == []
    assert message["X-Custom"] == "kept as it is"
    assert message["Subject"] == "Raw hello"
    assert text_of(message) == "Raw body line."
    tags = shared_tenant.events(message_id)[0]["mail"]["tags"]
    assert (tags["campaign"], tags["kind"]) == (["spring"], ["reset"])
    assert tags["ses:operation"] == ["SendRawEmail"]


def test_send_raw_email_destinations_override_the_headers(shared_tenant: Tenant) -> None:
    sent = shared_tenant.client().send_raw_email(
        Source="me@example.com",
        Destinations=["only@elsewhere.example"],
        RawMessage={"Data": RAW_WITH_HEADERS},
    )

    mail = shared_tenant.captured(sent["MessageId"])
    assert mail["destinations"] == ["only@elsewhere.example"]
    message = parse_mime(mail["raw"])
    assert (message["To"], message["Cc"]) == ("to@example.com", "cc@example.com")
    assert _headers(message, "Bcc") == []


def test_send_raw_email_honours_the_configuration_set_header(shared_tenant: Tenant) -> None:
    client = shared_tenant.client()
    raw = (b"From: me@example.com\r\nTo: to@example.com\r\n"
           b"X-SES-CONFIGURATION-SET: no-such-set\r\nSubject: s\r\n\r\nbody\r\n")

    with pytest.raises(client.exceptions.ConfigurationSetDoesNotExistException) as caught:
        client.send_raw_email(RawMessage={"Data": raw})

    code, message, status = error_of(caught.value)
    assert (code, status) == ("ConfigurationSetDoesNotExist", 400)
    assert "no-such-set" in message


def test_from_header_and_return_path_must_be_verified(shared_tenant: Tenant) -> None:
    client = shared_tenant.client()
    raw = b"From: Eve <eve@unverified.example>\r\nTo: to@example.com\r\nSubject: s\r\n\r\nb\r\n"

    with pytest.raises(ClientError) as caught:
        client.send_raw_email(RawMessage={"Data": raw})
    assert error_of(caught.value) == (
        "MessageRejected",
        f"{NOT_VERIFIED} US-EAST-1: Eve <eve@unverified.example>, eve@unverified.example",
        400,
    )

    with pytest.raises(ClientError) as caught:
        client.send_email(Source="me@example.com", ReturnPath="bounces@unverified.example",
                          Destination={"ToAddresses": ["to@example.com"]},
                          Message=simple_message())
    assert error_of(caught.value) == (
        "MessageRejected", f"{NOT_VERIFIED} US-EAST-1: bounces@unverified.example", 400
    )


def test_raw_sender_header_must_be_verified(shared_tenant: Tenant) -> None:
    raw = (b"From: me@example.com\r\nSender: eve@unverified.example\r\n"
           b"To: to@example.com\r\nSubject: s\r\n\r\nb\r\n")

    with pytest.raises(ClientError) as caught:
        shared_tenant.client().send_raw_email(RawMessage={"Data": raw})

    assert error_of(caught.value) == (
        "MessageRejected", f"{NOT_VERIFIED} US-EAST-1: eve@unverified.example", 400
    )


def test_idn_recipient_domains_go_out_in_punycode(shared_tenant: Tenant) -> None:
    sent = shared_tenant.client().send_email(
        Source="me@example.com", Destination={"ToAddresses": ["user@한국.example"]},
        Message=simple_message(),
    )

    mail = shared_tenant.captured(sent["MessageId"])
    assert mail["destinations"] == ["user@xn--3e0b707e.example"]
    assert parse_mime(mail["raw"])["To"] == "user@xn--3e0b707e.example"


def test_message_ids_carry_the_region(shared_tenant: Tenant, shared_dns: TestDnsServer) -> None:
    ireland = shared_tenant.client("eu-west-1")
    verify_domain(shared_dns, ireland, "example.com")

    sent = ireland.send_email(Source="me@example.com",
                              Destination={"ToAddresses": ["to@example.com"]},
                              Message=simple_message())

    message_id = sent["MessageId"]
    assert re.fullmatch(r"0102[0-9a-f]{12}-[0-9a-f-]{36}-000000", message_id)
    message = parse_mime(shared_tenant.captured(message_id)["raw"])
    assert message["Message-ID"] == f"<{message_id}@eu-west-1.amazonses.com>"


def test_verification_mail_is_not_in_the_accounts_statistics(
    shared_tenant_factory: TenantFactory,
) -> None:
    tenant = shared_tenant_factory("verifies-only")
    client = tenant.client()

    verify_email(tenant, client, "ann@example.com")  # returns once the mail was captured

    assert client.get_send_quota()["SentLast24Hours"] == 0.0
    assert client.get_send_statistics()["SendDataPoints"] == []


def test_simulator_recipients_need_no_verification_in_the_sandbox(
    shared_tenant_factory: TenantFactory,
) -> None:
    tenant = shared_tenant_factory("simulates")
    client = tenant.client()
    verify_email(tenant, client, "ann@example.com")

    sent = client.send_email(Source="ann@example.com",
                             Destination={"ToAddresses": [f"success+label@{SIMULATOR}"]},
                             Message={"Subject": {"Data": "s"}, "Body": {"Text": {"Data": "b"}}})

    assert sent["MessageId"]
