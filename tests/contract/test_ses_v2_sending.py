"""Contract: SES v2 SendEmail (Simple and Raw content) through the real boto3 `sesv2`
client against a real `postroom serve`, on SQLite and PostgreSQL.

What a user checks: the MessageId, the captured message (`postroom mailbox list --json`,
parsed with the `email` package: subject, custom headers, attachment bytes), v2's error
codes and statuses, and that v1 and v2 are one account: one quota, one rate, one pause.
Hostile input: header injection through custom header names and values and through an
attachment's file name, reserved headers, a 41 MB raw message.
"""

from __future__ import annotations

import os
from typing import Any

import pytest
from botocore.exceptions import ClientError
from ses_support import (
    NOT_VERIFIED,
    DomainVerifier,
    Tenant,
    TenantFactory,
    error_of,
    parse_mime,
    simple_message,
    text_of,
)

from postroom.testing.fixtures import ses_client

MB = 1024 * 1024
V2_LIMIT = 41_943_040  # 40 MB after base64 (SES DG quotas.md)


@pytest.fixture
def database_url(engine_url: str) -> str:
    return engine_url


def sesv2(tenant: Tenant, region: str = "us-east-1") -> Any:
    return ses_client(tenant.server, tenant.credentials, region=region, service="sesv2")


def simple(subject: str = "Hello", text: str = "Hello there.", **extra: Any) -> dict[str, Any]:
    return {"Simple": {"Subject": {"Data": subject}, "Body": {"Text": {"Data": text}}, **extra}}


def send(client: Any, to: list[str], content: dict[str, Any], **params: Any) -> str:
    params.setdefault("FromEmailAddress", "sender@example.com")
    sent = client.send_email(Destination={"ToAddresses": to}, Content=content, **params)
    return str(sent["MessageId"])


def refused(client: Any, to: list[str], content: dict[str, Any], **params: Any) -> tuple:
    with pytest.raises(ClientError) as caught:
        send(client, to, content, **params)
    return error_of(caught.value)


def test_simple_content_arrives_with_utf8_subject_headers_and_attachment(
    approved: Tenant, verify_domain_of: DomainVerifier
) -> None:
    verify_domain_of(approved.client(), "example.com")
    payload = bytes(range(256)) * 64 + os.urandom(3000)
    message_id = send(
        sesv2(approved), ["ann@example.com"],
        {"Simple": {
            "Subject": {"Data": "안녕하세요, 주문하신 보고서입니다", "Charset": "UTF-8"},
            "Body": {"Text": {"Data": "본문입니다.", "Charset": "UTF-8"},
                     "Html": {"Data": "<p>본문</p>", "Charset": "UTF-8"}},
            "Headers": [{"Name": "X-Campaign", "Value": "spring-2026"},
                        {"Name": "List-Unsubscribe", "Value": "<mailto:off@example.com>"}],
            "Attachments": [{"RawContent": payload, "FileName": "보고서 2026.pdf",
                             "ContentType": "application/pdf",
                             "ContentDescription": "Quarterly report"}],
        }},
        FromEmailAddress="Sales <sales@example.com>",
        ReplyToAddresses=["help@example.com"],
        EmailTags=[{"Name": "campaign", "Value": "spring"}],
    )  # fmt: skip

    mail = approved.captured(message_id)
    assert mail["destinations"] == ["ann@example.com"]
    assert mail["source"] == "sales@example.com"
    message = parse_mime(mail["raw"])
    assert message["Subject"] == "안녕하세요, 주문하신 보고서입니다"
    assert message["From"] == "Sales <sales@example.com>"
    assert message["Reply-To"] == "help@example.com"
    assert message["X-Campaign"] == "spring-2026"
    assert message["List-Unsubscribe"] == "<mailto:off@example.com>"
    assert message["Message-ID"] == f"<{message_id}@email.amazonses.com>"
    assert message.get_content_type() == "multipart/mixed"
    assert text_of(message.get_body(("plain",))) == "본문입니다."
    assert text_of(message.get_body(("html",))) == "<p>본문</p>"
    (attachment,) = list(message.iter_attachments())
    assert attachment.get_filename() == "보고서 2026.pdf"
    assert attachment.get_content_type() == "application/pdf"
    assert attachment["Content-Description"] == "Quarterly report"
    assert attachment.get_content() == payload


