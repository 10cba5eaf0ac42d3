"""PIPELINING (RFC 2920): with a server that offers it, MAIL FROM, every RCPT TO of a
message and DATA leave in one write, and each recipient still gets its own RCPT reply."""

from __future__ import annotations

import asyncio

from postroom.delivery.relay import RelayConfig, relay_message
from postroom.delivery.session_pool import SessionPool
from postroom.testing.sink import SinkBehaviour, SinkServer

MESSAGE = b"From: a@example.com\r\nTo: b@example.org\r\nSubject: s\r\n\r\nbody\r\n"


class WithholdingMx:
    """A hand-written MX that offers PIPELINING and answers nothing of the envelope until
    it has read MAIL, all RCPTs and DATA: a client that waits for each reply never gets one.
    It then sends all their replies in one write, the hardest case for a client reader."""

    def __init__(self, rcpt_replies: list[bytes]) -> None:
        self.rcpt_replies = rcpt_replies
        self.envelope: list[bytes] = []
        self.body = b""
        self.after: list[bytes] = []  # commands after the message
        self.server: asyncio.Server | None = None

    async def start(self) -> int:
        self.server = await asyncio.start_server(self.session, "127.0.0.1", 0)
        return int(self.server.sockets[0].getsockname()[1])

    async def session(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(b"220 mx.test ESMTP\r\n")
        assert (await reader.readline()).startswith(b"EHLO ")
        writer.write(b"250-mx.test\r\n250-PIPELINING\r\n250 8BITMIME\r\n")
        for _ in range(2 + len(self.rcpt_replies)):  # no reply until the whole group is in
            self.envelope.append(await asyncio.wait_for(reader.readline(), 5))
        replies = b"".join(self.rcpt_replies)
        writer.write(b"250 2.1.0 sender ok\r\n" + replies + b"354 go ahead\r\n")
        while (line := await reader.readline()) != b".\r\n":
            self.body += line
        writer.write(b"250 2.0.0 queued\r\n")
        while line := await reader.readline():
            self.after.append(line)
            writer.write(b"221 bye\r\n" if line == b"QUIT\r\n" else b"250 ok\r\n")
        writer.close()

    async def stop(self) -> None:
        assert self.server is not None
        self.server.close()
        await self.server.wait_closed()


async def test_the_envelope_goes_in_one_group_and_replies_stay_per_recipient() -> None:
    mx = WithholdingMx(
        [b"250 2.1.5 ok\r\n", b"550 5.1.1 <gone@example.org>: no such user\r\n", b"250 ok\r\n"]
    )
    port = await mx.start()
    try:
        config = RelayConfig(host="127.0.0.1", port=port, starttls="off", timeout=3)
        rcpts = ["one@example.org", "gone@example.org", "three@example.org"]
        result = await relay_message(config, "bounce@example.com", rcpts, MESSAGE)
    finally:
        await mx.stop()
    assert mx.envelope == [
        b"MAIL FROM:<bounce@example.com>\r\n",
        b"RCPT TO:<one@example.org>\r\n",
        b"RCPT TO:<gone@example.org>\r\n",
        b"RCPT TO:<three@example.org>\r\n",
        b"DATA\r\n",
    ]
    assert [(r.recipient, r.code, r.enhanced) for r in result.recipients] == [
        ("one@example.org", 250, "2.0.0"),
        ("gone@example.org", 550, "5.1.1"),
        ("three@example.org", 250, "2.0.0"),
    ]
    assert result.recipients[1].text == "<gone@example.org>: no such user"
    assert b"Subject: s\r\n" in mx.body
    assert mx.after == [b"QUIT\r\n"]


async def test_a_refused_sender_fails_the_whole_group() -> None:
    class RefusingMx(WithholdingMx):
        async def session(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            writer.write(b"220 mx.test ESMTP\r\n")
            await reader.readline()
            writer.write(b"250-mx.test\r\n250 PIPELINING\r\n")
            for _ in range(4):
                self.envelope.append(await asyncio.wait_for(reader.readline(), 5))
            writer.write(
                b"550 5.7.1 sender blocked\r\n503 5.5.1 no sender\r\n503 5.5.1 no sender\r\n"
                b"503 5.5.1 no valid recipients\r\n"
            )
            while line := await reader.readline():
                self.envelope.append(line)
                if line == b"QUIT\r\n":
                    writer.write(b"221 bye\r\n")
            writer.close()

    mx = RefusingMx([])
    port = await mx.start()
    try:
        config = RelayConfig(host="127.0.0.1", port=port, starttls="off", timeout=3)
        result = await relay_message(
            config, "x@example.com", ["a@example.org", "b@example.org"], MESSAGE
        )
    finally:
        await mx.stop()
    assert {(r.code, r.enhanced, r.text) for r in result.recipients} == {
        (550, "5.7.1", "sender blocked")
    }
    assert mx.envelope[3:] == [b"DATA\r\n", b"QUIT\r\n"]  # no content after the refusal


async def test_pipelining_with_aiosmtpd_and_a_reused_session(sink: SinkServer) -> None:
    sink.behaviour = SinkBehaviour(
        pipelining=True, rcpt_replies={"full@example.org": "452 4.2.2 mailbox full"}
    )
    config = RelayConfig(host="127.0.0.1", port=sink.port, starttls="off")
    pool = SessionPool()
    try:
        for i in range(3):
            rcpts = [f"a{i}@example.org", "full@example.org", f"b{i}@example.org"]
            result = await relay_message(config, "s@example.com", rcpts, MESSAGE, pool)
            assert [r.code for r in result.recipients] == [250, 452, 250]
        only_refused = await relay_message(
            config, "s@example.com", ["full@example.org"], MESSAGE, pool
        )
        assert only_refused.recipients[0].enhanced == "4.2.2"
        last = await relay_message(config, "s@example.com", ["z@example.org"], MESSAGE, pool)
        assert last.recipients[0].code == 250
    finally:
        await pool.close()
    received = await sink.wait_for(4)
    assert [m.rcpt_tos for m in received] == [
        ["a0@example.org", "b0@example.org"],
        ["a1@example.org", "b1@example.org"],
        ["a2@example.org", "b2@example.org"],
        ["z@example.org"],
    ]
    assert len({m.peer for m in received}) == 1  # one connection throughout


async def test_a_354_after_every_recipient_was_refused_gets_an_empty_message_then_rset() -> None:
    """RFC 2920 3.1: the client must not send the content when no RCPT was accepted; a
    server that answers DATA with 354 anyway is given the lone dot, then RSET."""
    mx = WithholdingMx([b"550 5.1.1 no such user\r\n"])
    port = await mx.start()
    try:
        config = RelayConfig(host="127.0.0.1", port=port, starttls="off", timeout=3)
        result = await relay_message(config, "x@example.com", ["gone@example.org"], MESSAGE)
    finally:
        await mx.stop()
    assert [(r.code, r.enhanced) for r in result.recipients] == [(550, "5.1.1")]
    assert mx.body == b"\r\n"  # the empty message: no line of the real one was sent
    assert mx.after == [b"RSET\r\n", b"QUIT\r\n"]
