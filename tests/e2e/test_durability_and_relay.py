"""End to end: SIGKILL right after responses loses nothing; relay delivers to a real sink."""

from __future__ import annotations

import asyncio
import email
import json
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from email.policy import default as default_policy
from typing import Any

import pytest

from postroom.testing.fixtures import ses_client
from postroom.testing.server import PostroomProcess
from postroom.testing.sink import SinkBehaviour, SinkServer


def _approved_account(server: PostroomProcess, name: str, sender_domain: str) -> dict[str, str]:
    """An account out of the sandbox with `sender_domain` verified through its TXT record."""
    creds = server.create_account(name)
    server.cli("accounts", "approve", name, "--max-rate", "10000", "--max-24h", "1000000")
    return creds


def test_sigkill_after_acknowledgement_loses_nothing(
    postroom_factory: Any, engine_url: str
) -> None:
    server = postroom_factory(database_url=engine_url)
    creds = _approved_account(server, "durable", "example.com")
    ses = ses_client(server, creds)
    server.verify_address(ses, "durable", "sender@example.com")

    def send(i: int) -> str:
        client = ses_client(server, creds)
        response = client.send_email(
            Source="sender@example.com",
            Destination={"ToAddresses": [f"user{i}@example.org"]},
            Message={"Subject": {"Data": f"durable {i}"}, "Body": {"Text": {"Data": "x"}}},
        )
        return str(response["MessageId"])

    with ThreadPoolExecutor(8) as pool:
        acknowledged = list(pool.map(send, range(60)))
    server.kill()  # SIGKILL: no shutdown hooks, no flush

    restarted = postroom_factory(database_url=engine_url, data_dir=server.data_dir)
    history = restarted.cli_json("messages", "list", "--account", "durable", "--limit", "1000")
    found = {m["message_id"]: m["status"] for m in history}
    # Every acknowledged message survived: still queued (Send) or already delivered. Jobs the
    # killed worker had leased wait for their lease to expire, then another worker takes them.
    assert set(acknowledged) <= set(found)
    assert {found[mid] for mid in acknowledged} <= {"Send", "Delivery"}
    for mid in acknowledged[:3]:
        shown = restarted.cli_json("messages", "show", mid)
        assert shown["events"][0]["eventType"] == "Send"
        assert shown["events"][0]["mail"]["messageId"] == mid


async def _relaying_server(
    postroom_factory: Any, sink: SinkServer, region: str
) -> tuple[PostroomProcess, Any]:
    """A server relaying to `sink`, an approved account and sender@example.com verified
    through the link in the verification mail the sink received (it goes out by relay too)."""
    args = ("--delivery", "relay", "--relay", f"127.0.0.1:{sink.port}", "--relay-starttls", "off")
    server = await asyncio.to_thread(postroom_factory, *args)
    creds = await asyncio.to_thread(_approved_account, server, "relayer", "example.com")
    ses = ses_client(server, creds, region=region)
    await asyncio.to_thread(ses.verify_email_identity, EmailAddress="sender@example.com")
    [verification] = await sink.wait_for(1)
    assert verification.rcpt_tos == ["sender@example.com"]
    token = verification.data.decode().split("/verify/")[1].split()[0]
    await asyncio.to_thread(urllib.request.urlopen, f"{server.url}/verify/{token}", None, 10)
    return server, ses