def test_raw_content_arrives_as_sent_and_destination_is_the_envelope(
    approved: Tenant, verify_domain_of: DomainVerifier
) -> None:
    verify_domain_of(approved.client(), "example.com")
    raw = (b"From: Ann <ann@example.com>\r\nTo: visible@example.com\r\n"
           b"Subject: Raw v2\r\nX-Kept: yes\r\n\r\nRaw body line.\r\n")  # fmt: skip

    message_id = send(
        sesv2(approved),
        ["hidden@example.com"],
        {"Raw": {"Data": raw}},
        FromEmailAddress="ann@example.com",
    )

    mail = approved.captured(message_id)
    assert mail["destinations"] == ["hidden@example.com"]
    message = parse_mime(mail["raw"])
    assert (message["To"], message["X-Kept"], message["Subject"]) == (
        "visible@example.com",
        "yes",
        "Raw v2",
    )
    assert message["Message-ID"] == f"<{message_id}@email.amazonses.com>"
    assert message.get_content().replace("\r\n", "\n") == "Raw body line.\n"


def test_sandbox_refuses_unverified_recipients_and_feedback_addresses(
    sandboxed: Tenant, verify_domain_of: DomainVerifier
) -> None:
    verify_domain_of(sandboxed.client(), "example.com")
    client = sesv2(sandboxed)

    assert refused(client, ["friend@elsewhere.example"], simple()) == (
        "MessageRejected",
        f"{NOT_VERIFIED} US-EAST-1: friend@elsewhere.example",
        400,
    )
    assert refused(
        client,
        ["ann@example.com"],
        simple(),
        FeedbackForwardingEmailAddress="bounces@elsewhere.example",
    ) == ("MessageRejected", f"{NOT_VERIFIED} US-EAST-1: bounces@elsewhere.example", 400)
    assert refused(client, ["ann@example.com"], simple(), ConfigurationSetName="missing") == (
        "NotFoundException",
        "Configuration set <missing> does not exist.",
        404,
    )


def test_v1_and_v2_share_the_quota_the_rate_and_the_pause(
    make_tenant: TenantFactory, verify_domain_of: DomainVerifier
) -> None:
    tenant = make_tenant("quota", max_24h=3, max_rate=1000)
    v1 = tenant.client()
    verify_domain_of(v1, "example.com")
    v2 = sesv2(tenant)

    v1.send_email(Source="sender@example.com", Destination={"ToAddresses": ["a@example.com"]},
                  Message=simple_message())  # fmt: skip
    send(v2, ["b@example.com", "c@example.com"], simple())
    assert v1.get_send_quota()["SentLast24Hours"] == 3
    assert v2.get_account()["SendQuota"]["SentLast24Hours"] == 3
    assert refused(v2, ["d@example.com"], simple()) == (
        "TooManyRequestsException",
        "Daily message quota exceeded.",
        429,
    )

    slow = make_tenant("slow")  # the sandbox: 1 message a second
    verify_domain_of(slow.client(), "example.com")
    send(sesv2(slow), ["a@example.com"], simple())
    assert refused(sesv2(slow), ["a@example.com"], simple()) == (
        "TooManyRequestsException",
        "Maximum sending rate exceeded.",
        429,
    )

    v1.update_account_sending_enabled(Enabled=False)
    assert refused(v2, ["a@example.com"], simple()) == (
        "SendingPausedException",
        "Sending is paused for this account.",
        400,
    )


# -- hostile input (SQLite only: nothing reaches the database) ------------------------------
@pytest.fixture(scope="module")
def tenant(shared_tenant: Tenant) -> Tenant:
    return shared_tenant


