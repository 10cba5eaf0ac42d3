"""boto3 `ses`: identities (verify, list, attributes, delete), per tenant and per region.

Identities are stored per account and region, so each test runs on SQLite and PostgreSQL.
"""

from __future__ import annotations

import base64
from typing import Any

import httpx
import pytest
from botocore.exceptions import ClientError
from ses_support import (
    NOT_VERIFIED,
    SIMULATOR,
    DomainVerifier,
    Tenant,
    TenantFactory,
    error_of,
    request_verification,
    simple_message,
    verification_link,
    verification_mail,
    verify_email,
    wait_for,
)

from postroom.testing.dns import TestDnsServer


@pytest.fixture
def database_url(engine_url: str) -> str:
    return engine_url


def _status(client: Any, identity: str) -> str | None:
    found = client.get_identity_verification_attributes(Identities=[identity])
    attributes = found["VerificationAttributes"].get(identity)
    return None if attributes is None else str(attributes["VerificationStatus"])


def _send_from(client: Any, source: str) -> str:
    return str(client.send_email(Source=source,
                                 Destination={"ToAddresses": [f"success@{SIMULATOR}"]},
                                 Message=simple_message())["MessageId"])


def test_verify_email_identity_mails_a_link_that_verifies(sandboxed: Tenant) -> None:
    client = sandboxed.client()

    assert client.verify_email_identity(EmailAddress="ann@example.com")["ResponseMetadata"]
    assert client.list_identities()["Identities"] == ["ann@example.com"]
    assert _status(client, "ann@example.com") == "Pending"
    assert client.list_verified_email_addresses()["VerifiedEmailAddresses"] == []

    message = verification_mail(sandboxed, "ann@example.com")
    assert message["To"] == "ann@example.com"
    assert message["Subject"] == (
        "Amazon Web Services \u2013 Email Address Verification Request in region "
        "US East (N. Virginia)"
    )
    link = verification_link(message)
    assert link.startswith(sandboxed.server.url + "/verify/")
    response = httpx.get(link)

    assert response.status_code == 200
    assert "Congratulations" in response.text
    assert _status(client, "ann@example.com") == "Success"
    assert client.list_verified_email_addresses()["VerifiedEmailAddresses"] == ["ann@example.com"]
    assert _send_from(client, "Ann <ann+news@example.com>")  # user+label@ is covered by user@
    request_verification(client, "ann@example.com")  # again (1/s allowed): stays verified
    assert _status(client, "ann@example.com") == "Success"


def test_legacy_verify_and_delete_verified_email_address(sandboxed: Tenant) -> None:
    client = sandboxed.client()

    reply = client.verify_email_address(EmailAddress="bob@example.com")
    assert set(reply) == {"ResponseMetadata"}  # no output shape
    link = verification_link(verification_mail(sandboxed, "bob@example.com"))
    assert httpx.get(link).status_code == 200
    assert client.list_verified_email_addresses()["VerifiedEmailAddresses"] == ["bob@example.com"]

    reply = client.delete_verified_email_address(EmailAddress="bob@example.com")
    assert set(reply) == {"ResponseMetadata"}
    assert client.list_verified_email_addresses()["VerifiedEmailAddresses"] == []
    assert client.list_identities()["Identities"] == []
    with pytest.raises(ClientError) as caught:
        _send_from(client, "bob@example.com")
    assert error_of(caught.value)[0] == "MessageRejected"


def test_verify_domain_identity_succeeds_once_the_txt_record_is_published(
    approved: Tenant, dns_server: TestDnsServer
) -> None:
    client = approved.client()

    token = client.verify_domain_identity(Domain="Example.COM")["VerificationToken"]

    assert len(token) == 44 and base64.b64decode(token)
    assert client.list_identities(IdentityType="Domain")["Identities"] == ["example.com"]
    assert client.get_identity_verification_attributes(Identities=["example.com"])[
        "VerificationAttributes"
    ] == {"example.com": {"VerificationStatus": "Pending", "VerificationToken": token}}
    with pytest.raises(ClientError):
        _send_from(client, "anyone@example.com")

    dns_server.add("_amazonses.example.com", "TXT", token)
    wait_for(lambda: _status(client, "example.com") == "Success", timeout=8.0, interval=0.25)

    assert ("_amazonses.example.com.", "TXT") in dns_server.queries
    assert _send_from(client, "anyone@example.com")  # a domain covers all its addresses
    assert _send_from(client, "alerts@mail.example.com")  # and its subdomains
    assert client.list_verified_email_addresses()["VerifiedEmailAddresses"] == []


def test_list_identities_filters_by_type_and_pages(sandboxed: Tenant) -> None:
    client = sandboxed.client()
    emails = {"a@example.com", "b@example.com"}
    domains = {"one.example", "two.example", "three.example"}
    for address in emails:
        request_verification(client, address)
    for domain in domains:
        client.verify_domain_identity(Domain=domain)

    assert set(client.list_identities()["Identities"]) == emails | domains
    assert set(client.list_identities(IdentityType="EmailAddress")["Identities"]) == emails
    assert set(client.list_identities(IdentityType="Domain")["Identities"]) == domains

    pages: list[list[str]] = []
    reply = client.list_identities(MaxItems=2)
    pages.append(reply["Identities"])
    while "NextToken" in reply:
        reply = client.list_identities(MaxItems=2, NextToken=reply["NextToken"])
        pages.append(reply["Identities"])
    assert [len(page) for page in pages] == [2, 2, 1]
    assert sorted(sum(pages, [])) == sorted(emails | domains)
    paginated = client.get_paginator("list_identities").paginate(
        IdentityType="Domain", PaginationConfig={"PageSize": 2}
    )
    assert set(paginated.build_full_result()["Identities"]) == domains


