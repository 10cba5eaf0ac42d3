"""Reputation: hard bounces put an account under review at 5 %, pause it at 10 %, and an
operator's `accounts resume` lifts the pause (SES enforcement, ses-spec.md section 5)."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import botocore.exceptions
import pytest

from postroom.testing.dns import TestDnsServer
from postroom.testing.fixtures import ses_client
from postroom.testing.server import PostroomProcess
from postroom.testing.sink import SinkBehaviour, SinkServer

GONE = "550 5.1.1 The email account that you tried to reach does not exist."


async def _enforcement(server: PostroomProcess, want: str) -> str:
    deadline = time.monotonic() + 15
    while True:
        [row] = await asyncio.to_thread(server.cli_json, "accounts", "list")
        if row["enforcement"] == want or time.monotonic() > deadline:
            return str(row["enforcement"])
        await asyncio.sleep(0.2)


async def test_bounce_rate_reviews_then_pauses(
    postroom_factory: Any, dns_server: TestDnsServer
) -> None:
    mx = SinkServer(host="127.0.0.3", behaviour=SinkBehaviour(rcpt_replies={"@dead.test": GONE}))
    await mx.start()
    try:
        for domain in ("live.test", "dead.test"):
            dns_server.add(domain, "MX", "10 mx.example.test.")
        dns_server.add("mx.example.test", "A", "127.0.0.3")
        host, port = dns_server.address
        server = await asyncio.to_thread(
            postroom_factory, "--delivery", "direct", "--dns", f"{host}:{port}",
            "--outbound-port", str(mx.port),
            env={"POSTROOM_REPUTATION_INTERVAL": "0.2", "POSTROOM_REPUTATION_MIN_VOLUME": "20"},
        )  # fmt: skip
        creds = await asyncio.to_thread(server.create_account, "rep")
        await asyncio.to_thread(server.cli, "accounts", "approve", "rep", "--max-rate", "500")
        ses = ses_client(server, creds)
        token = (await asyncio.to_thread(ses.verify_domain_identity, Domain="sender.test"))[
            "VerificationToken"
        ]
        dns_server.add("_amazonses.sender.test", "TXT", token)
        await asyncio.to_thread(
            ses.get_identity_verification_attributes, Identities=["sender.test"]
        )

        def send(to: str) -> None:
            ses.send_email(
                Source="app@sender.test", Destination={"ToAddresses": [to]},
                Message={"Subject": {"Data": "s"}, "Body": {"Text": {"Data": "x"}}},
            )  # fmt: skip

        for i in range(19):
            await asyncio.to_thread(send, f"user{i}@live.test")
        await asyncio.to_thread(send, "gone1@dead.test")  # 1 of 20: 5 %
        assert await _enforcement(server, "PROBATION") == "PROBATION"
        await asyncio.to_thread(send, "user99@live.test")  # under review, still sending

        for i in (2, 3):
            await asyncio.to_thread(send, f"gone{i}@dead.test")  # 3 of 23: 13 %
        assert await _enforcement(server, "SHUTDOWN") == "SHUTDOWN"
        with pytest.raises(botocore.exceptions.ClientError) as info:
            await asyncio.to_thread(send, "late@live.test")
        assert info.value.response["Error"]["Code"] == "AccountSendingPausedException"
        assert "is now SHUTDOWN" in "".join(server.output)  # the warning is logged

        await asyncio.to_thread(server.cli, "accounts", "resume", "rep")
        assert await _enforcement(server, "HEALTHY") == "HEALTHY"
        await asyncio.to_thread(send, "back@live.test")
        await asyncio.sleep(0.6)  # rates were reset: a new assessment keeps it healthy
        assert await _enforcement(server, "HEALTHY") == "HEALTHY"
    finally:
        await mx.stop()
