"""Scalar values of the AWS query protocol: form text in, XML text out (ses-spec.md 2.1, 2.2).

Converters take the raw form value and the parameter name it arrived under and return the
Python value handlers see (`bool`, `int`, `float`, aware UTC `datetime`, `bytes`); a value
that cannot be read raises `InvalidParameterValue` naming that parameter, since AWS answers
malformed input with a 400, never a 500. Renderers do the reverse for `<XResult>` bodies:
booleans `true|false`, doubles `200.0`, timestamps `2011-08-03T19:23:00Z`, blobs base64,
text XML-escaped.
"""

from __future__ import annotations

import base64
import math
import re
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from postroom.errors import InvalidParameterValue

Converter = Callable[[str, str], Any]
Renderer = Callable[[Any], str]

_INT_RE = re.compile(r"[+-]?[0-9]{1,20}")
_FLOAT_RE = re.compile(r"[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]{1,4})?")
_SPECIAL_FLOATS = {"Infinity": math.inf, "-Infinity": -math.inf, "NaN": math.nan}
_B64_JUNK = re.compile(r"[\s]+")
_INT32 = (-(2**31), 2**31 - 1)
_INT64 = (-(2**63), 2**63 - 1)
_SHOW_LIMIT = 256

# XML 1.0 (section 2.2) cannot carry C0 controls other than tab/LF/CR, lone surrogates or
# U+FFFE/U+FFFF even as character references; they become U+FFFD so the body stays parseable.
# CR is written as a reference so that XML line-end normalisation does not eat it.
_XML_UNSAFE = re.compile("[&<>\r\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")
_XML_REPLACEMENTS = {"&": "&amp;", "<": "&lt;", ">": "&gt;", "\r": "&#13;"}


def show_value(value: object) -> str:
    """Render a value for an error message, AWS-style, cut short so replies stay small."""
    if isinstance(value, bool):
        text = "true" if value else "false"
    elif isinstance(value, list):
        text = "[" + ", ".join(show_value(v) for v in value) + "]"
    elif isinstance(value, bytes):
        text = f"java.nio.HeapByteBuffer[pos=0 lim={len(value)} cap={len(value)}]"
    else:
        text = str(value)
    return text if len(text) <= _SHOW_LIMIT else text[:_SHOW_LIMIT] + "..."


def invalid_value(value: object, key: str, expected: str) -> InvalidParameterValue:
    return InvalidParameterValue(
        f"Value '{show_value(value)}' for parameter {key} is invalid: expected {expected}."
    )


def to_boolean(value: str, key: str) -> bool:
    """`true|false` (botocore writes lower case; other casings are accepted)."""
    if len(value) in (4, 5):
        lowered = value.lower()
        if lowered == "true":
            return True
        if lowered == "false":
            return False
    raise invalid_value(value, key, "true or false")


def _to_int(value: str, key: str, bounds: tuple[int, int], expected: str) -> int:
    # int() alone would also take '1_000', ' 7 ' and non-ASCII digits; AWS would not.
    if _INT_RE.fullmatch(value) is None:
        raise invalid_value(value, key, expected)
    number = int(value)
    if not bounds[0] <= number <= bounds[1]:
        raise invalid_value(value, key, expected)
    return number


def to_integer(value: str, key: str) -> int:
    return _to_int(value, key, _INT32, "a 32-bit integer")


def to_long(value: str, key: str) -> int:
    return _to_int(value, key, _INT64, "a 64-bit integer")


def to_double(value: str, key: str) -> float:
    """Decimal or exponent notation; botocore writes Infinity, -Infinity and NaN literally."""
    special = _SPECIAL_FLOATS.get(value)
    if special is not None:
        return special
    if _FLOAT_RE.fullmatch(value) is None:
        raise invalid_value(value, key, "a number")
    return float(value)


def to_timestamp(value: str, key: str) -> datetime:
    """ISO 8601 (botocore's query default, `2011-08-03T19:23:00Z`) or epoch seconds."""
    try:
        if _FLOAT_RE.fullmatch(value) is not None:
            return datetime.fromtimestamp(float(value), UTC)
        parsed = datetime.fromisoformat(value)
        if parsed.tzinfo is None:
            return parsed.replace(tzinfo=UTC)
        return parsed.astimezone(UTC)
    except (ValueError, OverflowError, OSError):
        raise invalid_value(value, key, "an ISO 8601 timestamp") from None


def to_blob(value: str, key: str) -> bytes:
    """Base64 (RawMessage.Data); line breaks and missing padding are forgiven."""
    try:
        return base64.b64decode(value, validate=True)
    except ValueError:
        pass
    compact = _B64_JUNK.sub("", value)
    try:
        return base64.b64decode(compact + "=" * (-len(compact) % 4), validate=True)
    except ValueError:
        raise invalid_value(value, key, "base64-encoded data") from None


CONVERTERS: dict[str, Converter | None] = {
    "string": None,
    "character": None,
    "boolean": to_boolean,
    "integer": to_integer,
    "long": to_long,
    "float": to_double,
    "double": to_double,
    "timestamp": to_timestamp,
    "blob": to_blob,
}


def _escape_one(match: re.Match[str]) -> str:
    return _XML_REPLACEMENTS.get(match.group(), "\ufffd")


def escape_xml(text: str) -> str:
    """Escape element text (the spec's `Sendportal &lt;a@b.com&gt;`, ses-spec.md 2.3)."""
    return _XML_UNSAFE.sub(_escape_one, text)


def render_string(value: Any) -> str:
    return escape_xml(value if isinstance(value, str) else str(value))


def render_boolean(value: Any) -> str:
    return "true" if value else "false"


def render_integer(value: Any) -> str:
    return str(int(value))


def render_double(value: Any) -> str:
    number = float(value)
    if math.isfinite(number):
        return repr(number)
    if math.isnan(number):
        return "NaN"
    return "Infinity" if number > 0 else "-Infinity"


def render_timestamp(value: Any) -> str:
    """`2011-08-03T19:23:00Z`; milliseconds only when there are some. Naive means UTC."""
    if isinstance(value, str):
        return escape_xml(value)
    if isinstance(value, datetime):
        moment = value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
    else:
        moment = datetime.fromtimestamp(float(value), UTC)
    text = moment.strftime("%Y-%m-%dT%H:%M:%S")
    millis = moment.microsecond // 1000
    return f"{text}.{millis:03d}Z" if millis else f"{text}Z"


def render_blob(value: Any) -> str:
    data = value.encode("utf-8") if isinstance(value, str) else bytes(value)
    return base64.b64encode(data).decode("ascii")


RENDERERS: dict[str, Renderer] = {
    "string": render_string,
    "character": render_string,
    "boolean": render_boolean,
    "integer": render_integer,
    "long": render_integer,
    "float": render_double,
    "double": render_double,
    "timestamp": render_timestamp,
    "blob": render_blob,
}
