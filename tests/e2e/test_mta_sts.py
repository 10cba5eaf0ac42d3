"""MTA-STS (RFC 8461) in direct delivery: an enforced policy sends mail only over verified
TLS to the MX hosts it names; an MX it does not name gets nothing."""

from __future__ import annotations

import asyncio
import ssl
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import trustme

from postroom.config import HostPort
from postroom.delivery.dns import make_resolver
from postroom.delivery.mta_sts import MtaSts, mx_matches, parse_policy
from postroom.testing.dns import TestDnsServer
from postroom.testing.scenarios import direct_server, mx_zone, send_simple
from postroom.testing.sink import SinkServer

POLICY = "version: STSv1\r\nmode: enforce\r\nmx: mx.example.test\r\nmax_age: 86400\r\n"


def _chunked(body: bytes, size: int) -> bytes:
    chunks = [body[i : i + size] for i in range(0, len(body), size)]
    return b"".join(b"%x\r\n%s\r\n" % (len(c), c) for c in chunks) + b"0\r\n\r\n"


def _policy_response(host: str) -> bytes:
    """What the policy server answers for `Host: mta-sts.<domain>`."""
    body = POLICY.encode()
    if host == "mta-sts.chunked.test":  # Transfer-Encoding: chunked, as many servers send
        head = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
        return head.encode() + _chunked(body, 7)
    if host == "mta-sts.huge.test":  # over the 64 KiB a policy may have
        head = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
        return head.encode() + _chunked(body + b"#" * 70_000 + b"\r\n", 4096)
    if host == "mta-sts.moved.test":  # RFC 8461 3.3: redirects are not followed
        return (
            b"HTTP/1.1 301 Moved\r\nLocation: https://mta-sts.example.test/"
            b".well-known/mta-sts.txt\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
        )
    head = f"HTTP/1.1 200 OK\r\nContent-Length: {len(body)}\r\nConnection: close\r\n\r\n"
    return head.encode() + body


POLICY_HOSTS = ("example.test", "wrongmx.test", "chunked.test", "huge.test", "moved.test")


@pytest.fixture
async def policy_server(tls_ca: trustme.CA) -> AsyncIterator[int]:
    """HTTPS on 127.0.0.6 serving the policies of POLICY_HOSTS (see _policy_response)."""
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    tls_ca.issue_cert(*(f"mta-sts.{d}" for d in POLICY_HOSTS)).configure_cert(context)

    async def answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        request = (await reader.readuntil(b"\r\n\r\n")).decode()
        host = next(
            line.split(":", 1)[1].strip()
            for line in request.split("\r\n")
            if line.lower().startswith("host:")
        )
        writer.write(_policy_response(host))
        await writer.drain()
        writer.close()

    server = await asyncio.start_server(answer, "127.0.0.6", 0, ssl=context)
    yield server.sockets[0].getsockname()[1]
    server.close()
    await server.wait_closed()


async def test_policy_fetch_over_https(
    dns_server: TestDnsServer, policy_server: int, tls_ca_file: str
) -> None:
    for domain in POLICY_HOSTS:
        dns_server.add(f"_mta-sts.{domain}", "TXT", "v=STSv1; id=1")
        dns_server.add(f"mta-sts.{domain}", "A", "127.0.0.6")
    dns_server.add("_mta-sts.untrusted.test", "TXT", "v=STSv1; id=1")
    dns_server.add("mta-sts.untrusted.test", "A", "127.0.0.6")  # certificate lacks this name
    sts = MtaSts(
        make_resolver(HostPort(*dns_server.address)), port=policy_server, cafile=tls_ca_file
    )
    chunked = await sts.policy("chunked.test")
    assert chunked is not None and chunked.mx == ("mx.example.test",)
    assert chunked.mode == "enforce" and chunked.max_age == 86400
    assert await sts.policy("huge.test") is None
    assert await sts.policy("moved.test") is None
    assert await sts.policy("untrusted.test") is None
    assert await sts.policy("nopolicy.test") is None  # no TXT record at all


async def test_enforced_policy(
    postroom_factory: Any, dns_server: TestDnsServer, tls_server_context: ssl.SSLContext,
    tls_ca_file: str, policy_server: int, tmp_path: Path,
) -> None:  # fmt: skip
    mx = SinkServer(host="127.0.0.3", tls_context=tls_server_context)  # cert: mx.example.test
    await mx.start()
    stray = SinkServer(host="127.0.0.4", port=mx.port, tls_context=tls_server_context)
    await stray.start()
    try:
        mx_zone(dns_server, "example.test", "127.0.0.3")
        dns_server.add("wrongmx.test", "MX", "10 mx.wrongmx.test.")  # not in its policy
        dns_server.add("mx.wrongmx.test", "A", "127.0.0.4")
        for domain in ("example.test", "wrongmx.test"):
            dns_server.add(f"_mta-sts.{domain}", "TXT", "v=STSv1; id=20261130T000000")
            dns_server.add(f"mta-sts.{domain}", "A", "127.0.0.6")
        server, ses = await direct_server(
            postroom_factory,
            dns_server,
            mx.port,
            account="sts",
            max_rate="50",
            env={"POSTROOM_MTA_STS_PORT": str(policy_server), "POSTROOM_TLS_CAFILE": tls_ca_file},
        )

        def send(to: str) -> str:
            return send_simple(ses, to)

        await asyncio.to_thread(send, "a@example.test")
        [received] = await mx.wait_for(1, timeout=20)
        assert received.tls

        refused = await asyncio.to_thread(send, "b@wrongmx.test")
        deadline = time.monotonic() + 20
        while True:
            shown = await asyncio.to_thread(server.cli_json, "messages", "show", refused)
            if shown["events"][-1]["eventType"] != "Send" or time.monotonic() > deadline:
                break
            await asyncio.sleep(0.2)
        delay = shown["events"][-1]["deliveryDelay"]
        assert delay["delayedRecipients"][0]["status"] == "4.7.5"
        assert "MTA-STS" in delay["delayedRecipients"][0]["diagnosticCode"]
        assert stray.messages == []
    finally:
        await stray.stop()
        await mx.stop()


def test_policy_parsing_and_mx_patterns() -> None:
    policy = parse_policy(POLICY.replace("mx: mx.example.test", "mx: *.example.test"), "1")
    assert policy is not None and policy.mode == "enforce" and policy.max_age == 86400
    assert policy.allows("mx1.example.test") and not policy.allows("a.b.example.test")
    assert mx_matches("mx.example.test", "MX.Example.Test.")
    assert parse_policy("version: STSv1\nmode: enforce\nmax_age: 10\n", "1") is None  # no mx
    assert parse_policy("version: STSv2\nmode: none\nmax_age: 10\n", "1") is None
