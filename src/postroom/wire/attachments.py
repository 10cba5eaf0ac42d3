"""SES v2 Simple and Template content's `Attachments`: MIME parts for them (pure, no I/O).

`with_attachments(body_headers, body, attachments)` wraps the message body built by
`mime.build_simple_message` in a multipart/mixed with one part per attachment (RFC 2046
section 5.1.3), body first. Everything a caller gives us lands in a header as printable
ASCII only:

* FileName: quoted when it is printable ASCII without `"` or `\\`, else RFC 2231 encoded
  (`filename*=utf-8''...`, continued over several parameters when long, section 3);
  control characters (CR, LF, NUL...) are refused, never passed on.
* ContentDescription: as is when printable ASCII, else RFC 2047 words; controls refused.
* ContentType: `type/subtype` tokens (RFC 2045 section 5.1) with optional printable
  parameters; guessed from the file name when absent.
* ContentId: printable ASCII without `<`, `>` or spaces, written as `<id>` (RFC 2392).
* ContentTransferEncoding: BASE64 (default), QUOTED_PRINTABLE, or SEVEN_BIT when the
  bytes are 7bit already (RFC 2045 section 2.7), else refused: SES does not re-encode them.
"""

from __future__ import annotations

import base64
import binascii
import mimetypes
import re
import urllib.parse
import uuid
from collections.abc import Sequence
from dataclasses import dataclass

from postroom.errors import InvalidParameterValue
from postroom.wire.addresses import encode_words
from postroom.wire.attachment_types import check_file_name

MAX_LINE = 998  # RFC 5322 section 2.1.1
_CONTENT_TYPE = re.compile(r"[A-Za-z0-9!#$&^_.+-]+/[A-Za-z0-9!#$&^_.+-]+(;[ -~]*)?")
_CONTENT_ID = re.compile(r"[!-;=?-~]{1,76}")  # printable ASCII without < > and space
_PRINTABLE = re.compile(r"[ -~]*")
_CONTROLS = re.compile(r"[\x00-\x1f\x7f]")
_QUOTABLE = re.compile(r'[ !#-\[\]-~]*')  # printable ASCII without " and \
_SEVEN_BIT_LINE = re.compile(rb"[\x01-\x09\x0b\x0c\x0e-\x7f]{0,998}")  # no NUL, CR, LF
_ENCODINGS = {"BASE64": "base64", "QUOTED_PRINTABLE": "quoted-printable", "SEVEN_BIT": "7bit"}
_CHUNK = 60  # RFC 2231 continuation length, keeps every folded line short


@dataclass(frozen=True)
class Attachment:
    """An SES v2 `Attachment` (botocore sesv2 shape)."""

    data: bytes
    file_name: str
    disposition: str = "ATTACHMENT"  # ATTACHMENT | INLINE
    description: str | None = None
    content_id: str | None = None
    transfer_encoding: str = "BASE64"  # BASE64 | QUOTED_PRINTABLE | SEVEN_BIT
    content_type: str | None = None


def with_attachments(
    body_headers: Sequence[tuple[str, str]], body: bytes, attachments: Sequence[Attachment]
) -> tuple[list[tuple[str, str]], bytes]:
    """multipart/mixed: the body built so far, then each attachment. Returns (headers, body)."""
    # "=_" cannot occur in base64/QP output nor in a uuid (RFC 2045 6.7); a SEVEN_BIT
    # attachment would need to guess the random boundary to break out of its part.
    boundary = f"=_{uuid.uuid4().hex}"
    head = "".join(f"{name}: {value}\r\n" for name, value in body_headers)
    chunks = [f"--{boundary}\r\n{head}\r\n".encode("ascii") + body]
    for attachment in attachments:
        headers, data = attachment_part(attachment)
        part_head = "".join(f"{name}: {value}\r\n" for name, value in headers)
        # The CRLF before the next delimiter belongs to it (RFC 2046 5.1.1): the part's
        # content is exactly the data.
        chunks.append(f"--{boundary}\r\n{part_head}\r\n".encode("ascii") + data + b"\r\n")
    chunks.append(f"--{boundary}--\r\n".encode("ascii"))
    return [("Content-Type", f'multipart/mixed; boundary="{boundary}"')], b"".join(chunks)


