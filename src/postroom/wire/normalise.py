"""Raw mail from the network, parsed and normalised once, before it is stored (pure, no I/O).

`normalise_message` is the single gate for caller-written messages (SendRawEmail today,
SMTP submission later): what it returns is what is stored, what DKIM signs and, byte for
byte, what the SMTP client sends (before dot-stuffing). Rules:

* Line ends become CRLF (RFC 5322 2.1, RFC 5321 2.3.8): clients send `msg.as_string()`,
  which has bare LFs.
* A bare CR or a NUL in the header section is refused (`InvalidParameterValue` naming the
  header): a receiving server, or our own SMTP client, may read a bare CR as a line end,
  so `X-Note: a<CR>Bcc: x` would become a second header line that no check of ours saw.
* In the body a bare CR becomes CRLF, and a body that does not end with CRLF gets one.
  That is what aiosmtplib does on the way out anyway (`normalize_message_line_endings`,
  as RFC 5321 2.3.8 forbids bare CR and LF in DATA), so doing it here keeps stored ==
  signed == sent; refusing instead would turn away mail (old clients, binary-ish text
  parts) that every MTA passes on. A body is the sender's own content: a line there
  cannot become a header of the message.
* Headers SES allows once (SES DG header-fields.md), plus `Return-Path` and every
  `X-SES-*` control header, cannot appear twice: which one would count is ambiguous.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from postroom.errors import InvalidParameterValue
from postroom.wire.mime import lowered

MAX_HEADER_SECTION = 100 * 1024  # guess: SES's limit behind `Header section too long.`

_FIELD = re.compile(rb"([\x21-\x39\x3b-\x7e]*)[ \t]*:")  # RFC 5322 3.6.8 field-name ':'
_LINE_ENDS = re.compile(rb"\r\n|\r|\n")  # aiosmtplib's LINE_ENDINGS_REGEX, same meaning
# SES DG header-fields.md: fields that "can't appear more than once", and the ones whose
# second copy could change who the mail claims to be from or how SES handles it.
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
    "References Reply-To Return-Path Return-Receipt-To Sender Solicitation Sensitivity "
    "Subject Thread-Index Thread-Topic User-Agent VBR-Info"
)


@dataclass(frozen=True)
class HeaderField:
    name: str
    raw: bytes  # the whole field: name, value, continuation lines and line ends

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
class NormalisedMessage:
    """Header fields (each ending with CRLF) and the body (from the blank separator line
    on, CRLF line ends throughout; empty for a message of headers only)."""

    fields: tuple[HeaderField, ...]
    body: bytes

    @property
    def data(self) -> bytes:
        return b"".join(field.raw for field in self.fields) + self.body


def normalise_message(raw: bytes) -> NormalisedMessage:
    """Parse and normalise a caller's message (see the module docstring); raises
    `InvalidParameterValue` with SES's texts for what cannot be sent."""
    fields, body = split_fields(raw, strict=True)
    checked = tuple(_crlf_field(field) for field in fields)
    _check_duplicates(checked)
    return NormalisedMessage(checked, _crlf_body(body))


def split_fields(raw: bytes, *, strict: bool) -> tuple[list[HeaderField], bytes]:
    """Header fields (RFC 5322 2.2), as written, and the rest: the blank separator line and
    the body. `strict` raises SES's errors; listings read stored mail with it off.

    A line that is not a field ends the header section and a blank line is inserted before
    it (the sender forgot the separator, RFC 5322 section 2.1).
    """
    mbox = raw.startswith(b"From ") and not _FIELD.match(raw)  # mbox envelope line
    pos = len(raw.split(b"\n", 1)[0]) + 1 if mbox else 0
    fields: list[HeaderField] = []
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
            fields[-1] = HeaderField(fields[-1].name, fields[-1].raw + line)
        elif match and match.group(1):
            fields.append(HeaderField(match.group(1).decode("ascii"), line))
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


def _crlf_field(field: HeaderField) -> HeaderField:
    """The field with CRLF line ends; a CR that ends no line, or a NUL, is refused."""
    lines = field.raw.split(b"\n")
    if lines[-1] == b"":  # the field's own line end
        lines.pop()
    lines = [line[:-1] if line.endswith(b"\r") else line for line in lines]
    if any(b"\r" in line or b"\x00" in line for line in lines):
        raise InvalidParameterValue(f"Header '{field.name}' contains a bare CR or a NUL character.")
    return HeaderField(field.name, b"\r\n".join(lines) + b"\r\n")


def _crlf_body(body: bytes) -> bytes:
    """Every line end CRLF, the last line ended (see the module docstring for why a bare
    CR in the body is a line end rather than a refusal)."""
    if not body:
        return body
    body = _LINE_ENDS.sub(b"\r\n", body)
    return body if body.endswith(b"\r\n") else body + b"\r\n"


def _check_duplicates(fields: tuple[HeaderField, ...]) -> None:
    seen: set[str] = set()
    for field in fields:
        once = field.key in _SINGLE or field.key.startswith("x-ses-")
        if once and field.key in seen:
            raise InvalidParameterValue(f"Duplicate header '{field.name}'.")
        seen.add(field.key)
