"""SendRawEmail as SES does it: header surgery on the caller's bytes (pure, no I/O).

The body is never re-encoded, so 8-bit and DKIM-signed bodies survive; Message-ID and Date
are replaced, X-SES-* controls read and stripped, Bcc and Return-Path removed (RFC 5321
section 4.4: the receiving MTA writes Return-Path; SES never sends Bcc on). A raw message
with bare LF line endings is converted to CRLF (RFC 5322 section 2.1).
"""

from __future__ import annotations

import email.policy
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from postroom.errors import InvalidParameterValue
from postroom.wire.addresses import Address, parse_address_header
from postroom.wire.mime import format_date, format_message_id, lowered

MAX_HEADER_SECTION = 100 * 1024  # guess: SES's limit behind `Header section too long.`

# --- SendRawEmail -------------------------------------------------------------------------

_FIELD = re.compile(rb"([\x21-\x39\x3b-\x7e]*)[ \t]*:")  # RFC 5322 3.6.8 field-name ':'
_SES_CONTROL = ("x-ses-source-arn", "x-ses-from-arn", "x-ses-return-path-arn")
_DROPPED = frozenset(
    ("bcc", "return-path", "x-ses-configuration-set", "x-ses-message-tags", *_SES_CONTROL)
)
# SES DG header-fields.md: fields that "can't appear more than once" (Date and Message-ID
# are replaced and Return-Path removed, so their duplicates are harmless).
_SINGLE = lowered(
    "Accept-Language acceptLanguage Archived-At Auto-Submitted Bounces-to Comments "
    "Content-Alternative Content-Base Content-Class Content-Description "
    "Content-Disposition Content-Duration Content-ID Content-Language Content-Length "
    "Content-Location Content-MD5 Content-Transfer-Encoding Content-Type Delivered-To "
    "Disposition-Notification-Options Disposition-Notification-To DKIM-Signature "
    "DomainKey-Signature Errors-To From Importance In-Reply-To Keywords List-Archive "
    "List-Help List-Id List-Owner List-Post List-Subscribe List-Unsubscribe "
    "List-Unsubscribe-Post Message-Context MIME-Version Organization Original-From "
    "Original-Message-ID Original-Recipient Original-Subject Precedence Priority "
    "References Reply-To Return-Receipt-To Sender Solicitation Sensitivity Subject "
    "Thread-Index Thread-Topic User-Agent VBR-Info"
)


@dataclass(frozen=True)
class _Field:
    name: str
    raw: bytes  # the whole field: name, value, continuation lines and CRLF

    @property
    def key(self) -> str:
        return self.name.lower()

    @property
    def value(self) -> str:
        """Unfolded (RFC 5322 2.2.3) value; 8-bit bytes read as UTF-8."""
        value = self.raw.split(b":", 1)[1]
        value = re.sub(rb"\r?\n(?=[ \t])", b"", value).rstrip(b"\r\n")
        return value.decode("utf-8", errors="replace").strip(" \t")


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
    if b"\n" in raw and raw.count(b"\n") != raw.count(b"\r\n"):
        raw = re.sub(rb"\r?\n", b"\r\n", raw)
    fields, body = _split_fields(raw, strict=True)
    _check_duplicates(fields)
    values = _values(fields)
    addresses = {key: _addresses(values, key) for key in ("from", "to", "cc", "bcc", "reply-to")}
    mid = f"Message-ID: {format_message_id(message_id, mail_domain)}\r\n".encode("ascii")
    stamp = f"Date: {format_date(date)}\r\n".encode("ascii")
    return PreparedRaw(
        data=_rewrite(fields, body, {"message-id": mid, "date": stamp}),
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


def _split_fields(raw: bytes, *, strict: bool) -> tuple[list[_Field], bytes]:
    """Header fields (RFC 5322 2.2) and the rest: the blank separator line and the body.

    A line that is not a field ends the header section and a blank line is inserted before
    it (the sender forgot the separator, RFC 5322 section 2.1).
    """
    mbox = raw.startswith(b"From ") and not _FIELD.match(raw)  # mbox envelope line
    pos = len(raw.split(b"\n", 1)[0]) + 1 if mbox else 0
    fields: list[_Field] = []
    while pos < len(raw):
        end = raw.find(b"\n", pos)
        end = len(raw) if end < 0 else end + 1
        line = raw[pos:end]
        if strict and end > MAX_HEADER_SECTION:
            raise InvalidParameterValue("Header section too long.")
        if line in (b"\r\n", b"\n"):
            if strict and not fields:
                raise InvalidParameterValue("Illegal content.")
            return fields, raw[pos:]
        match = _FIELD.match(line)
        if line[:1] in (b" ", b"\t") and fields:
            fields[-1] = _Field(fields[-1].name, fields[-1].raw + line)
        elif match and match.group(1):
            fields.append(_Field(match.group(1).decode("ascii"), line))
        elif strict and line[:1] in (b":", b" ", b"\t"):
            raise InvalidParameterValue("Empty header names are illegal.")
        elif strict and not fields:
            raise InvalidParameterValue("Illegal content.")
        else:
            return fields, (b"\r\n" if fields else b"") + raw[pos:]
        pos = end
    if strict and not fields:  # empty message
        raise InvalidParameterValue("Illegal content.")
    return fields, b""


def _check_duplicates(fields: list[_Field]) -> None:
    seen: set[str] = set()
    for field in fields:
        if field.key in _SINGLE and field.key in seen:
            raise InvalidParameterValue(f"Duplicate header '{field.name}'.")
        seen.add(field.key)


def _values(fields: list[_Field]) -> dict[str, list[str]]:
    values: dict[str, list[str]] = {}
    for field in fields:
        values.setdefault(field.key, []).append(field.value)
    return values


def _rewrite(fields: list[_Field], body: bytes, replace: dict[str, bytes]) -> bytes:
    """Header block with `replace` fields put at their first occurrence (else appended)."""
    out: list[bytes] = []
    for field in fields:
        if field.key in replace:
            out.append(replace.pop(field.key))
        elif field.key not in _DROPPED and field.key not in ("message-id", "date"):
            out.append(field.raw if field.raw.endswith(b"\n") else field.raw + b"\r\n")
    out.extend(replace.values())
    return b"".join(out) + body


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
        fields, _ = _split_fields(data, strict=False)
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
