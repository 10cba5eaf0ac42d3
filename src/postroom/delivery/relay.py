"""Deliver one message over one SMTP connection (to a smarthost or an MX host) with aiosmtplib.

`relay_message` never raises for SMTP-level outcomes. Every recipient gets exactly one
`RecipientResult`: its RCPT reply when the server refused it, otherwise the reply to the
end of DATA. Failures before or during the transaction (connection refused or timed out,
TLS failure, lost connection, AUTH refused, MAIL refused) apply to every recipient that has
no result yet; locally generated ones are 4xx, as RFC 5321 4.2.5 / 4.5.4.1 expect from a
client that could not reach a verdict:

    421 4.4.1  cannot connect (refused, unreachable, timed out)
    421 4.4.2  connection lost or reply timed out mid-session
    421 4.7.4  TLS required, STARTTLS not offered or refused
    421 4.7.5  TLS handshake / certificate verification failed
    421 4.7.0  credentials configured but AUTH impossible, or refused to send them in clear
    553 5.6.7  non-ASCII address or header and SMTPUTF8 not offered (RFC 6531 3.2)
    554 5.6.3  8-bit body and neither 8BITMIME nor SMTPUTF8 offered (RFC 6152 3)
    552 5.3.4  message larger than the server's SIZE limit (RFC 1870 6)

MAIL and RCPT are sent with `SMTP.execute_command` rather than `mail()` / `rcpt()`: those
run addresses through `email.utils.parseaddr`, which may rewrite an envelope address, and
raise on refusals where we want the reply as a value.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import ipaddress
import logging
import re
import socket
import ssl
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal

from aiosmtplib import (
    SMTP,
    SMTPAuthenticationError,
    SMTPConnectError,
    SMTPConnectResponseError,
    SMTPConnectTimeoutError,
    SMTPException,
    SMTPHeloError,
    SMTPResponseException,
    SMTPServerDisconnected,
    SMTPTimeoutError,
)

from postroom.errors import SmtpReply

log = logging.getLogger(__name__)

StartTls = Literal["off", "opportunistic", "require"]

_ENHANCED = re.compile(r"^([245])\.(\d{1,3})\.(\d{1,3})(?:\s+|$)")
_LINE_ENDINGS = re.compile(rb"\r\n|\n|\r(?!\n)")
_QUIT_TIMEOUT = 5.0


@dataclass(frozen=True)
class RelayConfig:
    """Where and how to connect. `tls_verify` applies whenever TLS is used (also for
    opportunistic STARTTLS); `cafile` replaces the system trust store when given."""

    host: str
    port: int
    starttls: StartTls = "opportunistic"
    implicit_tls: bool = False
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    tls_verify: bool = True
    cafile: str | None = None
    helo_name: str | None = None
    timeout: float = 30.0
    server_name: str | None = None  # name the certificate must carry when `host` is an IP


@dataclass(frozen=True)
class RecipientResult:
    recipient: str
    code: int
    enhanced: str  # '' when the server gave none
    text: str

    @property
    def reply(self) -> SmtpReply:
        return SmtpReply(self.code, self.enhanced, self.text)


@dataclass(frozen=True)
class TransportResult:
    recipients: list[RecipientResult]  # one per recipient, in the order given
    remote_host: str
    remote_ip: str | None


def parse_reply(code: int, message: str) -> SmtpReply:
    """Split aiosmtplib's reply text into enhanced code and text (RFC 3463 section 2).

    Multi-line replies arrive joined by newlines, each line possibly repeating the
    enhanced code; the result is one line of text."""
    enhanced = ""
    parts: list[str] = []
    for line in message.splitlines() or [""]:
        match = _ENHANCED.match(line)
        if match and match.group(1) == str(code)[:1]:
            enhanced = enhanced or ".".join(match.groups())
            line = line[match.end() :]
        parts.append(line.strip())
    return SmtpReply(code, enhanced, " ".join(p for p in parts if p))


class _Abort(Exception):
    """Ends the session early; `reply` goes to every recipient without a result."""

    def __init__(self, reply: SmtpReply) -> None:
        super().__init__(str(reply))
        self.reply = reply


@functools.lru_cache(maxsize=32)
def _client_context(verify: bool, cafile: str | None) -> ssl.SSLContext:
    context = ssl.create_default_context(cafile=cafile)
    if not verify:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    return context


@functools.lru_cache(maxsize=1)
def _default_helo_name() -> str:
    return socket.getfqdn() or "localhost"


def _ip_literal(host: str) -> str | None:
    try:
        return str(ipaddress.ip_address(host.strip("[]")))
    except ValueError:
        return None


def _wire_size(data: bytes) -> int:
    """Octets as sent in DATA (CRLF line endings), for the SIZE parameter (RFC 1870)."""
    normalized = _LINE_ENDINGS.sub(b"\r\n", data)
    return len(normalized) + (0 if normalized.endswith(b"\r\n") else 2)


def _header_section(data: bytes) -> bytes:
    for separator in (b"\r\n\r\n", b"\n\n"):
        end = data.find(separator)
        if end >= 0:
            return data[:end]
    return data


def _path(address: str, utf8: bool) -> bytes:
    return b"<" + address.encode("utf-8" if utf8 else "ascii") + b">"


def _failure_reply(exc: BaseException, stage: str, where: str) -> SmtpReply:
    """Translate an exception raised while talking to `where` into a reply value."""
    if isinstance(exc, SMTPConnectTimeoutError):
        return SmtpReply(421, "4.4.1", f"Connection to {where} timed out")
    if isinstance(exc, SMTPConnectResponseError):  # the greeting was not 220
        return parse_reply(exc.code, exc.message)
    if isinstance(exc, SMTPConnectError):
        cause = exc.__cause__
        if isinstance(cause, ssl.SSLError):
            return SmtpReply(421, "4.7.5", f"TLS handshake with {where} failed: {cause}")
        if isinstance(cause, ConnectionRefusedError):
            return SmtpReply(421, "4.4.1", f"Connection refused by {where}")
        return SmtpReply(421, "4.4.1", f"Cannot connect to {where}: {cause or exc}")
    if isinstance(exc, ssl.SSLError):
        return SmtpReply(421, "4.7.5", f"TLS handshake with {where} failed: {exc}")
    if isinstance(exc, SMTPTimeoutError | TimeoutError):
        return SmtpReply(421, "4.4.2", f"Timed out waiting for {where} during {stage}")
    if isinstance(exc, SMTPResponseException):
        return parse_reply(exc.code, exc.message)
    if isinstance(exc, SMTPServerDisconnected | OSError):
        return SmtpReply(421, "4.4.2", f"Connection to {where} lost during {stage}")
    return SmtpReply(421, "4.3.0", f"{type(exc).__name__} during {stage} with {where}: {exc}")


class _Session:
    """One delivery attempt: connect, EHLO, STARTTLS, AUTH, MAIL, RCPT..., DATA, QUIT."""

    def __init__(self, config: RelayConfig) -> None:
        self.config = config
        self.recipients: list[str] = []
        self.replies: dict[int, SmtpReply] = {}
        self.opened = False
        self.reusable = False
        self.uses = 0
        self.remote_ip = _ip_literal(config.host)
        self.stage = "connect"
        self.where = f"{config.host}:{config.port}"
        self.smtp = SMTP(
            hostname=config.host,
            port=config.port,
            use_tls=config.implicit_tls,
            start_tls=False,  # we decide about STARTTLS ourselves, after EHLO
            timeout=config.timeout,
            local_hostname=config.helo_name,
        )

    async def run(
        self, mail_from: str, recipients: Sequence[str], data: bytes, *, keep_open: bool = False
    ) -> TransportResult:
        """One transaction; with `keep_open` a session that ended cleanly stays connected
        for the next message (`reusable`), else it is closed with QUIT."""
        self.recipients, self.replies, self.reusable = list(recipients), {}, False
        clean = False
        try:
            if not self.opened:  # a reused session ended its last transaction cleanly, so
                await self._open()  # the server is back in its initial state (RFC 5321 3.3)
                self.opened = True
            self.uses += 1
            await self._transaction(mail_from, data)
            clean = True
        except _Abort as abort:
            self._fail_pending(abort.reply)
        except (TimeoutError, SMTPException, OSError) as exc:
            self._fail_pending(_failure_reply(exc, self.stage, self.where))
        finally:
            if keep_open and clean and self.smtp.is_connected:
                self.reusable = True
            else:
                await self._close()
        results = [
            RecipientResult(
                rcpt, self.replies[i].code, self.replies[i].enhanced, self.replies[i].text
            )
            for i, rcpt in enumerate(self.recipients)
        ]
        return TransportResult(results, self.config.host, self.remote_ip)

    def _fail_pending(self, reply: SmtpReply) -> None:
        for index in range(len(self.recipients)):
            self.replies.setdefault(index, reply)

    async def _open(self) -> None:
        try:
            self.smtp.tls_context = _client_context(self.config.tls_verify, self.config.cafile)
        except (OSError, ssl.SSLError) as exc:  # e.g. unreadable cafile: an operator fix
            raise _Abort(SmtpReply(421, "4.7.5", f"Cannot load TLS settings: {exc}")) from exc
        if self.smtp.local_hostname is None:
            self.smtp.local_hostname = await asyncio.to_thread(_default_helo_name)
        self.stage = "connect"
        await self.smtp.connect()
        peer = self.smtp.get_transport_info("peername")
        if isinstance(peer, tuple) and peer:
            self.remote_ip = str(peer[0])
        await self._hello()
        if self.config.starttls != "off" and not self.config.implicit_tls:
            await self._starttls()
        if self.config.username is not None:
            await self._login(self.config.username, self.config.password or "")

    async def _hello(self) -> None:
        self.stage = "EHLO"
        try:
            await self.smtp.ehlo()
        except SMTPHeloError:  # RFC 5321 3.2: fall back to HELO
            self.stage = "HELO"
            await self.smtp.helo()

    def _tls_active(self) -> bool:
        return self.smtp.get_transport_info("sslcontext") is not None

    async def _starttls(self) -> None:
        required = self.config.starttls == "require"
        if not self.smtp.supports_extension("starttls"):
            if required:
                raise _Abort(
                    SmtpReply(421, "4.7.4", f"TLS is required, but was not offered by {self.where}")
                )
            return
        self.stage = "STARTTLS"
        try:
            await self.smtp.starttls(server_hostname=self.config.server_name or self.config.host)
        except SMTPResponseException as exc:  # e.g. 454: the session is still plaintext
            if required:
                raise _Abort(
                    SmtpReply(
                        421,
                        "4.7.4",
                        f"TLS is required, but {self.where} refused STARTTLS: "
                        f"{exc.code} {exc.message}",
                    )
                ) from exc
            log.info("STARTTLS refused by %s (%s); continuing without TLS", self.where, exc.code)
            return
        await self._hello()  # RFC 3207 4.2: forget what we knew, ask again

    async def _login(self, username: str, password: str) -> None:
        self.stage = "AUTH"
        if not self._tls_active() and self.config.starttls != "off":
            raise _Abort(
                SmtpReply(421, "4.7.0", f"Refusing to send credentials to {self.where} without TLS")
            )
        if not self.smtp.supported_auth_methods:
            offered = self.smtp.esmtp_extensions.get("auth", "")
            raise _Abort(
                SmtpReply(
                    421,
                    "4.7.0",
                    f"{self.where} offers no usable AUTH mechanism ({offered or 'no AUTH'})",
                )
            )
        try:
            await self.smtp.login(username, password)
        except SMTPAuthenticationError as exc:
            raise _Abort(parse_reply(exc.code, exc.message)) from exc

    async def _transaction(self, mail_from: str, data: bytes) -> None:
        options, utf8 = self._mail_parameters(mail_from, data)
        if len(self.replies) == len(self.recipients):
            return  # nothing left to send to
        self.stage = "MAIL FROM"
        try:
            reply = await self._command(
                b"MAIL", b"FROM:" + _path(mail_from, utf8), *(o.encode() for o in options)
            )
        except ValueError as exc:  # control characters in the address
            raise _Abort(SmtpReply(501, "5.1.7", "Bad sender address syntax")) from exc
        if reply.code // 100 != 2:
            raise _Abort(reply)
        accepted = await self._send_recipients(utf8)
        if accepted:
            reply = await self._data(data)
            for index in accepted:
                self.replies[index] = reply
        else:  # every RCPT refused: end the open transaction so the session can be reused
            self.stage = "RSET"
            await self._command(b"RSET")

    async def _send_recipients(self, utf8: bool) -> list[int]:
        accepted: list[int] = []
        for index, recipient in enumerate(self.recipients):
            if index in self.replies:
                continue
            self.stage = "RCPT TO"
            try:
                reply = await self._command(b"RCPT", b"TO:" + _path(recipient, utf8))
            except ValueError:
                reply = SmtpReply(501, "5.1.3", "Bad recipient address syntax")
            if reply.code in (250, 251):
                accepted.append(index)
            else:
                self.replies[index] = reply
        return accepted

    async def _data(self, data: bytes) -> SmtpReply:
        self.stage = "DATA"
        try:
            response = await self.smtp.data(data)
        except SMTPResponseException as exc:  # 354 refused, or the final reply not 250
            return parse_reply(exc.code, exc.message)
        return parse_reply(response.code, response.message)

    async def _command(self, *args: bytes) -> SmtpReply:
        response = await self.smtp.execute_command(*args)
        return parse_reply(response.code, response.message)

    def _mail_parameters(self, mail_from: str, data: bytes) -> tuple[list[str], bool]:
        """MAIL FROM parameters (SIZE, BODY, SMTPUTF8) and whether to send UTF-8 paths.

        May refuse the whole message (_Abort) or single non-ASCII recipients (self.replies)
        when the server lacks an extension the message needs."""
        offers = self.smtp.supports_extension
        options: list[str] = []
        if offers("size"):
            size = _wire_size(data)
            limit = self.smtp.esmtp_extensions.get("size", "")
            if limit.isdigit() and 0 < int(limit) < size:
                raise _Abort(
                    SmtpReply(
                        552,
                        "5.3.4",
                        f"Message size {size} exceeds the limit {limit} of {self.where}",
                    )
                )
            options.append(f"SIZE={size}")
        utf8_rcpts = [i for i, r in enumerate(self.recipients) if not r.isascii()]
        utf8_message = not mail_from.isascii() or not _header_section(data).isascii()
        utf8 = (utf8_message or bool(utf8_rcpts)) and offers("smtputf8")
        if utf8:
            options.append("SMTPUTF8")
        elif utf8_message:
            raise _Abort(
                SmtpReply(
                    553, "5.6.7", f"SMTPUTF8 is required, but was not offered by {self.where}"
                )
            )
        else:
            for index in utf8_rcpts:
                self.replies[index] = SmtpReply(
                    553, "5.6.7", f"SMTPUTF8 is required, but was not offered by {self.where}"
                )
        if not data.isascii():
            if offers("8bitmime"):
                options.append("BODY=8BITMIME")
            elif not utf8:  # SMTPUTF8 implies 8BITMIME support (RFC 6531 3.1)
                raise _Abort(
                    SmtpReply(
                        554,
                        "5.6.3",
                        f"8-bit message content, but {self.where} did not offer 8BITMIME",
                    )
                )
        return options, utf8

    async def _close(self) -> None:
        if self.smtp.is_connected:
            with contextlib.suppress(SMTPException, OSError, TimeoutError):
                await self.smtp.quit(timeout=min(_QUIT_TIMEOUT, self.config.timeout))
        self.smtp.close()


class SessionPool:
    """Sessions kept open after a clean transaction, per server and settings, for the next
    message to the same place (connection caching, as Postfix's scache does): no new TCP,
    EHLO, STARTTLS and AUTH for every message. Idle sessions are dropped after a while."""

    def __init__(self, idle_seconds: float = 5.0, per_server: int = 8, max_uses: int = 100) -> None:
        self.idle_seconds = idle_seconds
        self.per_server = per_server
        self.max_uses = max_uses
        self._idle: dict[RelayConfig, list[tuple[float, _Session]]] = {}

    def take(self, config: RelayConfig) -> _Session | None:
        now = time.monotonic()
        idle = self._idle.get(config, [])
        while idle:
            since, session = idle.pop()
            if now - since < self.idle_seconds and session.smtp.is_connected:
                return session
            session.smtp.close()
        return None

    async def give(self, config: RelayConfig, session: _Session) -> None:
        idle = self._idle.setdefault(config, [])
        if len(idle) >= self.per_server or session.uses >= self.max_uses:
            await session._close()
            return
        idle.append((time.monotonic(), session))

    async def close(self) -> None:
        for idle in self._idle.values():
            for _since, session in idle:
                await session._close()
        self._idle.clear()


async def relay_message(
    config: RelayConfig, mail_from: str, recipients: Sequence[str], data: bytes,
    pool: SessionPool | None = None,
) -> TransportResult:  # fmt: skip
    """Send `data` from `mail_from` to `recipients` through the server in `config`.

    `mail_from` may be '' (the null reverse-path of bounces). See the module docstring
    for how failures map to per-recipient results; this never raises for them."""
    if not recipients:
        return TransportResult([], config.host, _ip_literal(config.host))
    session = pool.take(config) if pool is not None else None
    reused = session is not None
    session = session or _Session(config)
    result = await session.run(mail_from, recipients, data, keep_open=pool is not None)
    if reused and all(r.enhanced == "4.4.2" for r in result.recipients):
        # The kept connection had gone stale (the server closed it while idle): try once
        # more on a fresh one before reporting anything.
        session = _Session(config)
        result = await session.run(mail_from, recipients, data, keep_open=pool is not None)
    if pool is not None and session.reusable:
        await pool.give(config, session)
    log.info(
        "relay via %s (%s): %s",
        session.where,
        result.remote_ip or "-",
        ", ".join(f"{r.recipient}={r.code}" for r in result.recipients),
    )
    return result
