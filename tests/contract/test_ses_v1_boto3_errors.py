"""boto3 `ses`: each operation's parameter errors, and operations Postroom does not have yet.

These are refused before anything is stored, so one SQLite server serves the module.
"""

from __future__ import annotations

import re
from typing import Any

import pytest
from botocore.exceptions import ClientError
from ses_support import Tenant, error_of, simple_message

TEN_MB = 10 * 1024 * 1024
TOO_LONG = re.compile(r"Message length is more than 10485760 bytes long: '(\d+)'\.")


@pytest.fixture
def client(shared_tenant: Tenant) -> Any:
    return shared_tenant.client()


def _refusal(call: Any, **params: Any) -> tuple[str, str, int]:
    with pytest.raises(ClientError) as caught:
        call(**params)
    assert caught.value.response["Error"]["Type"] == "Sender"
    return error_of(caught.value)


def _send(client: Any, to: list[str], cc: list[str] | None = None,
          bcc: list[str] | None = None, source: str = "me@example.com") -> Any:
    return client.send_email(
        Source=source,
        Destination={"ToAddresses": to, "CcAddresses": cc or [], "BccAddresses": bcc or []},
        Message=simple_message(),
    )


def test_more_than_50_recipients_is_refused(client: Any) -> None:
    to = [f"to{i}@example.com" for i in range(20)]
    cc = [f"cc{i}@example.com" for i in range(20)]
    bcc = [f"bcc{i}@example.com" for i in range(11)]

    assert _refusal(_send, client=client, to=to, cc=cc, bcc=bcc) == (
        "InvalidParameterValue", "Recipient count exceeds 50.", 400
    )
    raw = b"From: me@example.com\r\nSubject: s\r\n\r\nb\r\n"
    assert _refusal(client.send_raw_email, RawMessage={"Data": raw},
                    Destinations=[f"d{i}@example.com" for i in range(51)]) == (
        "InvalidParameterValue", "Recipient count exceeds 50.", 400
    )
    assert _send(client, to + cc + bcc[:10])["MessageId"]  # exactly 50 is fine


@pytest.mark.parametrize(("to", "message"), [
    (["ann"], "Missing final '@domain'"),
    (["ann@exa mple.com"], "Domain contains control or whitespace"),
    (["ann lee@example.com"], "Local address contains control or whitespace"),
    (["ann@example.com, bob@example.com"], "Illegal address"),
    ([], "Invalid email address ."),
])
def test_bad_recipient_addresses_are_refused(client: Any, to: list[str], message: str) -> None:
    assert _refusal(_send, client=client, to=to) == ("InvalidParameterValue", message, 400)


def test_bad_source_and_header_injection_are_refused(client: Any) -> None:
    assert _refusal(_send, client=client, to=["to@example.com"], source="nobody") == (
        "InvalidParameterValue", "Missing final '@domain'", 400
    )
    code, _, status = _refusal(_send, client=client,
                               to=["to@example.com\r\nBcc: victim@elsewhere.example"])
    assert (code, status) == ("InvalidParameterValue", 400)


def test_bad_tag_is_refused(client: Any) -> None:
    assert _refusal(
        client.send_email, Source="me@example.com",
        Destination={"ToAddresses": ["to@example.com"]}, Message=simple_message(),
        Tags=[{"Name": "team:mail", "Value": "x"}],
    ) == (
        "InvalidParameterValue",
        "Invalid tag name <team:mail>: only alphanumeric ASCII characters, '_', and '-' "
        "are allowed.",
        400,
    )


def test_messages_over_10_mb_are_refused(client: Any) -> None:
    body = "x" * (TEN_MB + 1024)
    code, message, status = _refusal(
        client.send_email, Source="me@example.com",
        Destination={"ToAddresses": ["to@example.com"]}, Message=simple_message(text=body),
    )
    assert (code, status) == ("InvalidParameterValue", 400)
    found = TOO_LONG.fullmatch(message)
    assert found and int(found.group(1)) > TEN_MB

    raw = b"From: me@example.com\r\nTo: to@example.com\r\nSubject: s\r\n\r\n" + b"y" * 8_000_000
    code, message, status = _refusal(client.send_raw_email, RawMessage={"Data": raw})
    assert (code, status) == ("InvalidParameterValue", 400)
    found = TOO_LONG.fullmatch(message)  # 8 MB is over 10 MB once base64-encoded
    assert found and int(found.group(1)) > TEN_MB


def test_raw_message_without_recipients_is_refused(client: Any) -> None:
    raw = b"From: me@example.com\r\nSubject: s\r\n\r\nb\r\n"

    assert _refusal(client.send_raw_email, RawMessage={"Data": raw}) == (
        "InvalidParameterValue", "Missing required header 'To'.", 400
    )


def test_identity_operations_refuse_bad_names(client: Any) -> None:
    for call in (client.verify_email_identity, client.verify_email_address):
        assert _refusal(call, EmailAddress="not-an-address") == (
            "InvalidParameterValue", "Missing final '@domain'", 400
        )
    code, message, status = _refusal(client.verify_domain_identity, Domain="bad domain!")
    assert (code, status) == ("InvalidParameterValue", 400)
    assert "bad domain!" in message
    assert client.list_identities(IdentityType="Domain")["Identities"] == ["example.com"]


def test_list_and_attribute_operations_refuse_bad_parameters(client: Any) -> None:
    code, _, status = _refusal(client.list_identities, NextToken="not a token!")
    assert (code, status) == ("InvalidParameterValue", 400)
    code, message, status = _refusal(client.list_identities, IdentityType="Phone")
    assert (code, status) == ("ValidationError", 400)
    assert "Phone" in message
    code, _, status = _refusal(client.get_identity_verification_attributes,
                               Identities=[f"d{i}.example" for i in range(101)])
    assert (code, status) == ("InvalidParameterValue", 400)


@pytest.mark.parametrize(("method", "params", "operation"), [
    ("create_receipt_filter",
     {"Filter": {"Name": "f", "IpFilter": {"Policy": "Block", "Cidr": "10.0.0.0/8"}}},
     "CreateReceiptFilter"),
    ("send_custom_verification_email",
     {"EmailAddress": "to@example.com", "TemplateName": "t"}, "SendCustomVerificationEmail"),
    ("delete_configuration_set_event_destination",
     {"ConfigurationSetName": "cs", "EventDestinationName": "d"},
     "DeleteConfigurationSetEventDestination"),
    ("list_receipt_rule_sets", {}, "ListReceiptRuleSets"),
])
def test_unsupported_operations_are_named_in_a_client_error(
    client: Any, method: str, params: dict[str, Any], operation: str
) -> None:
    code, message, status = _refusal(getattr(client, method), **params)

    assert status == 400  # a client error, never a 500
    assert code not in ("InternalFailure", "ServiceUnavailable")
    assert operation in message and "not supported" in message
