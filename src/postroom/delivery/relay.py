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

MAIL and RCPT go out as raw command lines through `pipelining.exchange` rather than
`mail()` / `rcpt()`: those run addresses through `email.utils.parseaddr`, which may rewrite
an envelope address, and raise on refusals where we want the reply as a value. When the
server offers PIPELINING (RFC 2920), MAIL, all RCPTs of a message and DATA go in one write.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import ipaddress
import logging
import socket
import ssl
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal

from aiosmtplib import (
    SMTP,
    SMTPAuthenticationError,
    SMTPException,
    SMTPHeloError,
    SMTPResponseException,
)

from postroom.delivery import pipelining
from postroom.delivery.session_pool import SessionPool
from postroom.delivery.smtp_extensions import mail_parameters
from postroom.delivery.smtp_replies import SessionAbort, failure_reply, parse_reply
from postroom.errors import SmtpReply

log = logging.getLogger(__name__)

StartTls = Literal["off", "opportunistic", "require"]

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


def _path(address: str, utf8: bool) -> bytes:
    return b"<" + address.encode("utf-8" if utf8 else "ascii") + b">"


class SmtpSession:
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
        except SessionAbort as abort:
            self._fail_pending(abort.reply)
        except (TimeoutError, SMTPException, OSError) as exc:
            self._fail_pending(failure_reply(exc, self.stage, self.where))
        finally:
            if keep_open and clean and self.smtp.is_connected:
                self.reusable = True
            else:
                await self.close()
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
            raise SessionAbort(SmtpReply(421, "4.7.5", f"Cannot load TLS settings: {exc}")) from exc
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
                raise SessionAbort(
                    SmtpReply(421, "4.7.4", f"TLS is required, but was not offered by {self.where}")
                )
            return
        self.stage = "STARTTLS"
        try:
            await self.smtp.starttls(server_hostname=self.config.server_name or self.config.host)
        except SMTPResponseException as exc:  # e.g. 454: the session is still plaintext
            if required:
                raise SessionAbort(
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
            raise SessionAbort(
                SmtpReply(421, "4.7.0", f"Refusing to send credentials to {self.where} without TLS")
            )
        if not self.smtp.supported_auth_methods:
            offered = self.smtp.esmtp_extensions.get("auth", "")
            raise SessionAbort(
                SmtpReply(
                    421,
                    "4.7.0",
                    f"{self.where} offers no usable AUTH mechanism ({offered or 'no AUTH'})",
                )
            )
        try:
            await self.smtp.login(username, password)
        except SMTPAuthenticationError as exc:
            raise SessionAbort(parse_reply(exc.code, exc.message)) from exc

    async def _transaction(self, mail_from: str, data: bytes) -> None:
        options, utf8, refused = mail_parameters(
            self.smtp, self.where, mail_from, self.recipients, data
        )
        self.replies.update(refused)
        if len(self.replies) == len(self.recipients):
            return  # nothing left to send to
        try:
            mail = pipelining.command_line(
                b"MAIL", b"FROM:" + _path(mail_from, utf8), *(o.encode() for o in options)
            )
        except ValueError as exc:  # control characters in the address
            raise SessionAbort(SmtpReply(501, "5.1.7", "Bad sender address syntax")) from exc
        rcpts: list[tuple[int, bytes]] = []
        for index, recipient in enumerate(self.recipients):
            if index in self.replies:
                continue
            try:
                rcpts.append(
                    (index, pipelining.command_line(b"RCPT", b"TO:" + _path(recipient, utf8)))
                )
            except ValueError:
                self.replies[index] = SmtpReply(501, "5.1.3", "Bad recipient address syntax")
        if not rcpts:
            return  # every address was refused as malformed
        if self.smtp.supports_extension("pipelining"):
            accepted, data_reply = await self._envelope_pipelined(mail, rcpts)
            if accepted and data_reply.code == 354:
                reply = await self._content(data)
            elif accepted:  # DATA refused: that is every accepted recipient's result
                reply = data_reply
            else:
                await self._abandon(data_reply)
                return
        else:
            accepted = await self._envelope_in_turn(mail, rcpts)
            if not accepted:
                await self._abandon(None)
                return
            reply = await self._data(data)
        for index in accepted:
            self.replies[index] = reply

    async def _abandon(self, data_reply: SmtpReply | None) -> None:
        """Every RCPT was refused: end the transaction so that the session can be reused
        (a server that said 354 to DATA anyway gets an empty message first)."""
        if data_reply is not None and data_reply.code == 354:
            await self._content(b"")
        self.stage = "RSET"
        await self._command(b"RSET\r\n")

    async def _envelope_in_turn(self, mail: bytes, rcpts: list[tuple[int, bytes]]) -> list[int]:
        """MAIL, then each RCPT, each waiting for its reply; the accepted indexes."""
        self.stage = "MAIL FROM"
        reply = await self._command(mail)
        if reply.code // 100 != 2:
            raise SessionAbort(reply)
        self.stage = "RCPT TO"
        return [
            index for index, rcpt in rcpts if self._rcpt_result(index, await self._command(rcpt))
        ]

    async def _envelope_pipelined(
        self, mail: bytes, rcpts: list[tuple[int, bytes]]
    ) -> tuple[list[int], SmtpReply]:
        """MAIL, every RCPT and DATA in one write (RFC 2920), then their replies in order:
        the accepted indexes and the reply to DATA."""
        self.stage = "MAIL FROM"
        lines = [mail, *(rcpt for _, rcpt in rcpts), b"DATA\r\n"]
        responses = await pipelining.exchange(self.smtp, lines, self.config.timeout)
        replies = [parse_reply(r.code, r.message) for r in responses]
        if replies[0].code // 100 != 2:
            if replies[-1].code == 354:  # a server in DATA after all: leave it cleanly
                await self._content(b"")
            raise SessionAbort(replies[0])  # the RCPT replies (503 and the like) say nothing more
        accepted = [
            index
            for (index, _), reply in zip(rcpts, replies[1:-1], strict=True)
            if self._rcpt_result(index, reply)
        ]
        return accepted, replies[-1]

    def _rcpt_result(self, index: int, reply: SmtpReply) -> bool:
        """Keep a refusal as the recipient's result; True when it was accepted."""
        if reply.code in (250, 251):
            return True
        self.replies[index] = reply
        return False

    async def _data(self, data: bytes) -> SmtpReply:
        self.stage = "DATA"
        try:
            response = await self.smtp.data(data)
        except SMTPResponseException as exc:  # 354 refused, or the final reply not 250
            return parse_reply(exc.code, exc.message)
        return parse_reply(response.code, response.message)

    async def _content(self, data: bytes) -> SmtpReply:
        self.stage = "DATA"
        response = await pipelining.send_content(self.smtp, data, self.config.timeout)
        return parse_reply(response.code, response.message)

    async def _command(self, line: bytes) -> SmtpReply:
        """One command line (from `pipelining.command_line`), sent on its own."""
        (response,) = await pipelining.exchange(self.smtp, [line], self.config.timeout)
        return parse_reply(response.code, response.message)

    async def close(self) -> None:
        if self.smtp.is_connected:
            with contextlib.suppress(SMTPException, OSError, TimeoutError):
                await self.smtp.quit(timeout=min(_QUIT_TIMEOUT, self.config.timeout))
        self.smtp.close()


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
    session = session or SmtpSession(config)
    result = await session.run(mail_from, recipients, data, keep_open=pool is not None)
    if reused and all(r.code == 421 for r in result.recipients):
        # The kept connection had gone stale (the server closed it while idle, perhaps
        # with a 421 first): try once more on a fresh one before reporting anything.
        session = SmtpSession(config)
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
