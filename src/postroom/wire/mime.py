"""Build RFC 5322 messages as Amazon SES does for SendEmail (pure, no I/O).

* `build_simple_message`: SendEmail / v2 Simple content -> MIME bytes (CRLF, lines <= 998).
* SendRawEmail's header surgery lives in `wire/raw_mime.py`, after `wire/normalise.py`
  has parsed and normalised the caller's bytes once.

Choices where SES's exact behaviour is unknown (documented in the tests too):

* Subject line breaks are unfolded to one space and other control characters dropped
  (RFC 5322 section 2.2.3 unfolding), never rejected: the value stays harmless.
* Unknown or unsafe Charset -> `InvalidParameterValue` `Unsupported charset: <name>`;
  text that the charset cannot represent -> `Content cannot be encoded in charset <name>.`
* v2 Simple and Template headers that SES sets itself are refused (SES DG header-fields.md).
"""

from __future__ import annotations

import base64
import binascii
import codecs
import functools
import re
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import format_datetime

from postroom.errors import InvalidParameterValue
from postroom.wire.addresses import Address, encode_words
from postroom.wire.attachments import Attachment, with_attachments

MAX_MESSAGE_SIZE = 10_485_760  # v1 SendRawEmail after base64 (SES DG quotas.md)
MAX_MESSAGE_SIZE_V2 = 41_943_040  # v2 SendEmail and SMTP: 40 MB (SES DG quotas.md)
MAX_LINE = 998  # RFC 5322 section 2.1.1, excluding CRLF
_FOLD_AT = 76  # RFC 2047 section 2 (lines with encoded-words), within RFC 5322's 78

_TOKEN = re.compile(r"[A-Za-z0-9._+-]+")
_CHARSET = re.compile(r"[A-Za-z0-9!#$%&'+^_`{}~-]{1,40}")  # RFC 2978 mime-charset chars
_NOT_TEXT_CODECS = {"idna", "punycode", "raw-unicode-escape", "unicode-escape", "undefined"}
_NEWLINES = re.compile(r"\r\n|\r|\n")
_CONTROLS = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")


# SES DG header-fields.md: "you cannot set custom header content for headers that are set
# by SES" in v2 Simple/Template content.
def lowered(names: str) -> frozenset[str]:
    return frozenset(names.lower().split())


_RESERVED = lowered(
    "Bcc Cc Content-Disposition Content-Type Content-Transfer-Encoding Date From "
    "Message-ID MIME-Version Reply-To Return-Path Subject To"
)
_HEADER_NAME = re.compile(r"[!-9;-~]{1,126}")  # botocore sesv2 MessageHeaderName
_HEADER_VALUE = re.compile(r"[ -~]{1,995}")  # botocore sesv2 MessageHeaderValue


@dataclass(frozen=True)
class Content:
    """An SES `Content` (Data + optional Charset)."""

    data: str
    charset: str | None = None


def check_message_size(raw_len: int, limit: int = MAX_MESSAGE_SIZE) -> None:
    """SES v1 raw size limit, with AWS's text (aws/aws-sdk-go-v2#1774)."""
    if raw_len > limit:
        raise InvalidParameterValue(f"Message length is more than {limit} bytes long: '{raw_len}'.")


def format_date(date: float) -> str:
    """RFC 5322 section 3.3 date-time in UTC (`Mon, 01 Jan 2024 00:00:00 +0000`)."""
    return format_datetime(datetime.fromtimestamp(date, tz=UTC))


def format_message_id(message_id: str, mail_domain: str) -> str:
    """`<{MessageId}@{domain}>` as SES writes it (ses-spec 2.2); both parts must be tokens."""
    if not (_TOKEN.fullmatch(message_id) and _TOKEN.fullmatch(mail_domain)):
        raise ValueError(f"unsafe Message-ID parts: {message_id!r}@{mail_domain!r}")
    return f"<{message_id}@{mail_domain}>"


