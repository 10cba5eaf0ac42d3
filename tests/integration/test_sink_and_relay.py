"""relay_message against the SinkServer (and a few hostile servers) on 127.0.0.1."""

from __future__ import annotations

import asyncio
import logging
import socket
import ssl
import sys
from collections.abc import AsyncIterator, Awaitable, Callable

import pytest

from postroom.delivery.relay import (
    RecipientResult,
    RelayConfig,
    TransportResult,
    parse_reply,
    relay_message,
)
from postroom.errors import SmtpReply
from postroom.testing.sink import SinkBehaviour, SinkServer

MESSAGE = b"From: a@sender.test\r\nTo: b@rcpt.test\r\nSubject: hi\r\n\r\nHello.\r\n"
MakeSink = Callable[..., Awaitable[SinkServer]]


def config_for(server: SinkServer, **overrides: object) -> RelayConfig:
    settings: dict[str, object] = {"helo_name": "client.postroom.test", "timeout": 5.0}
    settings.update(overrides)
    return RelayConfig("127.0.0.1", server.port, **settings)  # type: ignore[arg-type]


def codes(result: TransportResult) -> dict[str, tuple[int, str]]:
    return {r.recipient: (r.code, r.enhanced) for r in result.recipients}


@pytest.fixture
async def make_sink() -> AsyncIterator[MakeSink]:
    """Start sinks with any SinkServer options; all are stopped after the test."""
    started: list[SinkServer] = []

    async def factory(**kwargs: object) -> SinkServer:
        server = SinkServer(**kwargs)  # type: ignore[arg-type]
        await server.start()
        started.append(server)
        return server

    yield factory
    for server in started:
        await server.stop()


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


# --- plain delivery ---------------------------------------------------------------------

async def test_plain_delivery(sink: SinkServer) -> None:
    result = await relay_message(
        config_for(sink, starttls="off"), "a@sender.test", ["b@rcpt.test", "c@rcpt.test"],
        MESSAGE,
    )
    assert [r.recipient for r in result.recipients] == ["b@rcpt.test", "c@rcpt.test"]
    assert all(r.code == 250 and r.enhanced == "2.0.0" for r in result.recipients)
    assert result.remote_host == "127.0.0.1" and result.remote_ip == "127.0.0.1"
    [message] = await sink.wait_for(1)
    assert message.mail_from == "a@sender.test"
    assert message.rcpt_tos == ["b@rcpt.test", "c@rcpt.test"]
    assert message.data == MESSAGE
    assert message.tls is False and message.auth_login is None
    assert message.helo == "client.postroom.test"
    assert message.peer[0] == "127.0.0.1"
    assert message.mail_options == [f"SIZE={len(MESSAGE)}"]  # ASCII: no BODY, no SMTPUTF8


async def test_null_sender_line_endings_and_dot_stuffing(sink: SinkServer) -> None:
    data = b"Subject: dots\n\n.leading dot\n..two\nlast line without newline"
    result = await relay_message(config_for(sink), "", ["b@rcpt.test"], data)
    assert result.recipients[0].code == 250
    [message] = await sink.wait_for(1)
    assert message.mail_from == ""
    assert message.data == (
        b"Subject: dots\r\n\r\n.leading dot\r\n..two\r\nlast line without newline\r\n"
    )


async def test_no_recipients_does_not_connect() -> None:
    result = await relay_message(RelayConfig("127.0.0.1", closed_port()), "a@s.test", [], b"")
    assert result.recipients == []


# --- TLS --------------------------------------------------------------------------------

@pytest.mark.parametrize("mode", ["opportunistic", "require"])
async def test_starttls_verified_with_test_ca(
    tls_sink: SinkServer, tls_ca_file: str, mode: str
) -> None:
    config = config_for(tls_sink, starttls=mode, cafile=tls_ca_file)
    result = await relay_message(config, "a@sender.test", ["b@rcpt.test"], MESSAGE)
    assert codes(result) == {"b@rcpt.test": (250, "2.0.0")}
    [message] = await tls_sink.wait_for(1)
    assert message.tls is True


