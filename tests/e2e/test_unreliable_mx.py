"""MX servers that misbehave: one drops the connection, one stalls past the timeout, one
rejects the whole message at DATA. Each outcome is what SES would record."""

from __future__ import annotations

import asyncio
from typing import Any

from postroom.testing.dns import TestDnsServer
from postroom.testing.scenarios import direct_server, events_until, send_simple
from postroom.testing.sink import SinkBehaviour, SinkServer


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
        server, ses = await direct_server(
            postroom_factory,
            dns_server,
            dropping.port,
            account="mx",
            env={"POSTROOM_SMTP_TIMEOUT": "1"},
        )

        def send(to: str) -> str:
            return send_simple(ses, to)

        for to in ("a@drop.test", "b@stall.test"):
            events = await events_until(server, await asyncio.to_thread(send, to), "DeliveryDelay")
            delay = events[-1]["deliveryDelay"]
            assert events[-1]["eventType"] == "DeliveryDelay", events
            assert delay["delayType"] == "TransientCommunicationFailure", delay
            assert delay["delayedRecipients"][0]["status"].startswith("4.4")

        events = await events_until(
            server, await asyncio.to_thread(send, "c@reject.test"), "Bounce"
        )
        bounce = events[-1]["bounce"]
        assert events[-1]["eventType"] == "Bounce"
        assert "554 5.6.0 Message rejected" in bounce["bouncedRecipients"][0]["diagnosticCode"]
    finally:
        for sink in (rejecting, stalling, dropping):
            await sink.stop()
