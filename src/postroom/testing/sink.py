"""A recipient / smarthost SMTP sink for tests and benchmarks, built on aiosmtpd.

The sink runs in the caller's event loop (``await sink.start()``) on 127.0.0.1 and an
OS-chosen port. aiosmtpd's threaded ``Controller`` is not used on purpose: it "triggers"
its lazily created server by connecting to ``(host, port)``, which cannot work with port 0.

It can offer STARTTLS (or implicit TLS), require it, require AUTH (PLAIN / LOGIN against a
username -> password table) and answer MAIL / RCPT / DATA with scripted replies or by
dropping the connection (``SinkBehaviour``), which is what transport tests need.

    python -m postroom.testing.sink --host 127.0.0.1 --port 2525

runs one from the command line and prints a line per message (for benchmarks).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import ssl
import sys
import warnings
import weakref
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session

log = logging.getLogger(__name__)

DataReply = str | Callable[[str, list[str]], str | None] | None
Stage = Literal["EHLO", "MAIL", "RCPT", "DATA"]


@dataclass
class ReceivedMessage:
    """One message the sink accepted (DATA answered with 2xx)."""

    mail_from: str
    rcpt_tos: list[str]
    data: bytes
    peer: tuple[str, int]
    tls: bool
    auth_login: str | None
    mail_options: list[str] = field(default_factory=list)
    auth_mechanism: str | None = None
    helo: str | None = None


@dataclass
class SinkBehaviour:
    """Scripted answers; anything left unset gets aiosmtpd's normal 250.

    Replies are full reply lines such as ``'550 5.1.1 no such user'``.
    ``rcpt_replies`` keys are addresses or ``'@domain'`` (case-insensitive).
    ``data_reply`` may be a callable ``(mail_from, accepted_rcpts) -> reply | None``.
    ``disconnect_at`` drops the connection instead of answering that command ("DATA" drops
    it after the message was read, before the final reply). ``data_delay`` waits before the
    final DATA reply (for timeout tests). ``hide_extensions`` leaves EHLO keywords out
    (e.g. ``{'8BITMIME', 'SMTPUTF8'}``); ``pipelining`` adds PIPELINING (RFC 2920) to
    them, which aiosmtpd honours in practice by reading one command line at a time.
    """

    mail_reply: str | None = None
    rcpt_replies: dict[str, str] = field(default_factory=dict)
    data_reply: DataReply = None
    disconnect_at: Stage | None = None
    data_delay: float = 0.0
    hide_extensions: frozenset[str] = frozenset()
    pipelining: bool = False

    def rcpt_reply(self, address: str) -> str | None:
        replies = {k.lower(): v for k, v in self.rcpt_replies.items()}
        address = address.lower()
        domain = "@" + address.rpartition("@")[2]
        return replies.get(address, replies.get(domain))

    def final_data_reply(self, mail_from: str, rcpt_tos: list[str]) -> str | None:
        if callable(self.data_reply):
            return self.data_reply(mail_from, rcpt_tos)
        return self.data_reply


def _reverse_path(envelope: Envelope) -> str:
    # aiosmtpd reports the null reverse-path (MAIL FROM:<>) as the string '<>'.
    return "" if envelope.mail_from == "<>" else envelope.mail_from or ""


def _uses_tls(server: SMTP) -> bool:
    transport = server.transport
    return transport is not None and transport.get_extra_info("ssl_object") is not None


async def _drop(server: SMTP) -> str:
    """Close the connection without a reply; aiosmtpd then cancels the session task."""
    transport = server.transport
    if isinstance(transport, asyncio.WriteTransport):
        transport.abort()
    elif transport is not None:
        transport.close()
    await asyncio.sleep(5)  # normally cancelled by connection_lost before this ends
    return "421 4.3.0 connection dropped"


class _QuietSession(Session):
    """aiosmtpd 1.4's own smtp_AUTH assigns the deprecated `login_data`, which logs a
    warning on every successful AUTH; a plain attribute keeps the log readable."""

    login_data: Any = None


class _SinkSMTP(SMTP):
    def _create_session(self) -> Session:
        return _QuietSession(self.loop)


class _Handler:
    """aiosmtpd handler hooks (``handle_*``) that consult the sink's behaviour."""

    def __init__(self, sink: SinkServer) -> None:
        self.sink = sink

    async def handle_EHLO(
        self,
        server: SMTP,
        session: Session,
        envelope: Envelope,
        hostname: str,
        responses: list[str],
    ) -> list[str]:
        # With the 5-argument hook aiosmtpd no longer records the name itself.
        session.host_name = hostname
        if self.sink.behaviour.disconnect_at == "EHLO":
            return [await _drop(server)]
        hidden = {k.upper() for k in self.sink.behaviour.hide_extensions}
        lines = [r[4:] for r in responses if r[4:].split(" ")[0].upper() not in hidden]
        if self.sink.behaviour.pipelining:
            lines.insert(1, "PIPELINING")
        return [f"250-{line}" for line in lines[:-1]] + [f"250 {lines[-1]}"]

    async def handle_MAIL(
        self,
        server: SMTP,
        session: Session,
        envelope: Envelope,
        address: str,
        mail_options: list[str],
    ) -> str:
        behaviour = self.sink.behaviour
        if behaviour.disconnect_at == "MAIL":
            return await _drop(server)
        if behaviour.mail_reply is not None:
            return behaviour.mail_reply
        envelope.mail_from = address
        envelope.mail_options.extend(mail_options)
        return "250 2.1.0 OK"

    async def handle_RCPT(
        self,
        server: SMTP,
        session: Session,
        envelope: Envelope,
        address: str,
        rcpt_options: list[str],
    ) -> str:
        behaviour = self.sink.behaviour
        if behaviour.disconnect_at == "RCPT":
            return await _drop(server)
        reply = behaviour.rcpt_reply(address)
        if reply is not None:
            return reply
        envelope.rcpt_tos.append(address)
        envelope.rcpt_options.extend(rcpt_options)
        return "250 2.1.5 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        behaviour = self.sink.behaviour
        if behaviour.data_delay:
            self.sink.in_data += 1  # transactions at their end of DATA at once, for caps
            self.sink.max_in_data = max(self.sink.max_in_data, self.sink.in_data)
            try:
                await asyncio.sleep(behaviour.data_delay)
            finally:
                self.sink.in_data -= 1
        if behaviour.disconnect_at == "DATA":
            return await _drop(server)
        reply = behaviour.final_data_reply(_reverse_path(envelope), list(envelope.rcpt_tos))
        if reply is not None and not reply.startswith("2"):
            return reply
        number = self.sink._record(self._message(server, session, envelope))
        return reply or f"250 2.0.0 OK queued as sink-{number}"

    async def handle_exception(self, error: Exception) -> str:
        # e.g. the client gave up during the STARTTLS handshake (bad certificate)
        log.info("sink session error: %r", error)
        return f"421 4.3.0 sink error: {type(error).__name__}"

    def _message(self, server: SMTP, session: Session, envelope: Envelope) -> ReceivedMessage:
        auth = session.auth_data if session.authenticated else None
        peer = session.peer if isinstance(session.peer, tuple) else ("", 0)
        return ReceivedMessage(
            mail_from=_reverse_path(envelope),
            rcpt_tos=list(envelope.rcpt_tos),
            data=envelope.original_content or b"",
            peer=(str(peer[0]), int(peer[1])),
            tls=_uses_tls(server),
            auth_login=auth[0] if auth else None,
            mail_options=list(envelope.mail_options),
            auth_mechanism=auth[1] if auth else None,
            helo=session.host_name,
        )


