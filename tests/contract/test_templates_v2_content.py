"""boto3 `sesv2`: a template's `Headers` and `Attachments` (SendEmail `Content.Template`,
SendBulkEmail `DefaultContent.Template`) and each bulk entry's `ReplacementHeaders`, read
back from the capture mailbox as the bytes delivered; the same header and attachment
rules as Simple content, with v2's error codes and statuses. Happy paths on SQLite and
PostgreSQL; refusals on one shared SQLite server (nothing reaches the database)."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest
from botocore.exceptions import ClientError
from ses_support import DomainVerifier, Tenant, error_of, parse_mime, text_of

from postroom.testing.fixtures import ses_client

PAYLOAD = bytes(range(256)) * 4
PDF = {"RawContent": PAYLOAD, "FileName": "report.pdf", "ContentType": "application/pdf"}
CONTENT = {"Subject": "Hi {{name}}", "Text": "Dear {{name}}"}


@pytest.fixture
def database_url(engine_url: str) -> str:
    return engine_url


def sesv2(tenant: Tenant) -> Any:
    return ses_client(tenant.server, tenant.credentials, service="sesv2")


@pytest.fixture
def v2(approved: Tenant, verify_domain_of: DomainVerifier) -> Any:
    verify_domain_of(approved.client(), "example.com")
    client = sesv2(approved)
    client.create_email_template(TemplateName="t", TemplateContent=CONTENT)
    return client


def base64_lines(data: bytes) -> str:
    """The attachment's body as the builder writes it: base64, 76-character CRLF lines."""
    return base64.encodebytes(data).decode("ascii").replace("\n", "\r\n").rstrip("\r\n")


def assert_pdf_part(raw: str) -> None:
    """The attachment's MIME part, byte for byte, and as a mail reader sees it."""
    assert (
        'Content-Type: application/pdf;\r\n name="report.pdf"\r\n'
        'Content-Disposition: attachment;\r\n filename="report.pdf"\r\n'
        "Content-Transfer-Encoding: base64\r\n\r\n" + base64_lines(PAYLOAD) + "\r\n--"
    ) in raw
    (part,) = list(parse_mime(raw).iter_attachments())
    assert (part.get_filename(), part.get_content_type()) == ("report.pdf", "application/pdf")
    assert part.get_content() == PAYLOAD


def test_send_email_template_carries_headers_and_attachments(
    approved: Tenant, v2: Any
) -> None:
    sent = v2.send_email(
        FromEmailAddress="shop@example.com",
        Destination={"ToAddresses": ["ann@example.com"]},
        Content={"Template": {
            "TemplateName": "t", "TemplateData": json.dumps({"name": "Ann"}),
            "Headers": [{"Name": "X-Campaign", "Value": "spring-2026"},
                        {"Name": "List-Unsubscribe", "Value": "<mailto:off@example.com>"}],
            "Attachments": [PDF],
        }},
    )  # fmt: skip
    raw = approved.captured(sent["MessageId"])["raw"]
    head = raw.partition("\r\n\r\n")[0] + "\r\n"
    assert "\r\nX-Campaign: spring-2026\r\n" in head
    assert "\r\nList-Unsubscribe: <mailto:off@example.com>\r\n" in head
    message = parse_mime(raw)
    assert message["Subject"] == "Hi Ann"
    assert message.get_content_type() == "multipart/mixed"
    assert text_of(message.get_body(("plain",))) == "Dear Ann"
    assert_pdf_part(raw)

    inline = v2.send_email(
        FromEmailAddress="shop@example.com",
        Destination={"ToAddresses": ["ann@example.com"]},
        Content={"Template": {"TemplateContent": {"Subject": "S {{n}}", "Text": "b"},
                              "TemplateData": '{"n": 1}',
                              "Headers": [{"Name": "X-Inline", "Value": "yes"}]}},
    )  # fmt: skip
    message = parse_mime(approved.captured(inline["MessageId"])["raw"])
    assert (message["Subject"], message["X-Inline"]) == ("S 1", "yes")
    assert message.get_content_type() == "text/plain"  # no attachments: no multipart


def test_send_bulk_email_replacement_headers_override_the_templates(
    approved: Tenant, v2: Any
) -> None:
    def entry(address: str, *headers: tuple[str, str]) -> dict[str, Any]:
        found: dict[str, Any] = {"Destination": {"ToAddresses": [address]}}
        if headers:
            found["ReplacementHeaders"] = [{"Name": n, "Value": v} for n, v in headers]
        return found

    result = v2.send_bulk_email(
        FromEmailAddress="shop@example.com",
        DefaultContent={"Template": {
            "TemplateName": "t", "TemplateData": '{"name": "you"}',
            "Headers": [{"Name": "List-Unsubscribe", "Value": "<https://example.com/u>"},
                        {"Name": "X-Campaign", "Value": "spring"}],
            "Attachments": [PDF],
        }},
        BulkEmailEntries=[
            entry("ann@example.com", ("list-unsubscribe", "<https://example.com/u/ann>"),
                  ("X-Entry", "ann")),
            entry("bob@example.com"),
        ],
    )  # fmt: skip
    ann, bob = result["BulkEmailEntryResults"]
    assert (ann["Status"], bob["Status"]) == ("SUCCESS", "SUCCESS")

    ann_raw = approved.captured(ann["MessageId"])["raw"]
    ann_mail = parse_mime(ann_raw)
    assert ann_mail.get_all("List-Unsubscribe") == ["<https://example.com/u/ann>"]
    assert "\r\nlist-unsubscribe: <https://example.com/u/ann>\r\n" in ann_raw
    assert (ann_mail["X-Campaign"], ann_mail["X-Entry"]) == ("spring", "ann")
    bob_raw = approved.captured(bob["MessageId"])["raw"]
    bob_mail = parse_mime(bob_raw)
    assert bob_mail.get_all("List-Unsubscribe") == ["<https://example.com/u>"]
    assert (bob_mail["X-Campaign"], bob_mail["X-Entry"]) == ("spring", None)
    for raw in (ann_raw, bob_raw):  # every entry gets the template's attachments
        assert_pdf_part(raw)


