"""Sample values for every shape of a botocore model, satisfying its constraints: the
inputs and outputs of the rest-json round-trip tests."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

from botocore.model import Shape

# Path labels get the characters that must survive percent-encoding.
TRICKY_LABEL = "user+tag@example.com/50%é☃ x"
_STRING_CANDIDATES = (
    "user+tag@example.com",
    "AAAA",
    "s3://bucket/some/key",
    "arn:aws:ses:us-east-1:123456789012:mailmanager-archive/a-" + "a" * 24,
    "x",
)
SAMPLE_TIME = datetime(2024, 5, 6, 7, 8, 9, tzinfo=UTC)


def sample_string(shape: Shape, preferred: str | None = None) -> str:
    meta = shape.metadata
    if meta.get("enum"):
        return str(meta["enum"][-1])
    pattern = re.compile(meta["pattern"]) if meta.get("pattern") else None
    low, high = meta.get("min", 0), meta.get("max", 10**6)
    candidates = ((preferred,) if preferred else ()) + _STRING_CANDIDATES
    for text in candidates:
        text = text.ljust(low, "A")
        if len(text) <= high and (pattern is None or pattern.search(text)):
            return text
    raise AssertionError(f"no sample for {shape.name}")


def sample_value(shape: Shape, depth: int = 0, label: bool = False) -> Any:
    """A value of `shape` with every member filled (optional ones too, to depth 6)."""
    kind = shape.type_name
    if kind == "structure":
        if depth > 6:
            return {
                name: sample_value(shape.members[name], depth + 1)
                for name in shape.required_members
            }
        return {name: sample_value(member, depth + 1) for name, member in shape.members.items()}
    if kind == "list":
        count = max(shape.metadata.get("min", 0), 1 if shape.metadata.get("max", 2) < 2 else 2)
        return [sample_value(shape.member, depth + 1) for _ in range(count)]
    if kind == "map":
        key = sample_string(shape.key, "Key-é")
        return {key: sample_value(shape.value, depth + 1)}
    if kind == "string":
        return sample_string(shape, TRICKY_LABEL if label else None)
    if kind == "boolean":
        return True
    if kind in ("integer", "long"):
        low, high = shape.metadata.get("min", 1), shape.metadata.get("max", 10**6)
        return min(max(7, low), high)
    if kind in ("float", "double"):
        return 12.5
    if kind == "timestamp":
        return SAMPLE_TIME
    if kind == "blob":
        return b"\x00\xffbinary\r\n"
    raise AssertionError(kind)


def sample_input(shape: Shape | None) -> dict[str, Any]:
    if shape is None:
        return {}
    params = {}
    for name, member in shape.members.items():
        if name == "EndpointId":  # host context for multi-region (SigV4a), never on the path
            continue
        is_label = member.serialization.get("location") == "uri"
        params[name] = sample_value(member, 1, label=is_label)
    return params