class SinkServer:
    """An SMTP server that records what it accepts. See the module docstring."""

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        tls_context: ssl.SSLContext | None = None,
        require_tls: bool = False,
        implicit_tls: bool = False,
        auth: dict[str, str] | None = None,
        auth_mechanisms: Sequence[str] = ("PLAIN", "LOGIN"),
        behaviour: SinkBehaviour | None = None,
        hostname: str = "sink.postroom.test",
        data_size_limit: int = 32 * 1024 * 1024,
        keep_messages: bool = True,
        on_message: Callable[[ReceivedMessage], None] | None = None,
    ) -> None:
        if (require_tls or implicit_tls) and tls_context is None:
            raise ValueError("require_tls / implicit_tls need a tls_context")
        self.host = host
        self._requested_port = port
        self.tls_context = tls_context
        self.require_tls = require_tls
        self.implicit_tls = implicit_tls
        self.auth = auth
        self.auth_mechanisms = [m.upper() for m in auth_mechanisms]
        self.behaviour = behaviour or SinkBehaviour()
        self.hostname = hostname
        self.data_size_limit = data_size_limit
        self.keep_messages = keep_messages
        self.on_message = on_message
        self.messages: list[ReceivedMessage] = []
        self.received_count = 0
        self.in_data = 0  # with a data_delay: sessions waiting for their DATA reply now
        self.max_in_data = 0
        self._arrived = asyncio.Event()
        self._server: asyncio.Server | None = None
        self._sessions: weakref.WeakSet[SMTP] = weakref.WeakSet()

    @property
    def port(self) -> int:
        if self._server is None or not self._server.sockets:
            raise RuntimeError("sink is not started")
        return int(self._server.sockets[0].getsockname()[1])

    @property
    def address(self) -> tuple[str, int]:
        return self.host, self.port

    async def start(self) -> None:
        loop = asyncio.get_running_loop()
        self._arrived = asyncio.Event()
        self._server = await loop.create_server(
            self._factory,
            host=self.host,
            port=self._requested_port,
            ssl=self.tls_context if self.implicit_tls else None,
        )

    async def stop(self) -> None:
        if self._server is None:
            return
        self._server.close()
        for session in list(self._sessions):
            if session.transport is not None:
                session.transport.close()
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(self._server.wait_closed(), 5)
        self._server = None

    async def __aenter__(self) -> SinkServer:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    async def wait_for(self, count: int, timeout: float = 10.0) -> list[ReceivedMessage]:
        """Wait until at least `count` messages were accepted; returns all kept so far."""
        try:
            async with asyncio.timeout(timeout):
                while self.received_count < count:
                    self._arrived.clear()
                    await self._arrived.wait()
        except TimeoutError:
            raise TimeoutError(
                f"sink got {self.received_count} of {count} messages in {timeout}s"
            ) from None
        return list(self.messages)

    def clear(self) -> None:
        self.messages.clear()
        self.received_count = 0

    def _record(self, message: ReceivedMessage) -> int:
        self.received_count += 1
        if self.keep_messages:
            self.messages.append(message)
        if self.on_message is not None:
            self.on_message(message)
        self._arrived.set()
        return self.received_count

    def _factory(self) -> SMTP:
        excluded = [m for m in ("PLAIN", "LOGIN") if m not in self.auth_mechanisms]
        with warnings.catch_warnings():
            # aiosmtpd warns when AUTH is allowed without TLS; tests do that on purpose.
            warnings.simplefilter("ignore")
            server = _SinkSMTP(
                _Handler(self),
                hostname=self.hostname,
                data_size_limit=self.data_size_limit,
                enable_SMTPUTF8=True,
                tls_context=None if self.implicit_tls else self.tls_context,
                require_starttls=self.require_tls and not self.implicit_tls,
                auth_required=self.auth is not None,
                # aiosmtpd only counts STARTTLS as TLS, so implicit TLS must relax this.
                auth_require_tls=self.tls_context is not None and not self.implicit_tls,
                auth_exclude_mechanism=excluded,
                authenticator=self._authenticate,
                timeout=60,
            )
        self._sessions.add(server)
        return server

    def _authenticate(
        self,
        server: SMTP,
        session: Session,
        envelope: Envelope,
        mechanism: str,
        auth_data: Any,
    ) -> AuthResult:
        if not isinstance(auth_data, LoginPassword) or self.auth is None:
            return AuthResult(success=False, handled=False)
        login = auth_data.login.decode("utf-8", "replace")
        password = auth_data.password.decode("utf-8", "replace")
        if self.auth.get(login) != password:
            return AuthResult(success=False, handled=False)
        return AuthResult(success=True, auth_data=(login, mechanism))


