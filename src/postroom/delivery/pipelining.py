"""SMTP command pipelining (RFC 2920) on top of aiosmtplib.

aiosmtplib speaks in lock-step: its protocol object parses one reply per command and
drops bytes that arrive while no command is waiting, which loses the second of two
replies that come in one TCP segment. `adopt` gives an open connection a protocol that
keeps every reply in order, so that `exchange` can write a group of commands (MAIL FROM,
all its RCPT TOs and DATA, the last command a group may hold) in one send and then read
their replies one by one: one round trip for the envelope instead of one per command.
`send_content` then sends the message, dot-stuffed, after a 354. Commands are checked for
control characters exactly as aiosmtplib's own `execute_command` does.

Everything else (connect, EHLO, STARTTLS, AUTH, QUIT) stays aiosmtplib's: the adopted
protocol behaves the same for commands sent one at a time.
"""

from __future__ import annotations

from collections.abc import Sequence

from aiosmtplib import SMTP, SMTPResponse, SMTPResponseException, SMTPServerDisconnected
from aiosmtplib.protocol import (
    MAX_RESPONSE_LENGTH,
    PERIOD_REGEX,
    SMTPProtocol,
    normalize_message_line_endings,
)

# A group of 100 RCPT replies is far below this; a server that sends more is broken.
MAX_BUFFERED_BYTES = MAX_RESPONSE_LENGTH * 8
_CONTROL = frozenset(range(0x20)) | {0x7F}


class PipeliningProtocol(SMTPProtocol):
    """SMTPProtocol that buffers replies arriving ahead of their reader."""

    def data_received(self, data: bytes) -> None:
        if self._response_waiter is None:  # connection lost: nobody to deliver to
            return
        self._buffer.extend(data)
        self._answer_waiter()

    async def read_response(self, timeout: float | None = None) -> SMTPResponse:
        response = await super().read_response(timeout)
        self._answer_waiter()  # the next reply may already be in the buffer
        return response

    def _answer_waiter(self) -> None:
        waiter = self._response_waiter
        if waiter is None or waiter.done() or not self._buffer:
            return
        if len(self._buffer) > MAX_BUFFERED_BYTES:
            del self._buffer[:]
            self._set_response_exception(
                waiter, SMTPResponseException(500, "Too much unread reply data")
            )
            return
        try:
            response = self._read_response_from_buffer()
        except Exception as exc:  # a malformed reply line, as aiosmtplib reports it
            self._set_response_exception(waiter, exc)
        else:
            if response is not None:
                waiter.set_result(response)


def adopt(smtp: SMTP) -> None:
    """Let the connected `smtp` take pipelined replies (before any command is pipelined)."""
    if smtp.protocol is not None and not isinstance(smtp.protocol, PipeliningProtocol):
        smtp.protocol.__class__ = PipeliningProtocol


def command_line(*parts: bytes) -> bytes:
    """One command line; ValueError for control characters (no command injection)."""
    for part in parts:
        if not _CONTROL.isdisjoint(part):
            raise ValueError("Command arg contains a prohibited control character")
    return b" ".join(parts) + b"\r\n"


async def exchange(smtp: SMTP, lines: Sequence[bytes], timeout: float) -> list[SMTPResponse]:
    """Send `lines` (from `command_line`) in one write, then read one reply for each."""
    return await _send(smtp, b"".join(lines), len(lines), timeout)


async def send_content(smtp: SMTP, data: bytes, timeout: float) -> SMTPResponse:
    """After a 354: the message, line endings made CRLF and leading dots doubled, then the
    lone dot; returns the final reply (as aiosmtplib's `data` sends it)."""
    content = PERIOD_REGEX.sub(b"..", normalize_message_line_endings(data)) + b".\r\n"
    (response,) = await _send(smtp, content, 1, timeout)
    return response


async def _send(smtp: SMTP, payload: bytes, replies: int, timeout: float) -> list[SMTPResponse]:
    """On a lost connection or a reply timeout the connection is closed (its replies can no
    longer be paired with commands) and the aiosmtplib exception propagates."""
    protocol = smtp.protocol
    if protocol is None or not smtp.is_connected:
        raise SMTPServerDisconnected("Server not connected")
    adopt(smtp)
    try:
        protocol.write(payload)
        return [await protocol.read_response(timeout=timeout) for _ in range(replies)]
    except Exception:
        smtp.close()
        raise
