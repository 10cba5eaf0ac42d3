"""Direct delivery: the API's message reaches the recipient's MX, found through DNS.

A test DNS server on 127.0.0.1 serves the zones; sink MX servers listen on other loopback
addresses (127.0.0.2, 127.0.0.3) on one port, which `--outbound-port` names.
"""

from __future__ import annotations

import asyncio
import email
import time
from collections.abc import AsyncIterator
from email.policy import default as default_policy
from typing import Any

import pytest

from postroom.testing.dns import TestDnsServer
from postroom.testing.scenarios import direct_server, send_simple
from postroom.testing.server import PostroomProcess
from postroom.testing.sink import SinkServer


@pytest.fixture
async def mx() -> AsyncIterator[SinkServer]:
    """The MX that answers, on 127.0.0.3; 127.0.0.2 on the same port refuses connections."""
    server = SinkServer(host="127.0.0.3")
    await server.start()
    yield server
    await server.stop()


def _zones(dns: TestDnsServer) -> None:
    dns.add("example.test", "MX", "10 mx1.example.test.")  # nothing listens there
    dns.add("example.test", "MX", "20 mx2.example.test.")
    dns.add("mx1.example.test", "A", "127.0.0.2")
    dns.add("mx2.example.test", "A", "127.0.0.3")
    dns.add("implicit.test", "A", "127.0.0.3")  # no MX: the domain's own address
    dns.add("nomail.test", "MX", "0 .")  # RFC 7505 null MX


async def _events(server: PostroomProcess, message_id: str, last: str) -> list[dict[str, Any]]:
    deadline = time.monotonic() + 20
    while True:
        shown = await asyncio.to_thread(server.cli_json, "messages", "show", message_id)
        events = list(shown["events"])
        if events[-1]["eventType"] == last or time.monotonic() > deadline:
            return events
        await asyncio.sleep(0.2)


async def test_mail_reaches_the_mx_found_in_dns(
    postroom_factory: Any, dns_server: TestDnsServer, mx: SinkServer
) -> None:
    _zones(dns_server)
    server, ses = await direct_server(
        postroom_factory, dns_server, mx.port, account="direct", max_rate="100"
    )

    def send(to: str) -> str:
        return send_simple(ses, to, source="App <app@sender.test>", subject="임시 비밀번호")

    first = await asyncio.to_thread(send, "user@example.test")
    [received] = await mx.wait_for(1, timeout=20)
    assert received.rcpt_tos == ["user@example.test"]
    assert received.mail_from == f"{first}@bounces.postroom.localhost"  # VERP
    parsed = email.message_from_bytes(received.data, policy=default_policy)
    assert parsed["Subject"] == "임시 비밀번호"
    events = await _events(server, first, "Delivery")
    delivery = events[-1]["delivery"]
    assert delivery["remoteMtaIp"] == "127.0.0.3"
    assert delivery["smtpResponse"].startswith("250")

    implicit = await asyncio.to_thread(send, "someone@implicit.test")
    await mx.wait_for(2, timeout=20)
    assert [e["eventType"] for e in await _events(server, implicit, "Delivery")][-1] == "Delivery"

    for to, status in (("a@nomail.test", "5.1.10"), ("b@nowhere.test", "5.1.2")):
        message_id = await asyncio.to_thread(send, to)
        bounced = (await _events(server, message_id, "Bounce"))[-1]
        assert bounced["eventType"] == "Bounce", bounced
        assert bounced["bounce"]["bounceType"] == "Permanent"
        assert bounced["bounce"]["bouncedRecipients"][0]["status"] == status
    assert len(mx.messages) == 2
