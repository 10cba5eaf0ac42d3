"""Delivery refuses recipients that are not mailboxes at host names (issue 8, item 5).

The API refuses domain literals now, but rows queued before that (or written by anything
that skipped the API) must not make the worker connect to an address of the sender's
choosing, nor send `RCPT TO:<u@[a;b<c>]>` to a smarthost: they bounce, permanently,
without a connection.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from postroom.clock import FakeClock
from postroom.config import HostPort, RelaySettings, Settings
from postroom.delivery.direct import direct_transport
from postroom.delivery.worker import Transport, relay_transport
from postroom.domain.sending import Caller, Submission
from postroom.services import STORE_ADMISSION, build_worker
from postroom.store import accounts as account_store
from postroom.store import messages as message_store
from postroom.store.database import Database
from postroom.testing.dns import TestDnsServer
from postroom.testing.sink import SinkServer
from postroom.wire.addresses import Address, parse_address

T0 = 1_800_000_000.0


@pytest.fixture
def db(sqlite_db: Database) -> Database:
    return sqlite_db


class Tripwire:
    """A TCP listener on 127.0.0.1 that records every connection and hangs up."""

    def __init__(self) -> None:
        self.peers: list[object] = []
        self.server: asyncio.Server | None = None

    async def _accept(self, _: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.peers.append(writer.get_extra_info("peername"))
        writer.close()

    @property
    def port(self) -> int:
        assert self.server is not None
        return int(self.server.sockets[0].getsockname()[1])


@pytest.fixture
async def tripwire() -> AsyncIterator[Tripwire]:
    wire = Tripwire()
    wire.server = await asyncio.start_server(wire._accept, "127.0.0.1", 0)
    yield wire
    wire.server.close()
    await wire.server.wait_closed()


def _unchecked(spec: str) -> Address:
    """An address as a row written before the validator refused it (no parsing)."""
    local, _, domain = spec.rpartition("@")
    return Address(raw=spec, display_name="", local=local, domain=domain)


def _queue(db: Database, message_id: str, recipients: list[Address]) -> str:
    def job(conn: object) -> str:
        account = account_store.insert_account(conn, message_id, T0)  # type: ignore[arg-type]
        submission = Submission(
            caller=Caller(account.id, "us-east-1"), operation="SendEmail",
            message_id=message_id, senders=[], recipients=recipients,
            envelope_from="app@example.com", source="app@example.com", subject="s",
            raw=b"Subject: s\r\n\r\nx\r\n", created_at=T0, internal=True,
        )  # fmt: skip
        return STORE_ADMISSION.admit(conn, submission)  # type: ignore[arg-type]

    return db.transact(job)  # type: ignore[arg-type]


async def _deliver_all(db: Database, settings: Settings, transport: Transport) -> None:
    worker = build_worker(db, settings, FakeClock(T0), transport)
    while await worker._claim_batch():
        await worker.drain()


def _bounces(db: Database, message_id: str) -> list[tuple[str, str, str]]:
    found = []
    for event in db.query(lambda c: message_store.events_of(c, message_id)):
        if event.event_type == "Bounce":
            detail = event.detail
            for recipient in detail["bouncedRecipients"]:
                found.append((recipient["emailAddress"], detail["bounceType"],
                              recipient["status"]))  # fmt: skip
    return found


async def test_direct_delivery_never_connects_to_an_address_literal(
    db: Database, dns_server: TestDnsServer, tripwire: Tripwire
) -> None:
    host, port = dns_server.address
    settings = Settings(delivery="direct", dns=HostPort(host, port), outbound_port=tripwire.port)
    literals = ["u@[127.0.0.1]", "v@[IPv6:::1]", "w@127.0.0.1"]
    message_ids = [_queue(db, f"lit-{i}", [_unchecked(r)]) for i, r in enumerate(literals)]

    await _deliver_all(db, settings, direct_transport(settings))

    assert tripwire.peers == []
    for message_id, recipient in zip(message_ids, literals, strict=True):
        [(address, bounce_type, status)] = _bounces(db, message_id)
        assert (address, bounce_type) == (recipient, "Permanent")
        assert status.startswith("5.1.")


async def test_junk_literals_never_reach_the_smarthost(db: Database, sink: SinkServer) -> None:
    relay = RelaySettings(host="127.0.0.1", port=sink.port, starttls="off")
    settings = Settings(relay=relay, delivery="relay")
    junk = [_unchecked("u@[a;b<c>]"), _unchecked("v@[127.0.0.1]"), _unchecked("w@exa mple.com")]
    bad = _queue(db, "junk", junk)
    good = _queue(db, "good", [parse_address("ok@example.org")])

    await _deliver_all(db, settings, relay_transport(settings))

    assert [m.rcpt_tos for m in sink.messages] == [["ok@example.org"]]
    assert sorted(_bounces(db, bad)) == sorted((a.addr_spec, "Permanent", "5.1.3") for a in junk)
    assert _bounces(db, good) == []
