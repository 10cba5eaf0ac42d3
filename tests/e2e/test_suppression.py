"""The account-level suppression list: hard bounces and complaints suppress; a policy
block does not; suppressed addresses bounce without a delivery attempt; the CLI edits it."""

from __future__ import annotations

import asyncio
from typing import Any

from postroom.testing.dns import TestDnsServer
from postroom.testing.scenarios import direct_server, events_until, mx_zone, send_simple
from postroom.testing.server import PostroomProcess
from postroom.testing.sink import SinkBehaviour, SinkServer


async def _last_event(server: PostroomProcess, message_id: str, want: str) -> dict[str, Any]:
    return (await events_until(server, message_id, want))[-1]


async def test_hard_bounces_suppress_and_policy_blocks_do_not(
    postroom_factory: Any, dns_server: TestDnsServer
) -> None:
    mx = SinkServer(host="127.0.0.3", behaviour=SinkBehaviour(rcpt_replies={
        "gone@example.test": "550 5.1.1 <gone@example.test>: Recipient address rejected: "
                             "User unknown in virtual mailbox table",
        "blocked@example.test": "550 5.7.1 Service unavailable; Client host [127.0.0.1] "
                                "blocked using zen.spamhaus.org",
    }))  # fmt: skip
    await mx.start()
    try:
        mx_zone(dns_server, "example.test", "127.0.0.3")
        server, ses = await direct_server(
            postroom_factory,
            dns_server,
            mx.port,
            account="supp",
            max_rate="50",
        )

        def send(to: str) -> str:
            return send_simple(ses, to)

        hard = await _last_event(server, await asyncio.to_thread(send, "gone@example.test"),
                                 "Bounce")  # fmt: skip
        assert (hard["bounce"]["bounceType"], hard["bounce"]["bounceSubType"]) == (
            "Permanent", "NoEmail")  # fmt: skip
        policy = await _last_event(
            server, await asyncio.to_thread(send, "blocked@example.test"), "Bounce"
        )
        # A block list refusal is about the sender, not the mailbox: not suppressed.
        assert (policy["bounce"]["bounceType"], policy["bounce"]["bounceSubType"]) == (
            "Transient", "General")  # fmt: skip
        listed = await asyncio.to_thread(server.cli_json, "suppression", "list",
                                         "--account", "supp")  # fmt: skip
        assert [(e["address"], e["reason"]) for e in listed] == [("gone@example.test", "BOUNCE")]

        attempts_before = len(mx.messages)
        sessions_before = mx.received_count
        again = await _last_event(server, await asyncio.to_thread(send, "Gone@example.test"),
                                  "Bounce")  # fmt: skip
        assert again["bounce"]["bounceSubType"] == "OnAccountSuppressionList"
        assert again["bounce"]["bouncedRecipients"][0]["status"] == "5.1.1"
        assert len(mx.messages) == attempts_before
        assert mx.received_count == sessions_before  # nothing reached the MX

        await asyncio.to_thread(server.cli, "suppression", "remove", "gone@example.test",
                                "--account", "supp")  # fmt: skip
        await asyncio.to_thread(server.cli, "suppression", "add", "fresh@example.test",
                                "--account", "supp", "--reason", "COMPLAINT")  # fmt: skip
        listed = await asyncio.to_thread(server.cli_json, "suppression", "list",
                                         "--account", "supp")  # fmt: skip
        assert [(e["address"], e["reason"]) for e in listed] == [("fresh@example.test",
                                                                  "COMPLAINT")]  # fmt: skip
        blocked = await _last_event(server, await asyncio.to_thread(send, "fresh@example.test"),
                                    "Bounce")  # fmt: skip
        assert blocked["bounce"]["bounceSubType"] == "OnAccountSuppressionList"
        other = await asyncio.to_thread(server.create_account, "other")
        assert other  # lists are per account: another account's list is empty
        assert (
            await asyncio.to_thread(server.cli_json, "suppression", "list", "--account", "other")
            == []
        )
    finally:
        await mx.stop()
