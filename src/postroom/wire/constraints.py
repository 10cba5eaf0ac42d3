"""The model's constraints on input values and the texts AWS writes when one fails, shared
by the query (v1) and rest-json (v2) parsers so that both say the same thing the same way.

AWS gathers every failure of one request into one message (ses-spec.md 2.1; SES v2's
BadRequestException carries the same text):

    1 validation error detected: Value 'x' at 'message.subject.data' failed to satisfy
    constraint: Member must have length less than or equal to 10

Paths are the lower-camel member names joined by dots, list elements written
`tags.1.member` (1-based) and map entries `tags.1.entry.value`.
"""

from __future__ import annotations

from collections.abc import Iterator, Sized
from typing import Any

from postroom.wire.query_plan import CollectionNode, ScalarNode
from postroom.wire.query_scalars import show_value


def scalar_failures(node: ScalarNode, value: Any) -> Iterator[str]:
    """The constraint texts AWS writes after `failed to satisfy constraint:`."""
    if node.enum is not None and value not in node.enum:
        yield f"Member must satisfy enum value set: [{node.enum_text}]"
    if node.min_len is not None and len(value) < node.min_len:
        yield f"Member must have length greater than or equal to {node.min_len}"
    if node.max_len is not None and len(value) > node.max_len:
        yield f"Member must have length less than or equal to {node.max_len}"
    if node.min_val is not None and value < node.min_val:
        yield f"Member must have value greater than or equal to {node.min_val}"
    if node.max_val is not None and value > node.max_val:
        yield f"Member must have value less than or equal to {node.max_val}"
    if node.pattern is not None and isinstance(value, str) and not node.pattern.search(value):
        yield f"Member must satisfy regular expression pattern: {node.pattern.pattern}"


def check_scalar(node: ScalarNode, value: Any, path: str, problems: list[str]) -> None:
    """Append one violation per failed constraint of a scalar `node` (call if `checked`)."""
    for constraint in scalar_failures(node, value):
        problems.append(violation(quoted(value), path, constraint))


def check_collection_length(
    node: CollectionNode, value: Sized, path: str, problems: list[str]
) -> None:
    """The list or map's own min/max item counts."""
    if node.min_len is not None and len(value) < node.min_len:
        problems.append(length_violation(value, path, "greater", node.min_len))
    if node.max_len is not None and len(value) > node.max_len:
        problems.append(length_violation(value, path, "less", node.max_len))


def missing_member(path: str) -> str:
    """A required member that did not arrive."""
    return violation("null", path, "Member must not be null")


def quoted(value: Any) -> str:
    return f"'{show_value(value)}'"


def violation(shown: str, path: str, constraint: str) -> str:
    return f"Value {shown} at '{path}' failed to satisfy constraint: {constraint}"


def length_violation(value: Any, path: str, direction: str, bound: int) -> str:
    return violation(
        quoted(value), path, f"Member must have length {direction} than or equal to {bound}"
    )


def validation_message(problems: list[str]) -> str:
    """`1 validation error detected: ...`, or `N validation errors detected: a; b` (AWS)."""
    count = len(problems)
    noun = "error" if count == 1 else "errors"
    return f"{count} validation {noun} detected: " + "; ".join(problems)