# --- SendEmail ----------------------------------------------------------------------------


def build_simple_message(
    *,
    source: Address,
    to: Sequence[Address],
    cc: Sequence[Address],
    reply_to: Sequence[Address],
    subject: Content,
    text: Content | None,
    html: Content | None,
    message_id: str,
    mail_domain: str,
    date: float,
    extra_headers: Sequence[tuple[str, str]] = (),
    attachments: Sequence[Attachment] = (),
) -> bytes:
    """The message SES builds for SendEmail: no Bcc header, ever (recipients are envelope).
    v2 Simple content adds custom `extra_headers` and `attachments` (multipart/mixed)."""
    headers: list[tuple[str, str]] = [("From", source.header_value)]
    if reply_to:
        headers.append(("Reply-To", ", ".join(a.header_value for a in reply_to)))
    if to:
        headers.append(("To", ", ".join(a.header_value for a in to)))
    if cc:
        headers.append(("Cc", ", ".join(a.header_value for a in cc)))
    headers += [
        ("Subject", encode_subject(subject)),
        ("Message-ID", format_message_id(message_id, mail_domain)),
        ("Date", format_date(date)),
        ("MIME-Version", "1.0"),
    ]
    headers += check_extra_headers(extra_headers)
    body_headers, body = _body(text, html)
    if attachments:
        body_headers, body = with_attachments(body_headers, body, attachments)
    head = "".join(f"{name}: {fold(name, value)}\r\n" for name, value in headers + body_headers)
    return head.encode("ascii") + b"\r\n" + body


def encode_subject(subject: Content) -> str:
    """Subject text as a 7-bit header value: as is when plain ASCII, else RFC 2047 words
    in the requested charset (UTF-8 by default)."""
    charset = resolve_charset(subject.charset) if subject.charset else None
    value = _CONTROLS.sub("", _NEWLINES.sub(" ", subject.data))
    if charset:
        _encode(value, charset)
    plain = (
        value.isascii()
        and "=?" not in value
        and all(len(word) <= _FOLD_AT - len("Subject: ") for word in value.split(" "))
    )
    return value if plain else encode_words(value, charset or "utf-8")


def fold(name: str, value: str, width: int = _FOLD_AT) -> str:
    """Fold at spaces (RFC 5322 section 2.2.3): CRLF goes before an existing space, so
    unfolding gives back exactly `value`. Words longer than a line stay whole."""
    lines: list[str] = []
    line = ""
    used = len(name) + 2
    for i, word in enumerate(value.split(" ")):
        if i == 0:
            line = word
        elif word and used + len(line) + 1 + len(word) > width and line.strip(" "):
            lines.append(line)
            line, used = " " + word, 0
        else:
            line += " " + word
    lines.append(line)
    return "\r\n".join(lines)


@functools.lru_cache(maxsize=256)
def resolve_charset(label: str) -> str:
    """Validate an SES Charset (`UTF-8`, `ISO-8859-1`, `Shift_JIS`, ...); returns it as given."""
    if not _CHARSET.fullmatch(label):
        raise InvalidParameterValue("Unsupported charset.")
    try:
        name = codecs.lookup(label).name.replace("_", "-")
        "".encode(label)  # LookupError for bytes-to-bytes codecs such as base64
    except LookupError:
        raise InvalidParameterValue(f"Unsupported charset: {label}") from None
    if name in _NOT_TEXT_CODECS:
        raise InvalidParameterValue(f"Unsupported charset: {label}")
    return label


def _encode(text: str, charset: str) -> bytes:
    try:
        return text.encode(charset)
    except UnicodeError:
        raise InvalidParameterValue(f"Content cannot be encoded in charset {charset}.") from None


