"""What a message needs from the server's ESMTP extensions: the MAIL FROM parameters
(SIZE, RFC 1870; BODY=8BITMIME, RFC 6152; SMTPUTF8, RFC 6531) and the refusals when the
server lacks one the message needs."""

from __future__ import annotations

import re
from collections.abc import Sequence

from aiosmtplib import SMTP

from postroom.delivery.smtp_replies import SessionAbort
from postroom.errors import SmtpReply

_LINE_ENDINGS = re.compile(rb"\r\n|\n|\r(?!\n)")


def wire_size(data: bytes) -> int:
    """Octets as sent in DATA (CRLF line endings), for the SIZE parameter (RFC 1870)."""
    normalized = _LINE_ENDINGS.sub(b"\r\n", data)
    return len(normalized) + (0 if normalized.endswith(b"\r\n") else 2)


def header_section(data: bytes) -> bytes:
    for separator in (b"\r\n\r\n", b"\n\n"):
        end = data.find(separator)
        if end >= 0:
            return data[:end]
    return data


def mail_parameters(
    smtp: SMTP, where: str, mail_from: str, recipients: Sequence[str], data: bytes
) -> tuple[list[str], bool, dict[int, SmtpReply]]:
    """MAIL FROM parameters, whether to send UTF-8 paths, and the recipients (by index)
    refused here because their address needs SMTPUTF8 and the server lacks it.

    Raises SessionAbort when the whole message cannot go to this server."""
    offers = smtp.supports_extension
    options: list[str] = []
    refused: dict[int, SmtpReply] = {}
    if offers("size"):
        size = wire_size(data)
        limit = smtp.esmtp_extensions.get("size", "")
        if limit.isdigit() and 0 < int(limit) < size:
            raise SessionAbort(
                SmtpReply(552, "5.3.4", f"Message size {size} exceeds the limit {limit} of {where}")
            )
        options.append(f"SIZE={size}")
    utf8_rcpts = [i for i, r in enumerate(recipients) if not r.isascii()]
    utf8_message = not mail_from.isascii() or not header_section(data).isascii()
    utf8 = (utf8_message or bool(utf8_rcpts)) and offers("smtputf8")
    no_utf8 = SmtpReply(553, "5.6.7", f"SMTPUTF8 is required, but was not offered by {where}")
    if utf8:
        options.append("SMTPUTF8")
    elif utf8_message:
        raise SessionAbort(no_utf8)
    else:
        refused = dict.fromkeys(utf8_rcpts, no_utf8)
    if not data.isascii():
        if offers("8bitmime"):
            options.append("BODY=8BITMIME")
        elif not utf8:  # SMTPUTF8 implies 8BITMIME support (RFC 6531 3.1)
            raise SessionAbort(
                SmtpReply(
                    554, "5.6.3", f"8-bit message content, but {where} did not offer 8BITMIME"
                )
            )
    return options, utf8, refused