def attachment_part(attachment: Attachment) -> tuple[list[tuple[str, str]], bytes]:
    """The headers and encoded content of one attachment's part."""
    name = _checked_file_name(attachment.file_name)
    cte = _ENCODINGS.get(attachment.transfer_encoding)
    if cte is None:
        raise InvalidParameterValue(
            f"Invalid ContentTransferEncoding: {attachment.transfer_encoding[:20]!r}."
        )
    disposition = {"ATTACHMENT": "attachment", "INLINE": "inline"}.get(attachment.disposition)
    if disposition is None:
        raise InvalidParameterValue(f"Invalid ContentDisposition: {attachment.disposition[:20]!r}.")
    headers = [
        ("Content-Type", _content_type(attachment.content_type, name)),
        ("Content-Disposition", fold_params(disposition, _params("filename", name))),
        ("Content-Transfer-Encoding", cte),
    ]
    if attachment.content_id is not None:
        headers.append(("Content-ID", _content_id(attachment.content_id)))
    if attachment.description:
        headers.append(("Content-Description", _description(attachment.description)))
    return headers, _encoded(attachment.data, cte)


def check_attachments(attachments: Sequence[Attachment]) -> None:
    """Refuse what `attachment_part` would refuse, before any message is built (SendBulkEmail
    checks the attachments its entries share once, so that a bad one fails the call)."""
    for attachment in attachments:
        attachment_part(attachment)


def _checked_file_name(name: str) -> str:
    if not name or _CONTROLS.search(name) or len(name) > 255:
        raise InvalidParameterValue("Invalid attachment file name.")
    check_file_name(name)
    return name


def _content_type(given: str | None, file_name: str) -> str:
    if given is None:
        guessed = mimetypes.guess_type(file_name, strict=False)[0]
        given = guessed or "application/octet-stream"
    elif not _CONTENT_TYPE.fullmatch(given) or len(given) > 78:
        raise InvalidParameterValue(f"Invalid ContentType: {given[:78]!r}.")
    if "name=" in given.lower() or not _QUOTABLE.fullmatch(file_name):
        return given
    return fold_params(given, [f'name="{file_name}"'])


def _content_id(given: str) -> str:
    bare = given[1:-1] if given.startswith("<") and given.endswith(">") else given
    if not _CONTENT_ID.fullmatch(bare):
        raise InvalidParameterValue(f"Invalid ContentId: {given[:78]!r}.")
    return f"<{bare}>"


def _description(text: str) -> str:
    if _CONTROLS.search(text):
        raise InvalidParameterValue("Invalid attachment ContentDescription.")
    if text.isascii() and "=?" not in text:
        return text
    return encode_words(text, "utf-8")


def _params(key: str, value: str) -> list[str]:
    """`key="value"`, or RFC 2231 `key*=utf-8''...` (`key*0*=`, `key*1*=`... when long)."""
    if _QUOTABLE.fullmatch(value) and len(value) <= 255:
        return [f'{key}="{value}"']
    encoded = urllib.parse.quote(value.encode("utf-8"), safe="")
    if len(encoded) <= _CHUNK:
        return [f"{key}*=utf-8''{encoded}"]
    pieces: list[str] = []
    start = 0
    while start < len(encoded):
        end = start + _CHUNK
        if end >= len(encoded):
            end = len(encoded)
        elif "%" in encoded[end - 2 : end]:
            end = encoded.rindex("%", end - 2, end)  # never split a %XX escape
        pieces.append(encoded[start:end])
        start = end
    first = f"{key}*0*=utf-8''{pieces[0]}"
    return [first] + [f"{key}*{i}*={piece}" for i, piece in enumerate(pieces[1:], start=1)]


def fold_params(value: str, params: Sequence[str]) -> str:
    """`value; p1; p2` with a line break before each parameter (RFC 5322 folding)."""
    return ";\r\n ".join([value, *params])


def _encoded(data: bytes, cte: str) -> bytes:
    if cte == "base64":
        return base64.encodebytes(data).replace(b"\n", b"\r\n").rstrip(b"\r\n")
    if cte == "quoted-printable":
        # istext=False: CR and LF are encoded too, so the bytes come back exactly.
        encoded = binascii.b2a_qp(data, quotetabs=True, istext=False, header=False)
        return encoded.replace(b"\n", b"\r\n")
    lines = data.split(b"\r\n")
    if not all(_SEVEN_BIT_LINE.fullmatch(line) for line in lines):
        raise InvalidParameterValue("Attachment content is not 7bit; use BASE64 encoding.")
    return data