def check_extra_headers(headers: Sequence[tuple[str, str]]) -> list[tuple[str, str]]:
    """v2 Simple and Template `Headers`, bulk `ReplacementHeaders` (botocore sesv2
    MessageHeader rules; name+value <= 996); returns them as a list."""
    for name, value in headers:
        if not _HEADER_NAME.fullmatch(name) or not _HEADER_VALUE.fullmatch(value):
            raise InvalidParameterValue(f"Invalid header: {name[:126]!r}.")
        if len(name) + len(value) > 996:
            raise InvalidParameterValue(f"Header {name} is too long.")
        if name.lower() in _RESERVED or name.lower().startswith("x-ses-"):
            raise InvalidParameterValue(f"Header {name} cannot be set; SES sets it.")
    return list(headers)


def _body(text: Content | None, html: Content | None) -> tuple[list[tuple[str, str]], bytes]:
    """text -> text/plain, html -> text/html, both -> multipart/alternative (text first,
    RFC 2046 section 5.1.4: the richest alternative last). Returns (headers, body bytes).

    The body is encoded with the standard library's codecs (binascii quoted-printable,
    base64) and assembled directly: building it through `email.message` costs ~0.5 ms per
    message in header re-parsing alone, which is most of a SendEmail request.
    """
    if text is not None and html is not None:
        # "=_" cannot occur in 7bit/QP/base64 bodies encoded here (RFC 2045 6.7), so the
        # boundary never collides with the content.
        boundary = f"=_{uuid.uuid4().hex}"
        chunks: list[bytes] = []
        for content, subtype in ((text, "plain"), (html, "html")):
            headers, body = _text_part(content, subtype)
            head = "".join(f"{name}: {value}\r\n" for name, value in headers)
            # Each part's body ends with CRLF, which RFC 2046 5.1.1 counts as part of the
            # next delimiter: the part's content is exactly the text given.
            chunks.append(f"--{boundary}\r\n{head}\r\n".encode("ascii") + body)
        chunks.append(f"--{boundary}--\r\n".encode("ascii"))
        content_type = f'multipart/alternative; boundary="{boundary}"'
        return [("Content-Type", content_type)], b"".join(chunks)
    if html is not None:
        return _text_part(html, "html")
    return _text_part(text or Content(""), "plain")


def _text_part(content: Content, subtype: str) -> tuple[list[tuple[str, str]], bytes]:
    charset = resolve_charset(content.charset) if content.charset else "utf-8"
    data = _NEWLINES.sub("\r\n", content.data)
    encoded = _encode(data, charset)
    # UTF-16/32 are not ASCII-compatible: base64 them.
    cte = "base64" if "\r\n".encode(charset) != b"\r\n" else _choose_cte(encoded)
    if cte == "base64":
        body = base64.encodebytes(encoded).replace(b"\n", b"\r\n")
    elif cte == "quoted-printable":
        body = binascii.b2a_qp(encoded, quotetabs=False, istext=True, header=False)
        # Soft breaks come out as "=\n" on lines without CRLF: make every break CRLF (a
        # bare CR in the content is encoded as =0D, so this touches only line breaks).
        body = body.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")
        if not body.endswith(b"\r\n"):
            body += b"\r\n"
    else:
        body = encoded if encoded.endswith(b"\r\n") else encoded + b"\r\n"
    headers = [
        ("Content-Type", f'text/{subtype}; charset="{charset.lower()}"'),
        ("Content-Transfer-Encoding", cte),
    ]
    return headers, body


_HIGH_BYTES = bytes(range(0x7F, 0x100))


def _choose_cte(encoded: bytes) -> str:
    """7bit when it is (RFC 2045 section 2.7), else whichever of QP / base64 is smaller."""
    lines = encoded.split(b"\r\n")
    if (
        encoded.isascii()
        and max(len(line) for line in lines) <= MAX_LINE
        and not any(_CONTROLS.search(line.decode("ascii")) for line in lines)
    ):
        return "7bit"
    high = len(encoded) - len(encoded.translate(None, _HIGH_BYTES))  # bytes above 0x7E
    return "base64" if high * 3 > len(encoded) else "quoted-printable"