async def test_starttls_untrusted_certificate_is_a_4xx(tls_sink: SinkServer) -> None:
    # No cafile: the system trust store does not know the test CA.
    result = await relay_message(
        config_for(tls_sink, starttls="require"), "a@s.test", ["b@rcpt.test"], MESSAGE
    )
    [failure] = result.recipients
    assert (failure.code, failure.enhanced) == (421, "4.7.5")
    assert "certificate" in failure.text.lower()
    assert tls_sink.messages == []


async def test_starttls_without_verification(tls_sink: SinkServer) -> None:
    config = config_for(tls_sink, starttls="require", tls_verify=False)
    result = await relay_message(config, "a@s.test", ["b@rcpt.test"], MESSAGE)
    assert result.recipients[0].code == 250
    assert (await tls_sink.wait_for(1))[0].tls is True


async def test_unreadable_cafile_is_a_4xx(tls_sink: SinkServer) -> None:
    config = config_for(tls_sink, cafile="/nonexistent/ca.pem")
    result = await relay_message(config, "a@s.test", ["b@rcpt.test"], MESSAGE)
    assert (result.recipients[0].code, result.recipients[0].enhanced) == (421, "4.7.5")


async def test_require_tls_against_server_without_tls(sink: SinkServer) -> None:
    result = await relay_message(
        config_for(sink, starttls="require"), "a@s.test", ["b@rcpt.test", "c@rcpt.test"],
        MESSAGE,
    )
    assert codes(result) == {"b@rcpt.test": (421, "4.7.4"), "c@rcpt.test": (421, "4.7.4")}
    assert "not offered" in result.recipients[0].text
    assert sink.messages == []


async def test_opportunistic_falls_back_to_plaintext(sink: SinkServer) -> None:
    result = await relay_message(config_for(sink), "a@s.test", ["b@rcpt.test"], MESSAGE)
    assert result.recipients[0].code == 250
    assert (await sink.wait_for(1))[0].tls is False


async def test_server_requiring_tls_rejects_plaintext_client(
    make_sink: MakeSink, tls_server_context: ssl.SSLContext
) -> None:
    server = await make_sink(tls_context=tls_server_context, require_tls=True)
    result = await relay_message(
        config_for(server, starttls="off"), "a@s.test", ["b@rcpt.test"], MESSAGE
    )
    assert result.recipients[0].code == 530


async def test_implicit_tls(
    make_sink: MakeSink, tls_server_context: ssl.SSLContext, tls_ca_file: str
) -> None:
    server = await make_sink(tls_context=tls_server_context, implicit_tls=True)
    config = config_for(server, implicit_tls=True, cafile=tls_ca_file)
    result = await relay_message(config, "a@s.test", ["b@rcpt.test"], MESSAGE)
    assert result.recipients[0].code == 250
    assert (await server.wait_for(1))[0].tls is True


async def test_implicit_tls_against_plaintext_server(sink: SinkServer, tls_ca_file: str) -> None:
    config = config_for(sink, implicit_tls=True, cafile=tls_ca_file, timeout=2.0)
    result = await relay_message(config, "a@s.test", ["b@rcpt.test"], MESSAGE)
    assert result.recipients[0].code == 421
    assert result.recipients[0].enhanced.startswith("4.")


# --- AUTH -------------------------------------------------------------------------------

@pytest.mark.parametrize("mechanism", ["PLAIN", "LOGIN"])
async def test_auth_over_starttls(
    make_sink: MakeSink, tls_server_context: ssl.SSLContext, tls_ca_file: str,
    mechanism: str,
) -> None:
    server = await make_sink(
        tls_context=tls_server_context, auth={"relay-user": "s3cret"},
        auth_mechanisms=[mechanism],
    )
    config = config_for(
        server, starttls="require", cafile=tls_ca_file, username="relay-user",
        password="s3cret",
    )
    result = await relay_message(config, "a@s.test", ["b@rcpt.test"], MESSAGE)
    assert result.recipients[0].code == 250
    [message] = await server.wait_for(1)
    assert (message.auth_login, message.auth_mechanism, message.tls) == (
        "relay-user", mechanism, True,
    )