# -- refusals (SQLite only: nothing reaches the database) -----------------------------------
@pytest.fixture(scope="module")
def tenant(shared_tenant: Tenant) -> Tenant:
    return shared_tenant


INLINE = {"TemplateContent": CONTENT, "TemplateData": '{"name": "Ann"}'}
BAD_HEADERS = [
    ({"Name": "From", "Value": "ceo@example.com"}, "Header From cannot be set; SES sets it."),
    ({"Name": "bcc", "Value": "v@elsewhere.example"}, "Header bcc cannot be set; SES sets it."),
    ({"Name": "X-SES-CONFIGURATION-SET", "Value": "x"}, "cannot be set; SES sets it."),
    ({"Name": "X-Note", "Value": "a\r\nBcc: v@elsewhere.example"}, "Invalid header: 'X-Note'."),
]
BAD_ATTACHMENTS = [
    {"RawContent": b"x", "FileName": "a.txt\r\nBcc: v@elsewhere.example"},
    {"RawContent": b"\xff\x00", "FileName": "a.txt", "ContentTransferEncoding": "SEVEN_BIT"},
    {"RawContent": b"x", "FileName": "a.txt", "ContentType": "text/plain\r\nBcc: v@x.example"},
]


def refused(call: Any) -> tuple[str, str, int]:
    with pytest.raises(ClientError) as caught:
        call()
    return error_of(caught.value)


def send_template(tenant: Tenant, **template: Any) -> Any:
    return sesv2(tenant).send_email(
        FromEmailAddress="shop@example.com", Destination={"ToAddresses": ["ann@example.com"]},
        Content={"Template": {**INLINE, **template}},
    )  # fmt: skip


def send_bulk(tenant: Tenant, entries: list[dict[str, Any]], **template: Any) -> Any:
    return sesv2(tenant).send_bulk_email(
        FromEmailAddress="shop@example.com",
        DefaultContent={"Template": {**INLINE, **template}}, BulkEmailEntries=entries,
    )  # fmt: skip


@pytest.mark.parametrize(("header", "text"), BAD_HEADERS)
def test_template_headers_are_refused_as_simple_contents_are(
    tenant: Tenant, header: dict[str, str], text: str
) -> None:
    code, message, status = refused(lambda: send_template(tenant, Headers=[header]))
    assert (code, status) == ("BadRequestException", 400)
    assert text in message
    ann = {"Destination": {"ToAddresses": ["ann@example.com"]}}
    code, message, status = refused(lambda: send_bulk(tenant, [ann], Headers=[header]))
    assert (code, status) == ("BadRequestException", 400)
    assert text in message


@pytest.mark.parametrize("attachment", BAD_ATTACHMENTS)
def test_template_attachments_are_refused_as_simple_contents_are(
    tenant: Tenant, attachment: dict[str, Any]
) -> None:
    for call in (lambda: send_template(tenant, Attachments=[attachment]),
                 lambda: send_bulk(tenant, [{"Destination": {"ToAddresses": ["a@example.com"]}}],
                                   Attachments=[attachment])):  # fmt: skip
        assert refused(call)[0::2] == ("BadRequestException", 400)


def test_more_than_15_template_headers_are_refused_by_the_model(tenant: Tenant) -> None:
    headers = [{"Name": f"X-H{i}", "Value": "v"} for i in range(16)]
    code, message, status = refused(lambda: send_template(tenant, Headers=headers))
    assert (code, status) == ("BadRequestException", 400)
    assert "Member must have length less than or equal to 15" in message


def test_a_bad_replacement_header_fails_only_its_entry(tenant: Tenant) -> None:
    result = send_bulk(tenant, [
        {"Destination": {"ToAddresses": ["ann@example.com"]},
         "ReplacementHeaders": [{"Name": "Reply-To", "Value": "thief@elsewhere.example"}]},
        {"Destination": {"ToAddresses": ["bob@example.com"]},
         "ReplacementHeaders": [{"Name": "X-Entry", "Value": "bob"}]},
    ], Headers=[{"Name": "X-Campaign", "Value": "spring"}])  # fmt: skip
    assert result["ResponseMetadata"]["HTTPStatusCode"] == 200
    ann, bob = result["BulkEmailEntryResults"]
    assert ann == {"Status": "INVALID_PARAMETER",
                   "Error": "Header Reply-To cannot be set; SES sets it."}  # fmt: skip
    assert bob["Status"] == "SUCCESS"
    message = parse_mime(tenant.captured(bob["MessageId"])["raw"])
    assert (message["X-Campaign"], message["X-Entry"]) == ("spring", "bob")
