"""A configuration set's TlsPolicy REQUIRE (issue 10): direct delivery of a message sent
with it defers rather than send it in the clear to an MX without STARTTLS, while the same
MX gets the same mail in the clear without the set (no per-domain policy)."""

from __future__ import annotations

import asyncio
from typing import Any

from postroom.testing.dns import TestDnsServer
from postroom.testing.scenarios import SENDER_DOMAIN, direct_server, events_until, mx_zone
from postroom.testing.sink import SinkServer


async def test_tls_require_of_a_set_never_sends_in_clear(
    postroom_factory: Any, dns_server: TestDnsServer
) -> None:
    plain = SinkServer(host="127.0.0.4")  # offers no STARTTLS
    await plain.start()
    try:
        mx_zone(dns_server, "plain.test", "127.0.0.4")
        server, ses = await direct_server(postroom_factory, dns_server, plain.port, account="cs")
        await asyncio.to_thread(
            ses.create_configuration_set, ConfigurationSet={"Name": "secure"}
        )
        await asyncio.to_thread(
            ses.put_configuration_set_delivery_options,
            ConfigurationSetName="secure", DeliveryOptions={"TlsPolicy": "Require"},
        )  # fmt: skip

        def send(to: str, **extra: Any) -> str:
            return str(ses.send_email(
                Source=f"app@{SENDER_DOMAIN}", Destination={"ToAddresses": [to]},
                Message={"Subject": {"Data": "s"}, "Body": {"Text": {"Data": "x"}}}, **extra,
            )["MessageId"])  # fmt: skip

        refused = await asyncio.to_thread(send, "a@plain.test", ConfigurationSetName="secure")
        events = await events_until(server, refused, "DeliveryDelay")
        assert [e["eventType"] for e in events] == ["Send", "DeliveryDelay"], events
        delayed = events[1]["deliveryDelay"]["delayedRecipients"][0]
        assert delayed["status"].startswith("4.7")  # deferred for want of TLS
        assert events[0]["mail"]["tags"]["ses:configuration-set"] == ["secure"]
        assert plain.messages == []  # nothing went out in the clear

        await asyncio.to_thread(send, "b@plain.test")  # no set: opportunistic, delivered
        [clear] = await plain.wait_for(1, timeout=20)
        assert not clear.tls and clear.rcpt_tos == ["b@plain.test"]
    finally:
        await plain.stop()
