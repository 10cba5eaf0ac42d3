"""Per-domain TLS policy for direct delivery: "require" uses STARTTLS, and defers rather
than send in the clear to an MX that does not offer it; others stay opportunistic."""

from __future__ import annotations

import asyncio
import ssl
import time
from pathlib import Path
from typing import Any

from postroom.testing.dns import TestDnsServer
from postroom.testing.scenarios import direct_server, mx_zone, send_simple
from postroom.testing.sink import SinkServer


async def test_require_tls_per_domain(
    postroom_factory: Any, dns_server: TestDnsServer, tls_server_context: ssl.SSLContext,
    tmp_path: Path,
) -> None:  # fmt: skip
    secure = SinkServer(host="127.0.0.3", tls_context=tls_server_context)  # offers STARTTLS
    await secure.start()
    plain = SinkServer(host="127.0.0.4", port=secure.port)  # no STARTTLS, same port
    await plain.start()
    try:
        mx_zone(dns_server, "secure.test", "127.0.0.3")
        mx_zone(dns_server, "plain.test", "127.0.0.4")
        dns_server.add("relaxed.test", "MX", "10 mx.plain.test.")
        config = tmp_path / "postroom.toml"
        config.write_text('[tls_policy]\n"secure.test" = "require"\n"plain.test" = "require"\n')
        server, ses = await direct_server(
            postroom_factory,
            dns_server,
            secure.port,
            account="tls",
            env={"POSTROOM_CONFIG": str(config)},
        )

        def send(to: str) -> str:
            return send_simple(ses, to)

        await asyncio.to_thread(send, "a@secure.test")
        [received] = await secure.wait_for(1, timeout=20)
        assert received.tls  # STARTTLS was used

        refused = await asyncio.to_thread(send, "b@plain.test")
        deadline = time.monotonic() + 20
        while True:
            shown = await asyncio.to_thread(server.cli_json, "messages", "show", refused)
            types = [e["eventType"] for e in shown["events"]]
            if "DeliveryDelay" in types or time.monotonic() > deadline:
                break
            await asyncio.sleep(0.2)
        assert types == ["Send", "DeliveryDelay"], types
        delayed = shown["events"][1]["deliveryDelay"]["delayedRecipients"][0]
        assert delayed["status"].startswith("4.7")  # deferred for want of TLS
        assert plain.messages == []  # nothing went out in the clear

        await asyncio.to_thread(send, "c@relaxed.test")  # same MX, no policy: delivered
        [clear] = await plain.wait_for(1, timeout=20)
        assert not clear.tls and clear.rcpt_tos == ["c@relaxed.test"]
    finally:
        await plain.stop()
        await secure.stop()
