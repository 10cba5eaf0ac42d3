"""boto3 `ses` against untrusted input (issue 8, items 1 and 5): no header smuggling through
raw mail or SendEmail fields, no domain literal as a recipient or an identity.

Everything here is refused before anything is stored, or checks the captured copy, so the
module shares one server.
"""

from __future__ import annotations

import re
from typing import Any

import pytest
from botocore.exceptions import ClientError
from ses_support import Tenant, TenantFactory, error_of, parse_mime, simple_message

LITERALS = ["user@[127.0.0.1]", "user@[IPv6:::1]", "u@[a;b<c>]", "user@127.0.0.1"]
ILLEGAL = ("InvalidParameterValue", "Domain contains illegal character", 400)


def _refused(call: Any, **params: Any) -> tuple[str, str, int]:
    with pytest.raises(ClientError) as caught:
        call(**params)
    return error_of(caught.value)


@pytest.mark.parametrize("literal", LITERALS)
def test_an_address_literal_cannot_be_verified(
    shared_tenant_factory: TenantFactory, literal: str
) -> None:
    tenant = shared_tenant_factory(f"verify-{LITERALS.index(literal)}")  # in the sandbox
    client = tenant.client()

    assert _refused(client.verify_email_identity, EmailAddress=literal) == ILLEGAL
    assert _refused(client.verify_email_address, EmailAddress=literal) == ILLEGAL
    assert client.list_identities()["Identities"] == []
    assert tenant.mailbox() == []  # no verification mail went anywhere


@pytest.mark.parametrize("domain", ["[127.0.0.1]", "127.0.0.1", "[IPv6:::1]"])
def test_an_ip_is_no_domain_identity(shared_tenant: Tenant, domain: str) -> None:
    code, message, status = _refused(shared_tenant.client().verify_domain_identity, Domain=domain)
    assert (code, message, status) == ("InvalidParameterValue", f"Invalid domain name {domain}.",
                                       400)  # fmt: skip


@pytest.mark.parametrize("literal", LITERALS)
def test_an_address_literal_cannot_be_sent_to(shared_tenant: Tenant, literal: str) -> None:
    client = shared_tenant.client()
    for destination in ("ToAddresses", "CcAddresses", "BccAddresses"):
        refused = _refused(
            client.send_email,
            Source="me@example.com",
            Destination={destination: [literal]},
            Message=simple_message(),
        )
        assert refused == ILLEGAL, destination
    assert (
        _refused(
            client.send_email,
            Source="me@example.com",
            Destination={"ToAddresses": ["to@example.com"]},
            ReplyToAddresses=[literal],
            Message=simple_message(),
        )
        == ILLEGAL
    )
    raw = b"From: me@example.com\r\nTo: to@example.com\r\nSubject: s\r\n\r\nbody\r\n"
    assert (
        _refused(client.send_raw_email, RawMessage={"Data": raw}, Destinations=[literal]) == ILLEGAL
    )
    in_header = raw.replace(b"to@example.com", literal.encode())
    assert _refused(client.send_raw_email, RawMessage={"Data": in_header}) == ILLEGAL


SMUGGLED = [
    (b"X-Note: a\rFrom: ceo@bank.example\rBcc: hidden@evil.example\r\n", "X-Note"),
    (b"Subject: hi\rX-SES-CONFIGURATION-SET: other\r\n", "Subject"),
    (b"X-Note: a\x00b\r\n", "X-Note"),
    (b"Return-Path: <me@example.com>\r\nReturn-Path: <other@evil.example>\r\n", "Return-Path"),
    (b"X-SES-CONFIGURATION-SET: a\r\nX-SES-CONFIGURATION-SET: b\r\n", "X-SES-CONFIGURATION-SET"),
]


@pytest.mark.parametrize(("header", "name"), SMUGGLED)
def test_send_raw_email_refuses_smuggled_headers(
    shared_tenant: Tenant, header: bytes, name: str
) -> None:
    raw = b"From: me@example.com\r\nTo: to@example.com\r\n" + header + b"\r\nbody\r\n"
    code, message, status = _refused(shared_tenant.client().send_raw_email,
                                     RawMessage={"Data": raw})  # fmt: skip
    assert (code, status) == ("InvalidParameterValue", 400)
    assert f"'{name}'" in message


def test_send_raw_email_stores_crlf_lines_only(shared_tenant: Tenant) -> None:
    raw = b"From: me@example.com\nTo: to@example.com\nSubject: s\n\nline 1\nbare\rCR\n"
    sent = shared_tenant.client().send_raw_email(RawMessage={"Data": raw})

    stored = shared_tenant.captured(sent["MessageId"])["raw"]
    assert not re.search(r"\r(?!\n)|(?<!\r)\n", stored)
    assert stored.endswith("\r\n\r\nline 1\r\nbare\r\nCR\r\n")


@pytest.mark.parametrize(
    "params",
    [
        {"Source": "Boss\r\nBcc: victim@evil.example <me@example.com>"},
        {"Source": "=?utf-8?B?Qm9zcw0KQmNjOiB2aWN0aW1AZXZpbC5leGFtcGxl?= <me@example.com>"},
        {"Source": "me@example.com\r\nBcc: victim@evil.example"},
        {"Destination": {"ToAddresses": ["to@example.com\r\nBcc: victim@evil.example"]}},
        {"ReplyToAddresses": ['"R\r\nBcc: victim@evil.example" <r@example.com>']},
        {"Message": {"Subject": {"Data": "s", "Charset": "utf-8\r\nBcc: victim@evil.example"},
                     "Body": {"Text": {"Data": "x"}}}},
    ],
)  # fmt: skip
def test_send_email_fields_cannot_carry_a_header(
    shared_tenant: Tenant, params: dict[str, Any]
) -> None:
    request = {"Source": "me@example.com", "Destination": {"ToAddresses": ["to@example.com"]},
               "Message": simple_message(), **params}  # fmt: skip
    code, _, status = _refused(shared_tenant.client().send_email, **request)
    assert (code, status) == ("InvalidParameterValue", 400)


def test_send_email_bodies_and_names_stay_inside_their_fields(shared_tenant: Tenant) -> None:
    sent = shared_tenant.client().send_email(
        Source='"Boss, Bcc: victim@evil.example" <me@example.com>',
        Destination={"ToAddresses": ["To\u2028Bcc <to@example.com>"]},
        Message={"Subject": {"Data": "s\x00\rBcc: victim@evil.example"},
                 "Body": {"Text": {"Data": "a\rBcc: victim@evil.example\r\n\r\nb"},
                          "Html": {"Data": "<p>a\r</p>\n"}}},
    )  # fmt: skip

    mail = shared_tenant.captured(sent["MessageId"])
    assert mail["destinations"] == ["to@example.com"]
    assert not re.search(r"\r(?!\n)|(?<!\r)\n|\x00", mail["raw"])
    head = mail["raw"].split("\r\n\r\n", 1)[0]
    assert not re.search(r"^bcc:", head, re.IGNORECASE | re.MULTILINE)
    assert parse_mime(mail["raw"])["From"].addresses[0].addr_spec == "me@example.com"