def test_identity_attributes_leave_out_unknown_and_delete_is_idempotent(
    sandboxed: Tenant, verify_domain_of: DomainVerifier
) -> None:
    client = sandboxed.client()
    verify_domain_of(client, "example.com")

    found = client.get_identity_verification_attributes(
        Identities=["example.com", "nobody@example.com", "unknown.example"]
    )["VerificationAttributes"]
    assert list(found) == ["example.com"]
    assert found["example.com"]["VerificationStatus"] == "Success"

    assert set(client.delete_identity(Identity="example.com")) == {"ResponseMetadata"}
    assert client.list_identities()["Identities"] == []
    assert client.get_identity_verification_attributes(
        Identities=["example.com"])["VerificationAttributes"] == {}
    client.delete_identity(Identity="example.com")  # deleting again still succeeds
    with pytest.raises(ClientError) as caught:
        _send_from(client, "me@example.com")
    assert error_of(caught.value) == (
        "MessageRejected", f"{NOT_VERIFIED} US-EAST-1: me@example.com", 400
    )


def test_tenants_cannot_see_delete_or_send_from_each_others_identities(
    make_tenant: TenantFactory, verify_domain_of: DomainVerifier
) -> None:
    owner, other = make_tenant("owner"), make_tenant("other")
    mine, theirs = owner.client(), other.client()
    verify_email(owner, mine, "owner@example.com")
    token = verify_domain_of(mine, "owner.example")

    assert theirs.list_identities()["Identities"] == []
    assert theirs.list_verified_email_addresses()["VerifiedEmailAddresses"] == []
    assert theirs.get_identity_verification_attributes(
        Identities=["owner@example.com", "owner.example"])["VerificationAttributes"] == {}
    theirs.delete_identity(Identity="owner.example")
    theirs.delete_verified_email_address(EmailAddress="owner@example.com")
    for source in ("owner@example.com", "news@owner.example"):
        with pytest.raises(ClientError) as caught:
            _send_from(theirs, source)
        assert error_of(caught.value) == (
            "MessageRejected", f"{NOT_VERIFIED} US-EAST-1: {source}", 400
        )

    assert sorted(mine.list_identities()["Identities"]) == ["owner.example", "owner@example.com"]
    assert _status(mine, "owner.example") == "Success"
    assert _send_from(mine, "owner@example.com")
    # Claiming the domain gets the other tenant its own token; the owner's TXT is not it.
    claimed = theirs.verify_domain_identity(Domain="owner.example")["VerificationToken"]
    assert claimed != token
    assert _status(theirs, "owner.example") == "Pending"
    assert _status(mine, "owner.example") == "Success"


def test_identities_are_kept_per_region(
    sandboxed: Tenant, verify_domain_of: DomainVerifier
) -> None:
    virginia, ireland = sandboxed.client("us-east-1"), sandboxed.client("eu-west-1")
    verify_domain_of(virginia, "example.com")

    assert ireland.list_identities()["Identities"] == []
    assert ireland.get_identity_verification_attributes(
        Identities=["example.com"])["VerificationAttributes"] == {}
    with pytest.raises(ClientError) as caught:
        _send_from(ireland, "me@example.com")
    assert error_of(caught.value) == (
        "MessageRejected", f"{NOT_VERIFIED} EU-WEST-1: me@example.com", 400
    )
    assert _send_from(virginia, "me@example.com")


def test_verification_requests_and_mails_are_rate_limited(sandboxed: Tenant) -> None:
    """Issue 8: 1 VerifyEmailIdentity a second per account, 1 mail an address every 5 min."""
    client = sandboxed.client()
    answers: list[str] = []
    for _ in range(30):
        try:
            client.verify_email_identity(EmailAddress="victim@example.com")
            answers.append("ok")
        except ClientError as refused:
            assert error_of(refused) == ("Throttling", "Rate exceeded", 400)
            answers.append("throttled")
    assert answers[0] == "ok" and answers.count("ok") <= 2  # a second's worth, at most
    first = verification_mail(sandboxed, "victim@example.com")

    wait_for(lambda: _verify_after_a_second(client, "victim@example.com"), timeout=5)
    mails = [m for m in sandboxed.mailbox() if "victim@example.com" in m["destinations"]]
    assert len(mails) == 1  # the repeated request succeeded and mailed nothing
    assert httpx.get(verification_link(first)).status_code == 200  # the first link works
    assert _status(client, "victim@example.com") == "Success"


def _verify_after_a_second(client: Any, address: str) -> bool | None:
    try:
        client.verify_email_address(EmailAddress=address)
    except ClientError as refused:
        assert error_of(refused)[0] == "Throttling"
        return None
    return True
