"""AWS query responses: the `<OpResponse>` and `<ErrorResponse>` XML envelopes
(ses-spec.md 2.2, 2.3, 2.4).

Rendering walks the operation's compiled output plan (`query_plan`) in model member order,
skipping members that are absent or `None` and keys the model does not know. botocore
raises `KeyError` when `<OpResult>` is missing, so every operation with an output shape gets
one, empty if need be (`<DeleteIdentityResult/>`); the few without an output shape
(VerifyEmailAddress, UpdateAccountSendingEnabled, ...) get only `<ResponseMetadata>`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from botocore.model import ServiceModel

from postroom.errors import PostroomError
from postroom.wire.query_plan import CollectionNode, Node, ScalarNode, StructNode, service_plans
from postroom.wire.query_scalars import escape_xml

SES_NAMESPACE = "http://ses.amazonaws.com/doc/2010-12-01/"


def serialize_result(
    model: ServiceModel, operation_name: str, output: Mapping[str, Any] | None, request_id: str
) -> bytes:
    """`<OpResponse xmlns=...><OpResult>...</OpResult><ResponseMetadata>...` as UTF-8."""
    plan = service_plans(model).operation(operation_name)
    if plan is None:
        raise PostroomError(f"No operation {operation_name!r} in the service model.")
    parts = [plan.response_open]
    if plan.output is not None and plan.result_wrapper is not None:
        wrapper = plan.result_wrapper
        start = len(parts)
        parts.append(f"<{wrapper}>")
        if output:
            _write_members(plan.output, output, parts)
        if len(parts) == start + 1:
            parts[start] = f"<{wrapper}/>"
        else:
            parts.append(f"</{wrapper}>")
    parts.append(_response_metadata(request_id))
    parts.append(plan.response_close)
    return "".join(parts).encode()


def serialize_error(
    error: PostroomError, request_id: str, *, namespace: str = SES_NAMESPACE
) -> bytes:
    """`<ErrorResponse>` with Type (Sender|Receiver), Code, Message and a top-level RequestId,
    the shape real SES sends (ses-spec.md 2.3) and botocore reads (2.4)."""
    return (
        f'<ErrorResponse xmlns="{escape_xml(namespace)}">'
        f"<Error><Type>{error.fault}</Type>"
        f"<Code>{escape_xml(error.code)}</Code>"
        f"<Message>{escape_xml(error.message)}</Message></Error>"
        f"<RequestId>{escape_xml(request_id)}</RequestId>"
        "</ErrorResponse>"
    ).encode()


def _response_metadata(request_id: str) -> str:
    return f"<ResponseMetadata><RequestId>{escape_xml(request_id)}</RequestId></ResponseMetadata>"


def _write_members(node: StructNode, value: Mapping[str, Any], parts: list[str]) -> None:
    for name, wire, _seg, child, _required, _empty in node.members:
        member = value.get(name)
        if member is not None:
            _write(child, member, wire, parts)


def _write(node: Node, value: Any, name: str, parts: list[str]) -> None:
    if isinstance(node, ScalarNode):
        parts.append(f"<{name}>{node.render(value)}</{name}>")
    elif isinstance(node, StructNode):
        parts.append(f"<{name}>")
        _write_members(node, value, parts)
        parts.append(f"</{name}>")
    elif isinstance(node, CollectionNode):
        _write_collection(node, value, name, parts)


def _write_collection(node: CollectionNode, value: Any, name: str, parts: list[str]) -> None:
    """Lists `<X><member>..</member></X>`, maps `<X><entry><key/><value/></entry></X>`;
    flattened shapes repeat `<X>` itself instead (item_key is None)."""
    item = node.item
    # None elements and None map values have no XML form botocore can read back: skip them.
    items: Any
    if node.is_map:
        items = [(k, v) for k, v in value.items() if v is not None]
    else:
        items = [v for v in value if v is not None]
    if node.item_key is None:
        for element in items:
            _write_item(node, item, element, name, parts)
        return
    parts.append(f"<{name}>")
    for element in items:
        _write_item(node, item, element, node.item_key, parts)
    parts.append(f"</{name}>")


def _write_item(node: CollectionNode, item: Node, element: Any, tag: str, parts: list[str]) -> None:
    if node.is_map:
        assert isinstance(item, StructNode)
        key, entry_value = element
        _write(item, {"key": key, "value": entry_value}, tag, parts)
    else:
        _write(item, element, tag, parts)