def bad_request(tenant: Tenant, content: dict[str, Any], **params: Any) -> str:
    code, message, status = refused(sesv2(tenant), ["ann@example.com"], content, **params)
    assert (code, status) == ("BadRequestException", 400), message
    return message


@pytest.mark.parametrize("header", [
    {"Name": "X-Note", "Value": "a\r\nBcc: victim@elsewhere.example"},
    {"Name": "X-Note", "Value": "a\nBcc: victim@elsewhere.example"},
    {"Name": "X-Note\r\nBcc", "Value": "victim@elsewhere.example"},
    {"Name": "X-Note: Bcc", "Value": "x"},
    {"Name": "X-Note", "Value": "caf\u00e9"},
    {"Name": "Bcc", "Value": "victim@elsewhere.example"},
    {"Name": "from", "Value": "ceo@example.com"},
    {"Name": "X-SES-CONFIGURATION-SET", "Value": "x"},
])  # fmt: skip
def test_custom_headers_cannot_inject_or_override(tenant: Tenant, header: dict[str, str]) -> None:
    bad_request(tenant, simple(Headers=[header]))


@pytest.mark.parametrize("attachment", [
    {"FileName": "a.txt\r\nBcc: victim@elsewhere.example"},
    {"FileName": "a\x00.txt"},
    {"FileName": "a.txt", "ContentType": "text/plain\r\nBcc: victim@elsewhere.example"},
    {"FileName": "a.txt", "ContentId": "<a\r\nb>"},
    {"FileName": "a.txt", "ContentDescription": "line\r\nBcc: victim@elsewhere.example"},
    {"FileName": "a.txt", "ContentTransferEncoding": "SEVEN_BIT", "RawContent": b"\xff\x00"},
])  # fmt: skip
def test_attachment_fields_cannot_inject_headers(
    tenant: Tenant, attachment: dict[str, Any]
) -> None:
    attachment = {"RawContent": b"data", **attachment}
    bad_request(tenant, simple(Attachments=[attachment]))


def test_attachment_names_with_quotes_and_unicode_are_encoded_not_trusted(tenant: Tenant) -> None:
    name = 'x"; filename="evil.pdf'
    message_id = send(sesv2(tenant), ["ann@example.com"], simple(Attachments=[
        {"RawContent": b"one", "FileName": name},
        {"RawContent": b"two", "FileName": "naïve " * 40 + ".txt"}]))  # fmt: skip
    message = parse_mime(tenant.captured(message_id)["raw"])
    names = [part.get_filename() for part in message.iter_attachments()]
    assert names == [name, "naïve " * 40 + ".txt"]


def test_content_must_be_exactly_one_kind(tenant: Tenant) -> None:
    both = {**simple(), "Raw": {"Data": b"From: a@example.com\r\n\r\nx"}}
    assert "exactly one" in bad_request(tenant, both)
    assert "exactly one" in bad_request(tenant, {})


def test_another_accounts_identity_arn_is_refused(tenant: Tenant) -> None:
    arn = "arn:aws:ses:us-east-1:999999999999:identity/example.com"
    assert "another account" in bad_request(tenant, simple(), FromEmailAddressIdentityArn=arn)


def test_raw_content_over_40_mb_is_refused_with_ses_text(tenant: Tenant) -> None:
    head = b"From: sender@example.com\r\nTo: ann@example.com\r\nSubject: big\r\n\r\n"
    line = b"x" * 998 + b"\r\n"
    raw = head + line * (41 * MB // len(line))
    encoded = (len(raw) + 2) // 3 * 4  # its length in base64
    assert bad_request(tenant, {"Raw": {"Data": raw}}) == (
        f"Message length is more than {V2_LIMIT} bytes long: '{encoded}'."
    )


def test_raw_content_is_normalised_like_send_raw_email(tenant: Tenant) -> None:
    smuggled = (
        b"From: sender@example.com\r\nTo: ann@example.com\r\nX-A: 1\rBcc: v@x.example\r\n\r\nb"
    )
    assert "X-A" in bad_request(tenant, {"Raw": {"Data": smuggled}})
