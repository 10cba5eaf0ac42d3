"""MX servers that misbehave: one drops the connection, one stalls past the timeout, one
rejects the whole message at DATA. Each outcome is what SES would record."""

from __future__ import annotations

import asyncio
import time
from typing import Any

from postroom.testing.dns import TestDnsServer
from postroom.testing.fixtures import ses_client
from postroom.testing.server import PostroomProcess
from postroom.testing.sink import SinkBehaviour, SinkServer


async def _events(server: PostroomProcess, message_id: str, want: str) -> list[dict[str, Any]]:
    deadline = time.monotonic() + 20
    while True:
        shown = await asyncio.to_thread(server.cli_json, "messages", "show", message_id)
        events = list(shown["events"])
        if any(e["eventType"] == want for e in events) or time.monotonic() > deadline:
            return events
        await asyncio.sleep(0.2)


async def test_drop_stall_and_data_rejection(
    postroom_factory: Any, dns_server: TestDnsServer
) -> None:
    dropping = SinkServer(host="127.0.0.3", behaviour=SinkBehaviour(disconnect_at="DATA"))
    await dropping.start()
    stalling = SinkServer(host="127.0.0.4", port=dropping.port,
                          behaviour=SinkBehaviour(data_delay=5.0))  # fmt: skip
    await stalling.start()
    rejecting = SinkServer(host="127.0.0.5", port=dropping.port,
                           behaviour=SinkBehaviour(data_reply="554 5.6.0 Message rejected: "
                                                   "content not allowed"))  # fmt: skip
    await rejecting.start()
    try:
        for name, address in (("drop", "127.0.0.3"), ("stall", "127.0.0.4"),
                              ("reject", "127.0.0.5")):  # fmt: skip
            dns_server.add(f"{name}.test", "MX", f"10 mx.{name}.test.")
            dns_server.add(f"mx.{name}.test", "A", address)
        host, port = dns_server.address
        server = await asyncio.to_thread(
            postroom_factory, "--delivery", "direct", "--dns", f"{host}:{port}",
            "--outbound-port", str(dropping.port), env={"POSTROOM_SMTP_TIMEOUT": "1"},
        )  # fmt: skip
        creds = await asyncio.to_thread(server.create_account, "mx")
        await asyncio.to_thread(server.cli, "accounts", "approve", "mx", "--max-rate", "50")
        ses = ses_client(server, creds)
        token = (await asyncio.to_thread(ses.verify_domain_identity, Domain="sender.test"))[
            "VerificationToken"
        ]
        dns_server.add("_amazonses.sender.test", "TXT", token)
        await asyncio.to_thread(
            ses.get_identity_verification_attributes, Identities=["sender.test"]
        )

        def send(to: str) -> str:
            return str(ses.send_email(
                Source="app@sender.test", Destination={"ToAddresses": [to]},
                Message={"Subject": {"Data": "s"}, "Body": {"Text": {"Data": "x"}}},
            )["MessageId"])  # fmt: skip

        for to in ("a@drop.test", "b@stall.test"):
            events = await _events(server, await asyncio.to_thread(send, to), "DeliveryDelay")
            delay = events[-1]["deliveryDelay"]
            assert events[-1]["eventType"] == "DeliveryDelay", events
            assert delay["delayType"] == "TransientCommunicationFailure", delay
            assert delay["delayedRecipients"][0]["status"].startswith("4.4")

        events = await _events(server, await asyncio.to_thread(send, "c@reject.test"), "Bounce")
        bounce = events[-1]["bounce"]
        assert events[-1]["eventType"] == "Bounce"
        assert "554 5.6.0 Message rejected" in bounce["bouncedRecipients"][0]["diagnosticCode"]
    finally:
        for sink in (rejecting, stalling, dropping):
            await sink.stop()
