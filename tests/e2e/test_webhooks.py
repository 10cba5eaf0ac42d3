"""End to end: a real `postroom serve` posts an account's events to a real HTTP receiver
on 127.0.0.1, signed; a receiver that refuses for a while gets everything afterwards, with
the attempts recorded; a SIGKILL before the publish loses no notification."""

from __future__ import annotations

import hashlib
import hmac
import json
import socket
import threading
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from postroom.testing.fixtures import ses_client
from postroom.testing.server import PostroomProcess

SECRET = "whsec_test_secret"
FAST_RETRIES = ("--webhook-retry-initial", "0.3")


def verify_signature(secret: str, header: str, body: bytes, tolerance: float = 300) -> bool:
    """The receiver's check, as docs/events.md shows it (independent of Postroom's code)."""
    parts = dict(item.split("=", 1) for item in header.split(","))
    timestamp = int(parts["t"])
    if abs(time.time() - timestamp) > tolerance:
        return False
    signed = f"{timestamp}.".encode() + body
    expected = hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected, parts["v1"])


class Receiver:
    """An HTTP receiver on 127.0.0.1: answers `refuse` times with 500, then 200."""

    def __init__(self, refuse: int = 0, port: int = 0) -> None:
        self.refuse = refuse
        self.received: list[tuple[dict[str, str], bytes, int]] = []
        self.lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                with receiver.lock:
                    status = 500 if receiver.refuse > 0 else 200
                    receiver.refuse -= 1
                    receiver.received.append((dict(self.headers.items()), body, status))
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                return None

        self.server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def accepted(self) -> list[tuple[dict[str, str], bytes]]:
        with self.lock:
            return [(h, b) for h, b, status in self.received if status == 200]

    def wait_for(self, count: int, timeout: float = 60.0) -> list[tuple[dict[str, str], bytes]]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = self.accepted()
            if len(found) >= count:
                return found
            time.sleep(0.1)
        raise AssertionError(f"{len(self.accepted())} of {count} events arrived: {self.received}")

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receivers() -> Iterator[Callable[..., Receiver]]:
    made: list[Receiver] = []

    def make(refuse: int = 0, port: int = 0) -> Receiver:
        made.append(Receiver(refuse, port))
        return made[-1]

    yield make
    for receiver in made:
        receiver.close()


def _sender(server: PostroomProcess, name: str) -> Any:
    creds = server.create_account(name)
    server.cli("accounts", "approve", name, "--max-rate", "1000", "--max-24h", "100000")
    ses = ses_client(server, creds)
    server.verify_address(ses, name, "sender@example.com")
    return ses


def _send(ses: Any, to: str) -> str:
    response = ses.send_email(
        Source="sender@example.com", Destination={"ToAddresses": [to]},
        Message={"Subject": {"Data": "hello"}, "Body": {"Text": {"Data": "hi"}}},
    )  # fmt: skip
    return str(response["MessageId"])


def _add_hook(server: PostroomProcess, account: str, url: str, events: str) -> str:
    added = server.cli_json(
        "webhooks", "add", "--account", account, "--url", url, "--events", events,
        "--secret", SECRET,
    )  # fmt: skip
    return str(added["id"])


def _events(arrived: list[tuple[dict[str, str], bytes]]) -> list[dict[str, Any]]:
    return [json.loads(body) for _, body in arrived]


def test_send_and_delivery_events_arrive_signed_and_as_the_history_shows_them(
    postroom_factory: Any, engine_url: str, receivers: Callable[..., Receiver]
) -> None:
    receiver, elsewhere = receivers(), receivers()
    server = postroom_factory(database_url=engine_url)
    ses = _sender(server, "hooked")
    _sender(server, "other")
    _add_hook(server, "hooked", receiver.url, "send,delivery")
    _add_hook(server, "other", elsewhere.url, "send,delivery")
    message_id = _send(ses, "user@example.org")
    arrived = receiver.wait_for(2)
    time.sleep(1.0)  # nothing else comes: no verification mail, no other account's events
    assert len(receiver.received) == 2 and elsewhere.received == []
    for headers, body in arrived:
        assert headers["Content-Type"] == "application/json"
        assert verify_signature(SECRET, headers["Postroom-Signature"], body)
        assert not verify_signature("another secret", headers["Postroom-Signature"], body)
    events = sorted(_events(arrived), key=lambda e: ["Send", "Delivery"].index(e["eventType"]))
    shown = server.cli_json("messages", "show", message_id)["events"]
    assert events == shown  # exactly the SES event-publishing JSON of the history
    assert events[1]["delivery"]["recipients"] == ["user@example.org"]
    assert len({h["Postroom-Event-Id"] for h, _ in arrived}) == 2


def test_a_receiver_that_refuses_for_a_while_gets_every_event_and_attempts_are_recorded(
    postroom_factory: Any, engine_url: str, receivers: Callable[..., Receiver]
) -> None:
    receiver = receivers(refuse=5)
    server = postroom_factory(*FAST_RETRIES, database_url=engine_url)
    ses = _sender(server, "retried")
    hook = _add_hook(server, "retried", receiver.url, "send,delivery")
    sent = {_send(ses, f"user{i}@example.org") for i in range(3)}
    arrived = receiver.wait_for(6)
    assert {e["mail"]["messageId"] for e in _events(arrived)} == sent
    assert sorted(e["eventType"] for e in _events(arrived)) == ["Delivery"] * 3 + ["Send"] * 3
    deliveries = server.cli_json("webhooks", "deliveries", hook)
    assert len(deliveries) == 6 and {d["state"] for d in deliveries} == {"delivered"}
    attempts = [a for d in deliveries for a in d["attempts"]]
    assert sorted(a["status"] for a in attempts) == [200] * 6 + [500] * 5
    assert all(a["duration_ms"] >= 0 and a["time"] for a in attempts)
    assert all(d["attempts"][-1]["status"] == 200 for d in deliveries)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_sigkill_before_the_publish_loses_no_notification(
    postroom_factory: Any, engine_url: str, receivers: Callable[..., Receiver]
) -> None:
    port = _free_port()  # the receiver is down: connections are refused
    env = {"POSTROOM_WEBHOOK_TIMEOUT": "2"}  # leases of a killed publisher end sooner
    server = postroom_factory(*FAST_RETRIES, database_url=engine_url, env=env)
    ses = _sender(server, "durable")
    hook = _add_hook(server, "durable", f"http://127.0.0.1:{port}/hook", "send")
    message_id = _send(ses, "user@example.org")
    deadline = time.monotonic() + 30
    while not server.cli_json("webhooks", "deliveries", hook)[0]["attempts"]:
        assert time.monotonic() < deadline, "the publisher never tried"
        time.sleep(0.2)
    server.kill()  # SIGKILL, notification not yet published

    receiver = receivers(port=port)
    postroom_factory(*FAST_RETRIES, database_url=engine_url, data_dir=server.data_dir, env=env)
    [(headers, body)] = receiver.wait_for(1, timeout=90)
    assert json.loads(body)["mail"]["messageId"] == message_id
    assert verify_signature(SECRET, headers["Postroom-Signature"], body)
