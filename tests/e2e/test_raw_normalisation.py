"""SendRawEmail end to end (issue 8, item 1): raw mail is normalised once, before it is
stored, so the recipient's MX receives exactly the stored bytes, and a header smuggled
behind a bare CR never becomes a header line anywhere.
"""

from __future__ import annotations

import asyncio
import re
from email.message import EmailMessage
from typing import Any

import pytest
from botocore.exceptions import ClientError

from postroom.store import messages as message_store
from postroom.store.database import Database
from postroom.testing.dns import TestDnsServer
from postroom.testing.scenarios import direct_server, mx_zone
from postroom.testing.server import PostroomProcess
from postroom.testing.sink import SinkServer

SMUGGLER = (
    b"From: app@sender.test\r\n"
    b"To: user@example.test\r\n"
    b"X-Note: a\rFrom: ceo@bank.example\rBcc: hidden@evil.example\r\n"
    b"Subject: hi\r\n\r\nbody\r\n"
)


def _stored(server: PostroomProcess, message_id: str) -> bytes:
    """The message as the database holds it (what the worker signs and sends)."""
    url = server.database_url or f"sqlite:///{(server.data_dir / 'postroom.db').resolve()}"
    db = Database(url)
    try:
        found = db.query(lambda conn: message_store.load_record(conn, message_id))
    finally:
        db.close()
    assert found is not None
    return found[0].raw


async def test_stored_and_received_are_the_same_crlf_bytes(
    postroom_factory: Any, dns_server: TestDnsServer
) -> None:
    mx = SinkServer(host="127.0.0.3")
    await mx.start()
    try:
        mx_zone(dns_server, "example.test", "127.0.0.3")
        server, ses = await direct_server(postroom_factory, dns_server, mx.port, account="raw")

        with pytest.raises(ClientError) as caught:
            await asyncio.to_thread(ses.send_raw_email, RawMessage={"Data": SMUGGLER})
        error = caught.value.response["Error"]
        assert error["Code"] == "InvalidParameterValue"
        assert "'X-Note'" in error["Message"]

        msg = EmailMessage()  # what clients send: msg.as_string(), bare LF line ends
        msg["From"] = "App <app@sender.test>"
        msg["To"] = "user@example.test"
        msg["Subject"] = "Bare line ends"
        msg.set_content("line 1\nline 2\n")
        raw = msg.as_string().encode() + b"a bare\rCR in the body\n"
        sent = await asyncio.to_thread(ses.send_raw_email, RawMessage={"Data": raw})

        [received] = await mx.wait_for(1, timeout=20)
        assert received.rcpt_tos == ["user@example.test"]
        assert not re.search(rb"\r(?!\n)|(?<!\r)\n", received.data)
        assert received.data.endswith(b"line 1\r\nline 2\r\na bare\r\nCR in the body\r\n")
        assert await asyncio.to_thread(_stored, server, sent["MessageId"]) == received.data
        assert len(mx.messages) == 1  # the smuggler never went out
    finally:
        await mx.stop()