def _describe(message: ReceivedMessage) -> str:
    rcpts = ",".join(message.rcpt_tos)
    return (
        f"{message.peer[0]}:{message.peer[1]} from=<{message.mail_from}> to=<{rcpts}> "
        f"size={len(message.data)} tls={'yes' if message.tls else 'no'}"
        f" auth={message.auth_login or '-'}"
    )


def _server_context(cert: str | None, key: str | None) -> ssl.SSLContext | None:
    if not cert:
        return None
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    return context


async def _serve(args: argparse.Namespace) -> None:
    auth = dict(pair.split(":", 1) for pair in args.auth) if args.auth else None
    sink = SinkServer(
        args.host,
        args.port,
        tls_context=_server_context(args.tls_cert, args.tls_key),
        auth=auth,
        keep_messages=False,
        on_message=None if args.quiet else lambda m: print(_describe(m), flush=True),
    )
    await sink.start()
    print(f"sink listening on {args.host}:{sink.port}", file=sys.stderr, flush=True)
    try:
        await asyncio.Event().wait()
    finally:
        await sink.stop()


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Postroom SMTP sink (accepts everything)")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=2525)
    parser.add_argument("--tls-cert", help="PEM certificate chain; enables STARTTLS")
    parser.add_argument("--tls-key", help="PEM private key (if not in --tls-cert)")
    parser.add_argument("--auth", action="append", help="user:password (repeatable)")
    parser.add_argument("--quiet", action="store_true", help="do not print per message")
    args = parser.parse_args(argv)
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(_serve(args))


if __name__ == "__main__":
    main()
