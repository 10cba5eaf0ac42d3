"""rest-json responses (SES v2, ses-spec.md 1.2, 2.5): success bodies and errors as values
(status, headers, body bytes). No I/O; the caller adds `x-amzn-RequestId` and `Date`.

* Success: the operation's `http.responseCode` (200 for every SES v2 operation), a JSON
  object of the output members that are present and not `None`, in model order, keys the
  model does not know dropped; `{}` when there is nothing to say. Timestamps are epoch
  seconds, blobs base64, non-finite doubles the strings botocore reads (`NaN`,
  `Infinity`). Output members bound to a header, a header prefix or the status code go
  there (none in sesv2; supported for the protocol's sake).
* Error: `x-amzn-ErrorType: <Code>` and `{"message": "..."}` with the status of
  `restjson_errors.v2_error`: botocore reads the code from that header and the message
  from `message`; JS v3 does the same.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from botocore.model import ServiceModel

from postroom.errors import PostroomError
from postroom.wire.query_plan import CollectionNode, Node, ScalarNode, StructNode
from postroom.wire.restjson_errors import v2_error
from postroom.wire.restjson_plan import ShapePlan, rest_plans
from postroom.wire.restjson_scalars import JSON_WRITERS, write_string, write_text

JSON_CONTENT_TYPE = "application/json"
ERROR_TYPE_HEADER = "x-amzn-ErrorType"
_EMPTY_OBJECT = b"{}"


@dataclass(frozen=True, slots=True)
class RestResponse:
    status: int
    body: bytes
    headers: dict[str, str] = field(default_factory=dict)


def serialize_result(
    model: ServiceModel, operation_name: str, output: Mapping[str, Any] | None
) -> RestResponse:
    """The success response of `operation_name` for the handler's `output` dict."""
    op = rest_plans(model).operations.get(operation_name)
    if op is None:
        raise PostroomError(f"No operation {operation_name!r} in the service model.")
    headers = {"Content-Type": JSON_CONTENT_TYPE}
    plan = op.output
    if plan is None or not output:
        return RestResponse(op.status, _EMPTY_OBJECT, headers)
    status = op.status
    if plan.headers or plan.header_maps or plan.status is not None:
        status = _write_located(plan, output, headers, status)
    if plan.payload is not None:
        body = _write_payload(plan, output, headers)
    else:
        body = _dumps(_write_struct(plan.body, output))
    return RestResponse(status, body, headers)


def serialize_error(error: PostroomError, model: ServiceModel) -> RestResponse:
    """Any PostroomError as SES v2 answers it (table in `restjson_errors`)."""
    code, status, message = v2_error(error, model)
    headers = {"Content-Type": JSON_CONTENT_TYPE, ERROR_TYPE_HEADER: code}
    return RestResponse(status, _dumps({"message": message}), headers)


def _dumps(value: Any) -> bytes:
    # ensure_ascii: lone surrogates a handler let through become \\udXXX escapes, never a
    # UnicodeEncodeError on the way out.
    return json.dumps(value, separators=(",", ":")).encode("ascii")


def _write_located(
    plan: ShapePlan, output: Mapping[str, Any], headers: dict[str, str], status: int
) -> int:
    for bound in plan.headers:
        value = output.get(bound.member.name)
        if value is None:
            continue
        node = bound.member.node
        if isinstance(node, CollectionNode):
            headers[bound.member.wire] = ", ".join(write_string(v) for v in value)
        else:
            headers[bound.member.wire] = write_text(node.type_name, value)
    for bound in plan.header_maps:
        for key, value in (output.get(bound.member.name) or {}).items():
            headers[bound.member.wire + str(key)] = write_string(value)
    if plan.status is not None and output.get(plan.status.member.name) is not None:
        status = int(output[plan.status.member.name])
    return status


def _write_payload(plan: ShapePlan, output: Mapping[str, Any], headers: dict[str, str]) -> bytes:
    assert plan.payload is not None
    member = plan.payload.member
    value = output.get(member.name)
    if isinstance(member.node, StructNode):
        return _dumps(_write_struct(member.node, value or {}))
    if value is None:
        return b""
    headers["Content-Type"] = "application/octet-stream"
    return value.encode("utf-8") if isinstance(value, str) else bytes(value)


def _write_struct(node: StructNode, value: Mapping[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name, wire, _seg, child, _required, _empty in node.members:
        item = value.get(name)
        if item is not None:
            out[wire] = _write_value(child, item)
    return out


def _write_value(node: Node, value: Any) -> Any:
    if isinstance(node, ScalarNode):
        return JSON_WRITERS.get(node.type_name, write_string)(value)
    if isinstance(node, StructNode):
        return _write_struct(node, value)
    assert isinstance(node, CollectionNode)
    item = node.item
    if node.is_map:
        assert isinstance(item, StructNode)
        value_node = item.members[1].node
        return {
            write_string(k): _write_value(value_node, v) for k, v in value.items() if v is not None
        }
    return [_write_value(item, v) for v in value]
