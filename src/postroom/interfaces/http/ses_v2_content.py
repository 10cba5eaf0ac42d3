"""SES v2 content parts shared by Simple and Template content and SendBulkEmail's entries:
the `sesv2` model's `MessageHeader` and `Attachment` dicts -> the core's typed values. The
rules (reserved headers, injection, encodings) are the builder's: `wire/mime.py`,
`wire/attachments.py`."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from postroom.wire.attachments import Attachment


def headers(given: Sequence[Mapping[str, Any]] | None) -> list[tuple[str, str]]:
    """`Headers` / `ReplacementHeaders`: (name, value) pairs, in the caller's order."""
    return [(str(h.get("Name", "")), str(h.get("Value", ""))) for h in given or []]


def attachment(given: Mapping[str, Any]) -> Attachment:
    return Attachment(
        data=bytes(given.get("RawContent") or b""),
        file_name=str(given.get("FileName") or ""),
        disposition=given.get("ContentDisposition") or "ATTACHMENT",
        description=given.get("ContentDescription"),
        content_id=given.get("ContentId"),
        transfer_encoding=given.get("ContentTransferEncoding") or "BASE64",
        content_type=given.get("ContentType"),
    )


def attachments(given: Sequence[Mapping[str, Any]] | None) -> list[Attachment]:
    return [attachment(a) for a in given or []]