async def test_auth_wrong_password_is_535_and_never_logged(
    make_sink: MakeSink, tls_server_context: ssl.SSLContext, tls_ca_file: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    server = await make_sink(tls_context=tls_server_context, auth={"relay-user": "s3cret"})
    config = config_for(
        server, cafile=tls_ca_file, username="relay-user", password="not-the-password",
    )
    with caplog.at_level(logging.DEBUG):
        result = await relay_message(config, "a@s.test", ["b@rcpt.test", "c@rcpt.test"],
                                     MESSAGE)
    assert codes(result) == {"b@rcpt.test": (535, "5.7.8"), "c@rcpt.test": (535, "5.7.8")}
    assert "not-the-password" not in caplog.text
    assert "not-the-password" not in repr(config)
    assert server.messages == []


async def test_auth_required_but_not_attempted(
    make_sink: MakeSink, tls_server_context: ssl.SSLContext, tls_ca_file: str,
) -> None:
    server = await make_sink(tls_context=tls_server_context, auth={"u": "p"})
    result = await relay_message(
        config_for(server, cafile=tls_ca_file), "a@s.test", ["b@rcpt.test"], MESSAGE
    )
    assert result.recipients[0].code == 530


async def test_credentials_are_not_sent_in_clear(make_sink: MakeSink) -> None:
    # The sink would accept AUTH without TLS; opportunistic mode must still refuse.
    server = await make_sink(auth={"u": "p"})
    result = await relay_message(
        config_for(server, username="u", password="p"), "a@s.test", ["b@rcpt.test"], MESSAGE
    )
    assert (result.recipients[0].code, result.recipients[0].enhanced) == (421, "4.7.0")
    # ...unless the operator explicitly turned TLS off.
    result = await relay_message(
        config_for(server, starttls="off", username="u", password="p"), "a@s.test",
        ["b@rcpt.test"], MESSAGE,
    )
    assert result.recipients[0].code == 250
    assert (await server.wait_for(1))[0].auth_login == "u"


# --- replies ----------------------------------------------------------------------------

async def test_per_recipient_rejections(sink: SinkServer) -> None:
    sink.behaviour = SinkBehaviour(rcpt_replies={
        "gone@rcpt.test": "550 5.1.1 no such user",
        "busy@rcpt.test": "450 4.2.0 try later",
    })
    result = await relay_message(
        config_for(sink), "a@s.test", ["ok@rcpt.test", "gone@rcpt.test", "busy@rcpt.test"],
        MESSAGE,
    )
    assert result.recipients == [
        RecipientResult("ok@rcpt.test", 250, "2.0.0", "OK queued as sink-1"),
        RecipientResult("gone@rcpt.test", 550, "5.1.1", "no such user"),
        RecipientResult("busy@rcpt.test", 450, "4.2.0", "try later"),
    ]
    [message] = await sink.wait_for(1)
    assert message.rcpt_tos == ["ok@rcpt.test"]


async def test_all_recipients_rejected_sends_no_data(sink: SinkServer) -> None:
    sink.behaviour = SinkBehaviour(rcpt_replies={"@rcpt.test": "550 5.7.1 relay denied"})
    result = await relay_message(
        config_for(sink), "a@s.test", ["b@rcpt.test", "c@RCPT.test"], MESSAGE
    )
    assert codes(result) == {"b@rcpt.test": (550, "5.7.1"), "c@RCPT.test": (550, "5.7.1")}
    assert sink.received_count == 0


async def test_data_rejection_applies_to_accepted_recipients(sink: SinkServer) -> None:
    sink.behaviour = SinkBehaviour(
        rcpt_replies={"gone@rcpt.test": "550 5.1.1 no such user"},
        data_reply="554 5.7.1 message content rejected",
    )
    result = await relay_message(
        config_for(sink), "a@s.test", ["b@rcpt.test", "gone@rcpt.test", "c@rcpt.test"],
        MESSAGE,
    )
    assert codes(result) == {
        "b@rcpt.test": (554, "5.7.1"), "gone@rcpt.test": (550, "5.1.1"),
        "c@rcpt.test": (554, "5.7.1"),
    }
    assert result.recipients[0].text == "message content rejected"
    assert sink.messages == []


async def test_data_reply_callable(sink: SinkServer) -> None:
    seen: list[tuple[str, list[str]]] = []

    def answer(mail_from: str, rcpts: list[str]) -> str | None:
        seen.append((mail_from, rcpts))
        return "451 4.3.0 temporary local problem"

    sink.behaviour = SinkBehaviour(data_reply=answer)
    result = await relay_message(config_for(sink), "a@s.test", ["b@rcpt.test"], MESSAGE)
    assert codes(result) == {"b@rcpt.test": (451, "4.3.0")}
    assert seen == [("a@s.test", ["b@rcpt.test"])]


async def test_mail_from_rejection_applies_to_all(sink: SinkServer) -> None:
    sink.behaviour = SinkBehaviour(mail_reply="553 5.7.1 sender not allowed")
    result = await relay_message(config_for(sink), "a@s.test", ["b@r.test", "c@r.test"], MESSAGE)
    assert codes(result) == {"b@r.test": (553, "5.7.1"), "c@r.test": (553, "5.7.1")}


# --- connection failures ----------------------------------------------------------------

async def test_connection_refused() -> None:
    port = closed_port()
    result = await relay_message(
        RelayConfig("127.0.0.1", port, timeout=5), "a@s.test", ["b@r.test", "c@r.test"], MESSAGE
    )
    for recipient in result.recipients:
        assert (recipient.code, recipient.enhanced) == (421, "4.4.1")
        assert "Connection refused" in recipient.text
    assert result.remote_ip == "127.0.0.1"


@pytest.mark.parametrize("stage", ["EHLO", "MAIL", "RCPT", "DATA"])
async def test_server_drops_connection(sink: SinkServer, stage: str) -> None:
    sink.behaviour = SinkBehaviour(disconnect_at=stage)  # type: ignore[arg-type]
    result = await relay_message(config_for(sink), "a@s.test", ["b@r.test", "c@r.test"], MESSAGE)
    for recipient in result.recipients:
        assert (recipient.code, recipient.enhanced) == (421, "4.4.2")
        assert "lost" in recipient.text
    assert sink.messages == []


async def test_server_closes_before_greeting() -> None:
    async def hang_up(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.close()

    server = await asyncio.start_server(hang_up, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    async with server:
        result = await relay_message(
            RelayConfig("127.0.0.1", port, timeout=5), "a@s.test", ["b@r.test"], MESSAGE
        )
    assert (result.recipients[0].code, result.recipients[0].enhanced) == (421, "4.4.1")


async def test_greeting_rejection_keeps_server_reply() -> None:
    async def busy(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(b"554 5.3.2 no service here\r\n")
        await writer.drain()
        writer.close()

    server = await asyncio.start_server(busy, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    async with server:
        result = await relay_message(
            RelayConfig("127.0.0.1", port, timeout=5), "a@s.test", ["b@r.test"], MESSAGE
        )
    assert codes(result) == {"b@r.test": (554, "5.3.2")}


async def test_reply_timeout(sink: SinkServer) -> None:
    sink.behaviour = SinkBehaviour(data_delay=2.0)
    result = await relay_message(
        config_for(sink, timeout=0.3), "a@s.test", ["b@r.test"], MESSAGE
    )
    assert (result.recipients[0].code, result.recipients[0].enhanced) == (421, "4.4.2")
    assert "Timed out" in result.recipients[0].text


# --- 8BITMIME / SMTPUTF8 / SIZE -----------------------------------------------------------

EIGHT_BIT = "Subject: ascii header\r\n\r\nGrüße\r\n".encode()


async def test_8bit_body_uses_8bitmime(sink: SinkServer) -> None:
    result = await relay_message(config_for(sink), "a@s.test", ["b@r.test"], EIGHT_BIT)
    assert result.recipients[0].code == 250
    [message] = await sink.wait_for(1)
    assert "BODY=8BITMIME" in message.mail_options
    assert "SMTPUTF8" not in message.mail_options
    assert message.data == EIGHT_BIT


async def test_8bit_body_without_8bitmime_is_refused_locally(sink: SinkServer) -> None:
    sink.behaviour = SinkBehaviour(hide_extensions=frozenset({"8BITMIME", "SMTPUTF8"}))
    result = await relay_message(config_for(sink), "a@s.test", ["b@r.test"], EIGHT_BIT)
    assert codes(result) == {"b@r.test": (554, "5.6.3")}
    assert sink.received_count == 0


async def test_utf8_addresses_use_smtputf8(sink: SinkServer) -> None:
    data = "Subject: Grüße\r\n\r\nhi\r\n".encode()
    result = await relay_message(config_for(sink), "jörg@s.test", ["zoë@r.test"], data)
    assert result.recipients[0].code == 250
    [message] = await sink.wait_for(1)
    assert "SMTPUTF8" in message.mail_options
    assert (message.mail_from, message.rcpt_tos) == ("jörg@s.test", ["zoë@r.test"])


async def test_utf8_recipient_without_smtputf8(sink: SinkServer) -> None:
    sink.behaviour = SinkBehaviour(hide_extensions=frozenset({"SMTPUTF8"}))
    result = await relay_message(
        config_for(sink), "a@s.test", ["zoë@r.test", "zoe@r.test"], MESSAGE
    )
    assert codes(result) == {"zoë@r.test": (553, "5.6.7"), "zoe@r.test": (250, "2.0.0")}
    assert (await sink.wait_for(1))[0].rcpt_tos == ["zoe@r.test"]


async def test_utf8_header_without_smtputf8(sink: SinkServer) -> None:
    sink.behaviour = SinkBehaviour(hide_extensions=frozenset({"SMTPUTF8"}))
    data = "Subject: Grüße\r\n\r\nhi\r\n".encode()
    result = await relay_message(config_for(sink), "a@s.test", ["b@r.test"], data)
    assert codes(result) == {"b@r.test": (553, "5.6.7")}


async def test_message_over_size_limit(make_sink: MakeSink) -> None:
    server = await make_sink(data_size_limit=512)
    data = b"Subject: big\r\n\r\n" + b"x" * 998 + b"\r\n"
    result = await relay_message(config_for(server), "a@s.test", ["b@r.test"], data)
    assert codes(result) == {"b@r.test": (552, "5.3.4")}
    assert "exceeds" in result.recipients[0].text


# --- helpers ----------------------------------------------------------------------------

@pytest.mark.parametrize(
    ("code", "message", "expected"),
    [
        (250, "2.0.0 OK queued", SmtpReply(250, "2.0.0", "OK queued")),
        (550, "5.1.1 <x@y>: user unknown\n5.1.1 see https://help", SmtpReply(
            550, "5.1.1", "<x@y>: user unknown see https://help")),
        (451, "Try again later", SmtpReply(451, "", "Try again later")),
        (550, "4.2.0 mismatched class", SmtpReply(550, "", "4.2.0 mismatched class")),
        (250, "", SmtpReply(250, "", "")),
    ],
)
def test_parse_reply(code: int, message: str, expected: SmtpReply) -> None:
    assert parse_reply(code, message) == expected


async def test_wait_for_times_out(sink: SinkServer) -> None:
    with pytest.raises(TimeoutError, match="0 of 1"):
        await sink.wait_for(1, timeout=0.05)


async def test_sink_cli_prints_one_line_per_message() -> None:
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "postroom.testing.sink", "--port", "0",
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )
    try:
        assert process.stderr is not None and process.stdout is not None
        banner = await asyncio.wait_for(process.stderr.readline(), 10)
        port = int(banner.decode().rsplit(":", 1)[1])
        for n in range(2):
            result = await relay_message(
                RelayConfig("127.0.0.1", port, timeout=5), "a@s.test", [f"b{n}@r.test"], MESSAGE
            )
            assert result.recipients[0].code == 250
        lines = [await asyncio.wait_for(process.stdout.readline(), 10) for _ in range(2)]
        assert b"to=<b0@r.test>" in lines[0] and b"to=<b1@r.test>" in lines[1]
    finally:
        process.terminate()
        await process.wait()
