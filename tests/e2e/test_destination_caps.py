"""One slow destination never starves the others: remote deliveries to one recipient
domain are capped (per_domain_concurrency) below the global cap (workers)."""

from __future__ import annotations

import asyncio
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from postroom.testing.dns import TestDnsServer
from postroom.testing.scenarios import direct_server, mx_zone, send_simple
from postroom.testing.sink import SinkBehaviour, SinkServer


async def test_slow_domain_does_not_starve_fast_one(
    postroom_factory: Any, dns_server: TestDnsServer
) -> None:
    slow = SinkServer(host="127.0.0.3", behaviour=SinkBehaviour(data_delay=2.0))
    await slow.start()
    fast = SinkServer(host="127.0.0.4", port=slow.port)
    await fast.start()
    try:
        mx_zone(dns_server, "slow.test", "127.0.0.3")
        mx_zone(dns_server, "fast.test", "127.0.0.4")
        server, ses = await direct_server(
            postroom_factory,
            dns_server,
            slow.port,
            account="caps",
            max_rate="500",
            env={"POSTROOM_WORKERS": "4", "POSTROOM_PER_DOMAIN_CONCURRENCY": "2"},
        )

        def send(to: str) -> str:  # botocore clients may be shared between threads
            return send_simple(ses, to)

        with ThreadPoolExecutor(6) as pool:
            await asyncio.to_thread(
                lambda: list(pool.map(send, [f"s{i}@slow.test" for i in range(6)]))
            )
        started = time.monotonic()
        with ThreadPoolExecutor(3) as pool:
            await asyncio.to_thread(
                lambda: list(pool.map(send, [f"f{i}@fast.test" for i in range(3)]))
            )
        await fast.wait_for(3, timeout=20)
        fast_done = time.monotonic() - started
        assert fast_done < 1.8, fast_done  # not stuck behind the 2 s slow MX
        assert len(slow.messages) <= 2  # the slow domain had at most its 2 slots so far
        await slow.wait_for(6, timeout=30)  # and it gets everything in the end
    finally:
        await fast.stop()
        await slow.stop()


async def test_domains_sharing_one_mail_server_share_its_cap(
    postroom_factory: Any, dns_server: TestDnsServer
) -> None:
    shared = SinkServer(host="127.0.0.3", behaviour=SinkBehaviour(data_delay=0.5))
    await shared.start()
    try:
        for domain in ("one.test", "two.test", "three.test"):  # hosted mail: one MX for all
            dns_server.add(domain, "MX", "10 mx.hosting.test.")
        dns_server.add("mx.hosting.test", "A", "127.0.0.3")
        server, ses = await direct_server(
            postroom_factory,
            dns_server,
            shared.port,
            account="hosted",
            max_rate="500",
            env={
                "POSTROOM_WORKERS": "12",
                "POSTROOM_PER_DOMAIN_CONCURRENCY": "4",
                "POSTROOM_PER_HOST_CONCURRENCY": "3",
            },
        )
        recipients = [f"u{i}@{d}" for d in ("one.test", "two.test", "three.test") for i in range(4)]
        with ThreadPoolExecutor(6) as pool:
            await asyncio.to_thread(
                lambda: list(pool.map(lambda to: send_simple(ses, to), recipients))
            )
        await shared.wait_for(12, timeout=30)
        assert shared.max_in_data == 3  # 12 could run at once; the host allowed 3
    finally:
        await shared.stop()
