"""SendRawEmail as SES does it: header surgery on the caller's bytes (pure, no I/O).

The message is first parsed and normalised once by `wire/normalise.normalise_message`
(CRLF line ends; bare CR or NUL in a header refused; From, Sender, Return-Path and X-SES-*
at most once), so that what is stored, DKIM-signed and sent are the same bytes. The body
is never re-encoded, so 8-bit and DKIM-signed bodies survive; Message-ID and Date are
replaced, X-SES-* controls read and stripped, Bcc and Return-Path removed (RFC 5321
section 4.4: the receiving MTA writes Return-Path; SES never sends Bcc on).
"""

from __future__ import annotations

import email.policy
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from postroom.errors import InvalidParameterValue
from postroom.wire.addresses import Address, parse_address_header
from postroom.wire.attachment_types import check_raw_attachments
from postroom.wire.mime import format_date, format_message_id
from postroom.wire.normalise import HeaderField, NormalisedMessage, normalise_message, split_fields

# --- SendRawEmail -------------------------------------------------------------------------

_SES_CONTROL = ("x-ses-source-arn", "x-ses-from-arn", "x-ses-return-path-arn")
_DROPPED = frozenset(
    ("bcc", "return-path", "x-ses-configuration-set", "x-ses-message-tags", *_SES_CONTROL)
)


@dataclass(frozen=True)
class PreparedRaw:
    """A SendRawEmail message ready to queue, and what SES reads from its headers."""

    data: bytes
    from_: list[Address]
    recipients: list[Address]  # To + Cc + Bcc headers, in order (duplicates kept)
    subject: str
    configuration_set: str | None
    tags: list[tuple[str, str]]
    source_arn: str | None
    from_arn: str | None
    return_path_arn: str | None
    sender: Address | None = None
    reply_to: tuple[Address, ...] = ()
    return_path: Address | None = None


def prepare_raw_message(
    raw: bytes, *, message_id: str, mail_domain: str, date: float
) -> PreparedRaw:
    """SES SendRawEmail rewriting: our Message-ID and Date, X-SES-* read then stripped,
    Bcc and Return-Path removed; every other byte kept (ses-spec 4.2, SES DG header-fields)."""
    message = normalise_message(raw)
    check_raw_attachments(message.data)
    values = _values(message.fields)
    addresses = {key: _addresses(values, key) for key in ("from", "to", "cc", "bcc", "reply-to")}
    mid = f"Message-ID: {format_message_id(message_id, mail_domain)}\r\n".encode("ascii")
    stamp = f"Date: {format_date(date)}\r\n".encode("ascii")
    return PreparedRaw(
        data=_rewrite(message, {"message-id": mid, "date": stamp}),
        from_=addresses["from"],
        recipients=addresses["to"] + addresses["cc"] + addresses["bcc"],
        subject=_decoded("subject", values.get("subject", [""])[0]),
        configuration_set=_first(values, "x-ses-configuration-set"),
        tags=_parse_tags(values.get("x-ses-message-tags", [])),
        source_arn=_first(values, "x-ses-source-arn"),
        from_arn=_first(values, "x-ses-from-arn"),
        return_path_arn=_first(values, "x-ses-return-path-arn"),
        sender=_single_address(values, "sender"),
        reply_to=tuple(addresses["reply-to"]),
        return_path=_single_address(values, "return-path"),
    )


def require_recipients(prepared: PreparedRaw, destinations: Sequence[Address]) -> None:
    """No `Destinations` and no To/Cc/Bcc header: SES's text (aristidb/aws#73)."""
    if not destinations and not prepared.recipients:
        raise InvalidParameterValue("Missing required header 'To'.")


def require_from(prepared: PreparedRaw, source: Address | None) -> None:
    """No `Source` and no From header (text modelled on the 'To' one; a guess)."""
    if source is None and not prepared.from_:
        raise InvalidParameterValue("Missing required header 'From'.")


def _values(fields: Sequence[HeaderField]) -> dict[str, list[str]]:
    values: dict[str, list[str]] = {}
    for field in fields:
        values.setdefault(field.key, []).append(field.value)
    return values


def _rewrite(message: NormalisedMessage, replace: dict[str, bytes]) -> bytes:
    """Header block with `replace` fields put at their first occurrence (else appended)."""
    out: list[bytes] = []
    for field in message.fields:
        if field.key in replace:
            out.append(replace.pop(field.key))
        elif field.key not in _DROPPED and field.key not in ("message-id", "date"):
            out.append(field.raw)
    out.extend(replace.values())
    return b"".join(out) + message.body


def _addresses(values: dict[str, list[str]], key: str) -> list[Address]:
    found: list[Address] = []
    for value in values.get(key, []):
        found += parse_address_header(value)
    return found


def _single_address(values: dict[str, list[str]], key: str) -> Address | None:
    raw = values.get(key, [""])[0]
    found = [] if raw.strip(" \t<>") == "" else parse_address_header(raw)  # <>: null path
    return found[0] if found else None


def _first(values: dict[str, list[str]], key: str) -> str | None:
    found = values.get(key)
    return found[0].strip() if found and found[0].strip() else None


def _parse_tags(values: list[str]) -> list[tuple[str, str]]:
    """`X-SES-MESSAGE-TAGS: k1=v1, k2=v2` (SES DG event-publishing); names/values are
    validated by the caller with the API Tags rules."""
    tags: list[tuple[str, str]] = []
    for value in values:
        for item in value.split(","):
            if not item.strip():
                continue
            name, eq, tag_value = item.partition("=")
            if not eq:
                raise InvalidParameterValue("Expected '=', got 'null'")
            tags.append((name.strip(), tag_value.strip()))
    return tags


def _decoded(name: str, value: str) -> str:
    """RFC 2047 decoding through the email package's header registry."""
    try:
        return str(email.policy.default.header_factory(name, value))
    except Exception:  # noqa: BLE001 - listings must never fail on an odd header
        return value


def _address_items(name: str, value: str) -> list[str]:
    """Each address of a header, decoded (`Name <a@b>`); the raw value if unparsable."""
    try:
        header: Any = email.policy.default.header_factory(name, value)
        return [str(a) for a in header.addresses]
    except Exception:  # noqa: BLE001
        return [value] if value else []


# --- listings -----------------------------------------------------------------------------


def subject_of(data: bytes) -> str:
    """Decoded Subject of a stored message ('' if none); never raises."""
    return summarize(data)["subject"]


def summarize(data: bytes) -> dict[str, Any]:
    """from, to, cc (lists), subject, date, message_id of a stored message, decoded."""
    try:
        fields, _ = split_fields(data, strict=False)
    except Exception:  # noqa: BLE001
        fields = []
    values = _values(fields)

    def one(key: str) -> str:
        return _decoded(key, values[key][0]) if key in values else ""

    def many(key: str) -> list[str]:
        return [item for v in values.get(key, []) for item in _address_items(key, v)]

    return {
        "from": one("from"),
        "to": many("to"),
        "cc": many("cc"),
        "subject": one("subject"),
        "date": one("date"),
        "message_id": one("message-id"),
    }
