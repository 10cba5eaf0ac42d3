"""boto3 `ses`: the sending rules decided in storage, on SQLite and PostgreSQL.

Verified-identity checks, the sandbox, the rate and the daily quota are all decided inside
the transaction that admits a message, so each test here runs once per engine.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from botocore.exceptions import ClientError
from ses_support import (
    FAST_RATE,
    NOT_VERIFIED,
    SIMULATOR,
    DomainVerifier,
    Tenant,
    TenantFactory,
    error_of,
    parse_mime,
    simple_message,
    text_of,
)


@pytest.fixture
def database_url(engine_url: str) -> str:
    return engine_url


def test_one_message_to_to_and_cc_passes_in_the_sandbox_and_arrives(
    sandboxed: Tenant, verify_domain_of: DomainVerifier
) -> None:
    client = sandboxed.client()
    verify_domain_of(client, "example.com")  # covers the sender and both recipients

    sent = client.send_email(
        Source="Support <support@example.com>",
        Destination={"ToAddresses": ["ann@example.com"], "CcAddresses": ["bob@example.com"]},
        Message={"Subject": {"Data": "Your order"},
                 "Body": {"Text": {"Data": "Plain text."}, "Html": {"Data": "<p>HTML</p>"}}},
        ReplyToAddresses=["help@example.com"],
    )

    message_id = sent["MessageId"]
    assert message_id.startswith("0100") and message_id.endswith("-000000")
    mail = sandboxed.captured(message_id)
    assert mail["destinations"] == ["ann@example.com", "bob@example.com"]
    assert mail["source"] == "support@example.com"
    message = parse_mime(mail["raw"])
    assert message["From"] == "Support <support@example.com>"
    assert (message["To"], message["Cc"]) == ("ann@example.com", "bob@example.com")
    assert message["Reply-To"] == "help@example.com"
    assert message["Subject"] == "Your order"
    assert message["Message-ID"] == f"<{message_id}@email.amazonses.com>"
    assert message.get_content_type() == "multipart/alternative"
    assert text_of(message.get_body(("plain",))) == "Plain text."
    assert text_of(message.get_body(("html",))) == "<p>HTML</p>"


def test_unverified_sender_and_sandbox_recipient_are_rejected(
    sandboxed: Tenant, verify_domain_of: DomainVerifier
) -> None:
    seoul = sandboxed.client("ap-northeast-2")
    with pytest.raises(ClientError) as caught:
        seoul.send_email(Source="Ann Lee <ann@example.com>",
                         Destination={"ToAddresses": [f"success@{SIMULATOR}"]},
                         Message=simple_message())
    assert error_of(caught.value) == (
        "MessageRejected",
        f"{NOT_VERIFIED} AP-NORTHEAST-2: Ann Lee <ann@example.com>, ann@example.com",
        400,
    )

    virginia = sandboxed.client()
    verify_domain_of(virginia, "example.com")
    with pytest.raises(ClientError) as caught:
        virginia.send_email(Source="ann@example.com",
                            Destination={"ToAddresses": ["friend@elsewhere.example"]},
                            Message=simple_message())
    assert error_of(caught.value) == (
        "MessageRejected", f"{NOT_VERIFIED} US-EAST-1: friend@elsewhere.example", 400
    )
    assert caught.value.response["Error"]["Type"] == "Sender"


def test_sandbox_rate_throttles_quick_messages(
    sandboxed: Tenant, verify_domain_of: DomainVerifier
) -> None:
    client = sandboxed.client()  # retries off: botocore would retry Throttling otherwise
    verify_domain_of(client, "example.com")

    def send() -> Any:
        return client.send_email(Source="me@example.com",
                                 Destination={"ToAddresses": ["you@example.com"]},
                                 Message=simple_message())

    assert send()["MessageId"]  # the first passes
    outcomes: list[tuple[str, str, int] | str] = []
    for _ in range(2):
        try:
            outcomes.append(send()["MessageId"])
        except ClientError as error:
            outcomes.append(error_of(error))
    assert outcomes[-1] == ("Throttling", "Maximum sending rate exceeded.", 400)


def test_daily_quota_counts_recipients_and_not_the_simulator(
    make_tenant: TenantFactory, verify_domain_of: DomainVerifier
) -> None:
    tenant = make_tenant("daily", max_24h=3, max_rate=100)
    client = tenant.client()
    verify_domain_of(client, "example.com")
    # Production access: recipients need not be verified any more.
    client.send_email(
        Source="me@example.com",
        Destination={"ToAddresses": ["a@elsewhere.example", "b@elsewhere.example"],
                     "BccAddresses": ["c@elsewhere.example"]},
        Message=simple_message(),
    )

    with pytest.raises(ClientError) as caught:
        client.send_email(Source="me@example.com",
                          Destination={"ToAddresses": ["d@elsewhere.example"]},
                          Message=simple_message())

    assert error_of(caught.value) == ("Throttling", "Daily message quota exceeded.", 400)
    simulated = client.send_email(
        Source="me@example.com",
        Destination={"ToAddresses": [f"success@{SIMULATOR}", f"bounce@{SIMULATOR}"]},
        Message=simple_message(),
    )
    assert simulated["MessageId"]
    quota = client.get_send_quota()
    assert (quota["Max24HourSend"], quota["MaxSendRate"], quota["SentLast24Hours"]) == (
        3.0, 100.0, 3.0
    )


def test_daily_quota_holds_under_concurrent_sends(
    make_tenant: TenantFactory, verify_domain_of: DomainVerifier
) -> None:
    tenant = make_tenant("racer", max_24h=5, max_rate=FAST_RATE)
    verify_domain_of(tenant.client(), "example.com")
    clients = [tenant.client() for _ in range(4)]

    def send(index: int) -> str | tuple[str, str, int]:
        try:
            return str(clients[index % 4].send_email(
                Source="me@example.com", Destination={"ToAddresses": [f"u{index}@example.com"]},
                Message=simple_message(),
            )["MessageId"])
        except ClientError as error:
            return error_of(error)

    with ThreadPoolExecutor(max_workers=8) as pool:
        outcomes = list(pool.map(send, range(16)))

    accepted = [o for o in outcomes if isinstance(o, str)]
    refused = [o for o in outcomes if not isinstance(o, str)]
    assert len(accepted) == 5
    assert set(refused) == {("Throttling", "Daily message quota exceeded.", 400)}
    assert clients[0].get_send_quota()["SentLast24Hours"] == 5.0