async def test_relay_delivers_to_smarthost(postroom_factory: Any, sink: SinkServer) -> None:
    server, ses = await _relaying_server(postroom_factory, sink, "ap-northeast-2")
    response = await asyncio.to_thread(
        ses.send_email,
        Source="Sender <sender@example.com>",
        Destination={
            "ToAddresses": ["to@example.org"],
            "CcAddresses": ["cc@example.net"],
            "BccAddresses": ["hidden@example.net"],
        },
        Message={
            "Subject": {"Data": "임시 비밀번호", "Charset": "UTF-8"},
            "Body": {"Text": {"Data": "비밀번호: Xy7-42", "Charset": "UTF-8"}},
        },
        ReturnPath="sender+bounces@example.com",
    )
    # One SMTP transaction per recipient domain, all with the same message.
    received = (await sink.wait_for(3))[1:]
    # MAIL FROM is a VERP address naming the message (SES: <MessageId>@amazonses.com); the
    # ReturnPath stays where feedback goes, and had to be verified (user+label@ by user@).
    verp = f"{response['MessageId']}@bounces.postroom.localhost"
    assert {m.mail_from for m in received} == {verp}
    rcpts = sorted(r for m in received for r in m.rcpt_tos)
    assert rcpts == ["cc@example.net", "hidden@example.net", "to@example.org"]
    assert received[0].data == received[1].data
    mail = received[0]
    parsed = email.message_from_bytes(mail.data, policy=default_policy)
    assert parsed["Subject"] == "임시 비밀번호"
    assert "Bcc" not in parsed
    assert parsed["Message-ID"] == f"<{response['MessageId']}@ap-northeast-2.amazonses.com>"
    body = parsed.get_body(("plain",))
    assert body is not None and body.get_content().strip() == "비밀번호: Xy7-42"
    shown = await asyncio.to_thread(server.cli_json, "messages", "show", response["MessageId"])
    deadline = time.monotonic() + 10
    while [e["eventType"] for e in shown["events"]] != ["Send", "Delivery", "Delivery"]:
        assert time.monotonic() < deadline, json.dumps(shown)[:2000]
        await asyncio.sleep(0.2)
        shown = await asyncio.to_thread(server.cli_json, "messages", "show", response["MessageId"])
    deliveries = [e["delivery"] for e in shown["events"][1:]]
    assert all(d["smtpResponse"].startswith("250") for d in deliveries)
    assert sorted(r for d in deliveries for r in d["recipients"]) == rcpts


@pytest.mark.parametrize(
    "reply,event", [("550 5.1.1 No such user", "Bounce"), ("450 4.2.1 Try later", "DeliveryDelay")]
)
async def test_relay_rejections_become_events(
    postroom_factory: Any, sink: SinkServer, reply: str, event: str
) -> None:
    sink.behaviour = SinkBehaviour(rcpt_replies={"nobody@example.org": reply})
    server, ses = await _relaying_server(postroom_factory, sink, "us-east-1")
    response = await asyncio.to_thread(
        ses.send_email,
        Source="sender@example.com",
        Destination={"ToAddresses": ["nobody@example.org"]},
        Message={"Subject": {"Data": "hi"}, "Body": {"Text": {"Data": "x"}}},
    )
    deadline = time.monotonic() + 10
    while True:
        shown = await asyncio.to_thread(server.cli_json, "messages", "show", response["MessageId"])
        types = [e["eventType"] for e in shown["events"]]
        if event in types:
            break
        assert time.monotonic() < deadline, types
        await asyncio.sleep(0.2)
    detail = shown["events"][types.index(event)]
    if event == "Bounce":
        bounce = detail["bounce"]
        assert bounce["bounceType"] == "Permanent"
        assert bounce["bouncedRecipients"][0]["status"] == "5.1.1"
        assert "550 5.1.1 No such user" in bounce["bouncedRecipients"][0]["diagnosticCode"]
    else:
        delay = detail["deliveryDelay"]
        assert delay["delayedRecipients"][0]["emailAddress"] == "nobody@example.org"
        assert "450 4.2.1" in delay["delayedRecipients"][0]["diagnosticCode"]


async def test_relay_with_required_starttls_and_auth(
    postroom_factory: Any, tls_server_context: Any, tls_ca_file: str
) -> None:
    """`serve --relay-starttls require` with AUTH: the smarthost sees TLS and the login."""
    sink = SinkServer(tls_context=tls_server_context, require_tls=True, auth={"app": "s3cret"})
    await sink.start()
    try:
        args = (
            "--delivery", "relay", "--relay", f"localhost:{sink.port}",
            "--relay-starttls", "require", "--relay-cafile", tls_ca_file,
            "--relay-username", "app", "--relay-password", "s3cret",
        )  # fmt: skip
        server = await asyncio.to_thread(postroom_factory, *args)
        creds = await asyncio.to_thread(_approved_account, server, "tls", "example.com")
        ses = ses_client(server, creds)
        await asyncio.to_thread(ses.verify_email_identity, EmailAddress="sender@example.com")
        [verification] = await sink.wait_for(1)
        assert verification.tls and verification.auth_login == "app"
        assert verification.rcpt_tos == ["sender@example.com"]
        await asyncio.to_thread(server.stop)
        assert "s3cret" not in "".join(server.output)  # the password is never logged
    finally:
        await sink.stop()
