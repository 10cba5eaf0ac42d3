"""Set-ups that end-to-end tests share: a server delivering directly to MX servers found
through the test DNS server, an approved account with a verified sender domain, and the
steps that wait for events."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any

from postroom.testing.dns import TestDnsServer
from postroom.testing.fixtures import ses_client
from postroom.testing.server import PostroomProcess

SENDER_DOMAIN = "sender.test"


def direct_args(dns_server: TestDnsServer, outbound_port: int) -> tuple[str, ...]:
    """`serve` flags for direct delivery through the test DNS to MX servers on loopback."""
    host, port = dns_server.address
    return ("--delivery", "direct", "--dns", f"{host}:{port}",
            "--outbound-port", str(outbound_port))  # fmt: skip


async def direct_server(
    postroom_factory: Callable[..., PostroomProcess],
    dns_server: TestDnsServer,
    outbound_port: int,
    *,
    account: str = "acct",
    max_rate: str = "500",
    env: dict[str, str] | None = None,
    **factory_options: Any,
) -> tuple[PostroomProcess, Any]:
    """`serve --delivery direct` against the test DNS, with an approved account whose
    sender domain (`sender.test`) is verified by its TXT record; returns (server, ses)."""
    server = await asyncio.to_thread(
        postroom_factory, *direct_args(dns_server, outbound_port), env=env, **factory_options
    )
    creds = await asyncio.to_thread(server.create_account, account)
    await asyncio.to_thread(server.cli, "accounts", "approve", account, "--max-rate", max_rate)
    ses = ses_client(server, creds)
    token = (await asyncio.to_thread(ses.verify_domain_identity, Domain=SENDER_DOMAIN))[
        "VerificationToken"
    ]
    dns_server.add(f"_amazonses.{SENDER_DOMAIN}", "TXT", token)
    attributes = await asyncio.to_thread(
        ses.get_identity_verification_attributes, Identities=[SENDER_DOMAIN]
    )
    status = attributes["VerificationAttributes"][SENDER_DOMAIN]["VerificationStatus"]
    assert status == "Success", attributes
    return server, ses


def mx_zone(dns_server: TestDnsServer, domain: str, address: str) -> None:
    """`domain` has one MX, `mx.<domain>`, at `address`."""
    dns_server.add(domain, "MX", f"10 mx.{domain}.")
    dns_server.add(f"mx.{domain}", "A", address)


def send_simple(ses: Any, to: str, *, source: str = f"app@{SENDER_DOMAIN}",
                subject: str = "s", text: str = "x") -> str:  # fmt: skip
    """One SendEmail; returns its MessageId."""
    response = ses.send_email(
        Source=source,
        Destination={"ToAddresses": [to]},
        Message={"Subject": {"Data": subject}, "Body": {"Text": {"Data": text}}},
    )
    return str(response["MessageId"])


async def events_until(
    server: PostroomProcess, message_id: str, want: str, timeout: float = 20.0
) -> list[dict[str, Any]]:
    """The message's events once one of type `want` is there (or when time is up)."""
    deadline = time.monotonic() + timeout
    while True:
        shown = await asyncio.to_thread(server.cli_json, "messages", "show", message_id)
        events = list(shown["events"])
        if any(e["eventType"] == want for e in events) or time.monotonic() > deadline:
            return events
        await asyncio.sleep(0.2)
