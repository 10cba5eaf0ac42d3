"""SIGKILL while direct deliveries are in flight: after a restart every message is
delivered (at least once), exactly as the MX saw it, and none is lost."""

from __future__ import annotations

import asyncio
import email
import time
from concurrent.futures import ThreadPoolExecutor
from email.policy import default as default_policy
from typing import Any

from postroom.testing.dns import TestDnsServer
from postroom.testing.scenarios import direct_args, direct_server, mx_zone, send_simple
from postroom.testing.sink import SinkBehaviour, SinkServer


async def test_killed_mid_delivery_loses_nothing(
    postroom_factory: Any, dns_server: TestDnsServer, engine_url: str, tmp_path: Any
) -> None:
    mx = SinkServer(host="127.0.0.3", behaviour=SinkBehaviour(data_delay=0.3))  # a slow MX
    await mx.start()
    try:
        mx_zone(dns_server, "example.test", "127.0.0.3")
        env = {"POSTROOM_LEASE_SECONDS": "2", "POSTROOM_WORKERS": "4"}
        data_dir = tmp_path / "node"
        server, ses = await direct_server(
            postroom_factory, dns_server, mx.port, account="crash", env=env,
            database_url=engine_url, data_dir=data_dir,
        )  # fmt: skip

        def send(i: int) -> str:
            return send_simple(ses, f"u{i}@example.test", subject=f"n{i}")

        with ThreadPoolExecutor(8) as pool:
            acknowledged = await asyncio.to_thread(lambda: list(pool.map(send, range(24))))
        await mx.wait_for(2, timeout=20)  # deliveries are under way...
        await asyncio.to_thread(server.kill)  # ...and the server dies with some in flight
        assert len(mx.messages) < len(acknowledged)

        restarted = await asyncio.to_thread(
            postroom_factory,
            *direct_args(dns_server, mx.port),
            database_url=engine_url,
            data_dir=data_dir,
            env=env,
        )
        deadline = time.monotonic() + 60
        while True:
            history = await asyncio.to_thread(
                restarted.cli_json, "messages", "list", "--account", "crash", "--limit", "100"
            )
            status = {m["message_id"]: m["status"] for m in history}
            if all(status.get(m) == "Delivery" for m in acknowledged):
                break
            assert time.monotonic() < deadline, status
            await asyncio.sleep(0.3)
        seen = {
            email.message_from_bytes(m.data, policy=default_policy)["Message-ID"]
            .strip("<>")
            .split("@")[0]
            for m in mx.messages
        }
        assert seen == set(acknowledged)  # every acknowledged message reached the MX
    finally:
        await mx.stop()
