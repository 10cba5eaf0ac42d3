"""SMTP replies as values: a server's reply split into code, enhanced status and text, and
the reply a client reports for itself when an exception ended the session."""

from __future__ import annotations

import re
import ssl

from aiosmtplib import (
    SMTPConnectError,
    SMTPConnectResponseError,
    SMTPConnectTimeoutError,
    SMTPResponseException,
    SMTPServerDisconnected,
    SMTPTimeoutError,
)

from postroom.errors import SmtpReply

_ENHANCED = re.compile(r"^([245])\.(\d{1,3})\.(\d{1,3})(?:\s+|$)")


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


def failure_reply(exc: BaseException, stage: str, where: str) -> SmtpReply:
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


class SessionAbort(Exception):
    """Ends an SMTP session early; `reply` goes to every recipient without a result."""

    def __init__(self, reply: SmtpReply) -> None:
        super().__init__(str(reply))
        self.reply = reply
