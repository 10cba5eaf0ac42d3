"""Custom MAIL FROM: set through the API, verified by its MX record, then the domain of
every VERP envelope sender; RejectMessage refuses sends until then."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import botocore.exceptions
import pytest

from postroom.testing.dns import TestDnsServer
from postroom.testing.scenarios import direct_server, mx_zone
from postroom.testing.sink import SinkServer


async def test_custom_mail_from_domain(postroom_factory: Any, dns_server: TestDnsServer) -> None:
    mx = SinkServer(host="127.0.0.3")
    await mx.start()
    try:
        mx_zone(dns_server, "example.test", "127.0.0.3")
        server, ses = await direct_server(
            postroom_factory,
            dns_server,
            mx.port,
            account="mf",
            max_rate="50",
        )
        unset = await asyncio.to_thread(
            ses.get_identity_mail_from_domain_attributes, Identities=["sender.test"]
        )
        assert unset["MailFromDomainAttributes"]["sender.test"] == {
            "BehaviorOnMXFailure": "UseDefaultValue"
        }
        with pytest.raises(botocore.exceptions.ClientError) as info:
            await asyncio.to_thread(
                ses.set_identity_mail_from_domain, Identity="sender.test",
                MailFromDomain="bounce.elsewhere.test",
            )  # fmt: skip
        assert info.value.response["Error"]["Code"] == "InvalidParameterValue"

        await asyncio.to_thread(
            ses.set_identity_mail_from_domain, Identity="sender.test",
            MailFromDomain="bounce.sender.test", BehaviorOnMXFailure="RejectMessage",
        )  # fmt: skip

        def send() -> str:
            return str(ses.send_email(
                Source="app@sender.test", Destination={"ToAddresses": ["u@example.test"]},
                Message={"Subject": {"Data": "s"}, "Body": {"Text": {"Data": "x"}}},
            )["MessageId"])  # fmt: skip

        with pytest.raises(botocore.exceptions.ClientError) as refused:
            await asyncio.to_thread(send)
        assert refused.value.response["Error"]["Code"] == "MailFromDomainNotVerifiedException"
        assert refused.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400

        records = await asyncio.to_thread(
            server.cli, "identities", "dns-records", "sender.test", "--account", "mf"
        )
        mx_line = next(line for line in records.stdout.splitlines() if " MX " in line)
        assert mx_line.startswith("bounce.sender.test.")
        assert "v=spf1" in records.stdout
        dns_server.add("bounce.sender.test", "MX", mx_line.split(" MX ", 1)[1].strip())

        deadline = time.monotonic() + 15
        while True:
            attrs = (await asyncio.to_thread(
                ses.get_identity_mail_from_domain_attributes, Identities=["sender.test"]
            ))["MailFromDomainAttributes"]["sender.test"]  # fmt: skip
            if attrs["MailFromDomainStatus"] == "Success" or time.monotonic() > deadline:
                break
            await asyncio.sleep(0.5)
        assert attrs == {"MailFromDomain": "bounce.sender.test",
                         "MailFromDomainStatus": "Success",
                         "BehaviorOnMXFailure": "RejectMessage"}  # fmt: skip

        message_id = await asyncio.to_thread(send)
        [received] = await mx.wait_for(1, timeout=20)
        assert received.mail_from == f"{message_id}@bounce.sender.test"
    finally:
        await mx.stop()
