"""Reputation: hard bounces put an account under review at 5 %, pause it at 10 %, and an
operator's `accounts resume` lifts the pause (SES enforcement, ses-spec.md section 5)."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import botocore.exceptions
import pytest

from postroom.testing.dns import TestDnsServer
from postroom.testing.scenarios import direct_server
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
        server, ses = await direct_server(
            postroom_factory,
            dns_server,
            mx.port,
            account="rep",
            max_rate="500",
            env={"POSTROOM_REPUTATION_INTERVAL": "0.2", "POSTROOM_REPUTATION_MIN_VOLUME": "20"},
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

        # The tenant cannot lift reputation's pause (issue 8): 403, still paused.
        with pytest.raises(botocore.exceptions.ClientError) as denied:
            await asyncio.to_thread(ses.update_account_sending_enabled, Enabled=True)
        error = denied.value.response["Error"]
        assert (error["Code"], denied.value.response["ResponseMetadata"]["HTTPStatusCode"]) == (
            "AccessDenied", 403
        )
        assert error["Message"].startswith(
            "Sending for this account was paused by the operator because of its bounce or "
            "complaint rate (reputation enforcement SHUTDOWN: bounce rate 13.04% (3/23)"
        )
        assert error["Message"].endswith(
            "only the operator can resume it (postroom accounts resume rep)."
        )
        assert (await asyncio.to_thread(ses.get_account_sending_enabled))["Enabled"] is False
        with pytest.raises(botocore.exceptions.ClientError) as still:
            await asyncio.to_thread(send, "later@live.test")
        assert still.value.response["Error"]["Code"] == "AccountSendingPausedException"

        await asyncio.to_thread(server.cli, "accounts", "resume", "rep")
        assert await _enforcement(server, "HEALTHY") == "HEALTHY"
        await asyncio.to_thread(send, "back@live.test")
        await asyncio.sleep(0.6)  # rates were reset: a new assessment keeps it healthy
        assert await _enforcement(server, "HEALTHY") == "HEALTHY"
    finally:
        await mx.stop()
