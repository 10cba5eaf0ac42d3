"""Helpers for the boto3 contract tests (fixtures are in conftest.py)."""

from __future__ import annotations

import email
import email.policy
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from email.message import EmailMessage
from typing import Any, TypeVar

import httpx
import pytest
from botocore.exceptions import ClientError

from postroom.testing.dns import TestDnsServer
from postroom.testing.fixtures import ses_client
from postroom.testing.server import PostroomProcess

T = TypeVar("T")
VERIFY_LINK = re.compile(r"\S+/verify/[A-Za-z0-9_-]+")
SIMULATOR = "simulator.amazonses.com"
NOT_VERIFIED = (
    "Email address is not verified. The following identities failed the check in region"
)
FAST_RATE = 1000  # an approved account's --max-rate when the rate is not what a test checks


def wait_for(probe: Callable[[], T | None], timeout: float = 10.0, interval: float = 0.1) -> T:
    """Poll `probe` until it returns something truthy; fail after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        found = probe()
        if found:
            return found
        if time.monotonic() > deadline:
            pytest.fail(f"condition not met within {timeout} s")
        time.sleep(interval)


def error_of(error: ClientError) -> tuple[str, str, int]:
    """(code, message, HTTP status) of a botocore ClientError."""
    response: Any = error.response
    return (response["Error"]["Code"], response["Error"]["Message"],
            response["ResponseMetadata"]["HTTPStatusCode"])


def parse_mime(raw: str) -> EmailMessage:
    message = email.message_from_string(raw, policy=email.policy.default)
    assert isinstance(message, EmailMessage)
    return message


def text_of(part: EmailMessage | None) -> str:
    """A text part's decoded content, with CRLF line ends as LF and no final newline."""
    assert part is not None, "no such part"
    content = part.get_content()
    assert isinstance(content, str)
    return content.replace("\r\n", "\n").rstrip("\n")


def simple_message(subject: str = "Hello", text: str = "Hello there.") -> dict[str, Any]:
    """The `Message` argument of SendEmail."""
    return {"Subject": {"Data": subject}, "Body": {"Text": {"Data": text}}}


@dataclass
class Tenant:
    """One Postroom account, its first key and ways to look at what it sent."""

    server: PostroomProcess
    name: str
    credentials: dict[str, str]

    @property
    def account_id(self) -> str:
        return self.credentials["account_id"]

    def client(self, region: str = "us-east-1") -> Any:
        return ses_client(self.server, self.credentials, region=region)

    def approve(self, max_24h: float | None = None, max_rate: float | None = None) -> None:
        args = ["accounts", "approve", self.name]
        if max_24h is not None:
            args += ["--max-24h", str(max_24h)]
        if max_rate is not None:
            args += ["--max-rate", str(max_rate)]
        self.server.cli(*args)

    def mailbox(self) -> list[dict[str, Any]]:
        """`postroom mailbox list --account NAME --json`: captured mail, newest first."""
        return list(self.server.cli_json("mailbox", "list", "--account", self.name))

    def captured(self, message_id: str, timeout: float = 10.0) -> dict[str, Any]:
        """The mailbox entry of `message_id`, once capture delivery has kept it."""
        return wait_for(
            lambda: next((m for m in self.mailbox() if m["message_id"] == message_id), None),
            timeout, interval=0.05,
        )

    def events(self, message_id: str) -> list[dict[str, Any]]:
        """`postroom messages show ID --json`: the message's events, oldest first."""
        return list(self.server.cli_json("messages", "show", message_id)["events"])


def create_tenant(server: PostroomProcess, name: str, *, approve: bool = False,
                  max_24h: float | None = None, max_rate: float | None = None) -> Tenant:
    """`postroom accounts create NAME --json`, then `accounts approve` when asked to."""
    tenant = Tenant(server, name, server.create_account(name))
    if approve or max_24h is not None or max_rate is not None:
        tenant.approve(max_24h, max_rate)
    return tenant


TenantFactory = Callable[..., Tenant]  # (name, approve=, max_24h=, max_rate=) -> Tenant
DomainVerifier = Callable[[Any, str], str]  # (client, domain) -> token


def verify_domain(dns: TestDnsServer, client: Any, domain: str) -> str:
    """VerifyDomainIdentity, publish `TXT _amazonses.<domain>`, wait for Success; the token."""
    token = str(client.verify_domain_identity(Domain=domain)["VerificationToken"])
    dns.add(f"_amazonses.{domain}", "TXT", token)

    def verified() -> bool:
        found = client.get_identity_verification_attributes(Identities=[domain])
        return bool(found["VerificationAttributes"][domain]["VerificationStatus"] == "Success")

    wait_for(verified, timeout=8.0, interval=0.2)  # the first check after VerifyDomain is now
    return token


def verification_mail(tenant: Tenant, address: str) -> EmailMessage:
    """The newest captured mail to `address` that carries a verification link."""

    def find() -> EmailMessage | None:
        for mail in tenant.mailbox():
            message = parse_mime(mail["raw"])
            if address in mail["destinations"] and VERIFY_LINK.search(message.get_content()):
                return message
        return None

    return wait_for(find, interval=0.05)


def verification_link(message: EmailMessage) -> str:
    match = VERIFY_LINK.search(message.get_content())
    assert match, "no verification link in the mail"
    return match.group(0)


def request_verification(client: Any, address: str) -> None:
    """VerifyEmailIdentity, waiting out its rate (1 request a second per account) as an
    SDK with retries on would."""

    def attempt() -> bool | None:
        try:
            client.verify_email_identity(EmailAddress=address)
        except ClientError as refused:
            if error_of(refused)[0] != "Throttling":
                raise
            return None
        return True

    wait_for(attempt, timeout=5.0, interval=0.25)


def verify_email(tenant: Tenant, client: Any, address: str) -> None:
    """VerifyEmailIdentity, then open the link the verification mail carries."""
    request_verification(client, address)
    response = httpx.get(verification_link(verification_mail(tenant, address)))
    assert response.status_code == 200, response.text
