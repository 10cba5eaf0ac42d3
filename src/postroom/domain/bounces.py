"""VERP envelope senders: the MAIL FROM of every outgoing message names its MessageId.

As SES does (`<MessageId>@amazonses.com`, or `@<custom MAIL FROM domain>`), the envelope
sender's local part is the MessageId, so an asynchronous bounce (RFC 3464 DSN) sent to it
names the message it is about, however the recipient's server words it (VERP, D. J.
Bernstein's variable envelope return path). The message's own Return-Path / `ReturnPath`
stays where feedback is forwarded.
"""

from __future__ import annotations

import re

_MESSAGE_ID = re.compile(
    r"^[0-9a-f]{16}-[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}-000000$"
)


def verp_address(message_id: str, domain: str) -> str:
    return f"{message_id}@{domain.lower()}"


def message_id_of(address: str) -> str | None:
    """The MessageId a VERP address encodes, or None when it is not one of ours."""
    local, at, _domain = address.strip("<>").rpartition("@")
    if not at or not _MESSAGE_ID.match(local.lower()):
        return None
    return local.lower()
