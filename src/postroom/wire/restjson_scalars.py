"""Scalar values of the rest-json protocol (ses-spec.md 2.5): JSON values in, the Python
values handlers see out, and back.

Handlers see what v1 handlers see (`awsquery` docstring): `str`, `bool`, `int`, `float`,
aware UTC `datetime` for timestamps, `bytes` for blobs. In a JSON body botocore writes
timestamps as epoch seconds (`RestJSONSerializer.TIMESTAMP_FORMAT = 'unixtimestamp'`) and
blobs as base64 text; query strings and headers carry text, read by the query protocol's own
converters (`query_scalars`: ISO 8601 timestamps, `true|false`, ...), plus RFC 822 dates,
botocore's default for timestamp headers.

A JSON value of the wrong type (a string for an integer, `true` for a string, a float for an
integer, 2**31 for an integer) raises `InvalidParameterValue` naming the member, the same
text the v1 parser uses; the v2 boundary answers it as BadRequestException.
"""

from __future__ import annotations

import base64
import math
from collections.abc import Callable
from datetime import UTC, datetime
from email.utils import format_datetime, parsedate_to_datetime
from typing import Any

from postroom.errors import InvalidParameterValue
from postroom.wire.query_scalars import CONVERTERS, invalid_value, to_blob, to_timestamp

JsonReader = Callable[[Any, str], Any]
JsonWriter = Callable[[Any], Any]

_INT32 = (-(2**31), 2**31 - 1)
_INT64 = (-(2**63), 2**63 - 1)
_SPECIAL_FLOATS = {"NaN": math.nan, "Infinity": math.inf, "-Infinity": -math.inf}


def read_string(value: Any, where: str) -> str:
    if type(value) is not str:
        raise invalid_value(value, where, "a string")
    if not value.isascii():
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:  # a lone surrogate from a `\ud800` escape
            raise invalid_value(value.encode("utf-8", "replace"), where, "UTF-8 text") from None
    return value


def read_boolean(value: Any, where: str) -> bool:
    if type(value) is not bool:
        raise invalid_value(value, where, "true or false")
    return value


def _read_int(value: Any, where: str, bounds: tuple[int, int], expected: str) -> int:
    if type(value) is not int or not bounds[0] <= value <= bounds[1]:
        raise invalid_value(value, where, expected)
    return value


def read_integer(value: Any, where: str) -> int:
    return _read_int(value, where, _INT32, "a 32-bit integer")


def read_long(value: Any, where: str) -> int:
    return _read_int(value, where, _INT64, "a 64-bit integer")


def read_double(value: Any, where: str) -> float:
    """A JSON number; botocore writes non-finite doubles as the strings NaN, Infinity."""
    if type(value) is float:
        return value
    if type(value) is int:
        try:
            return float(value)
        except OverflowError:
            raise invalid_value(value, where, "a number") from None
    if type(value) is str and value in _SPECIAL_FLOATS:
        return _SPECIAL_FLOATS[value]
    raise invalid_value(value, where, "a number")


def read_timestamp(value: Any, where: str) -> datetime:
    """Epoch seconds (botocore, JS v3) or, leniently, an ISO 8601 string."""
    if type(value) is int or type(value) is float:
        return epoch_to_datetime(value, where)
    if type(value) is str:
        return to_timestamp(value, where)
    raise invalid_value(value, where, "epoch seconds")


def epoch_to_datetime(value: float, where: str) -> datetime:
    try:
        return datetime.fromtimestamp(value, UTC)
    except (ValueError, OverflowError, OSError):
        raise invalid_value(value, where, "epoch seconds") from None


def read_blob(value: Any, where: str) -> bytes:
    if type(value) is not str:
        raise invalid_value(value, where, "base64-encoded data")
    return to_blob(value, where)


JSON_READERS: dict[str, JsonReader] = {
    "string": read_string,
    "character": read_string,
    "boolean": read_boolean,
    "integer": read_integer,
    "long": read_long,
    "float": read_double,
    "double": read_double,
    "timestamp": read_timestamp,
    "blob": read_blob,
}


def read_text(type_name: str, text: str, where: str) -> Any:
    """A scalar from a query parameter, path label or header (always text on the wire)."""
    convert = CONVERTERS.get(type_name)
    if convert is None:
        if type_name in ("string", "character"):
            return read_string(text, where)
        raise InvalidParameterValue(f"Parameter {where} cannot be sent as text.")
    return convert(text, where)


def read_header(type_name: str, text: str, where: str) -> Any:
    """Like `read_text`, plus RFC 822 dates (botocore's default for timestamp headers)."""
    if type_name == "timestamp" and "," in text:
        try:
            parsed = parsedate_to_datetime(text)
        except (TypeError, ValueError, IndexError):
            raise invalid_value(text, where, "an RFC 822 date") from None
        return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)
    return read_text(type_name, text, where)


def write_string(value: Any) -> str:
    return value if type(value) is str else str(value)


def write_boolean(value: Any) -> bool:
    return bool(value)


def write_integer(value: Any) -> int:
    return int(value)


def write_double(value: Any) -> float | str:
    number = float(value)
    if math.isfinite(number):
        return number
    if math.isnan(number):
        return "NaN"
    return "Infinity" if number > 0 else "-Infinity"


def write_timestamp(value: Any) -> int | float:
    """Epoch seconds, whole when possible, else to the millisecond (ses-spec.md 2.5)."""
    if isinstance(value, datetime):
        moment = value.replace(tzinfo=UTC) if value.tzinfo is None else value
        seconds = moment.timestamp()
    elif isinstance(value, str):
        seconds = to_timestamp(value, "timestamp").timestamp()
    else:
        seconds = float(value)
    whole = int(seconds)
    return whole if whole == seconds else round(seconds, 3)


def write_blob(value: Any) -> str:
    data = value.encode("utf-8") if isinstance(value, str) else bytes(value)
    return base64.b64encode(data).decode("ascii")


JSON_WRITERS: dict[str, JsonWriter] = {
    "string": write_string,
    "character": write_string,
    "boolean": write_boolean,
    "integer": write_integer,
    "long": write_integer,
    "float": write_double,
    "double": write_double,
    "timestamp": write_timestamp,
    "blob": write_blob,
}


def write_text(type_name: str, value: Any) -> str:
    """A scalar for an output header: booleans lower case, timestamps RFC 822 (botocore's
    header default)."""
    if type_name == "boolean":
        return "true" if value else "false"
    if type_name == "timestamp":
        return format_datetime(epoch_to_datetime(write_timestamp(value), "timestamp"), True)
    written = JSON_WRITERS.get(type_name, write_string)(value)
    return written if isinstance(written, str) else str(written)
