"""rest-json requests (SES v2, ses-spec.md 2.5): route, then build the operation's input
dict from the path labels, the query string, the headers and the JSON body, checking the
model's constraints on the way. No I/O; the caller caps the body's size.

Errors, all `PostroomError`s (the v2 boundary answers them through `restjson_errors`):

* no route -> `InvalidAction` code `UnknownOperationException`, 404 (`restjson_routes`);
* malformed or non-object JSON, nesting deeper than `MAX_JSON_DEPTH`, bad percent-encoding
  in a label, a value of the wrong JSON type -> `InvalidParameterValue` (v2: BadRequest);
* required, enum, length, range, pattern -> `ValidationError` with AWS's
  "N validation error(s) detected: ..." text (`constraints`), every violation at once.

Members the model does not know are ignored, as AWS ignores them; `null` is the same as
absent (botocore never sends it). Strings are checked to be UTF-8-encodable (a lone
`\\ud800` escape is refused) so nothing downstream chokes on them.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any
from urllib.parse import unquote

from botocore.model import ServiceModel

from postroom.errors import InvalidParameterValue, ValidationError
from postroom.wire.constraints import (
    check_collection_length,
    check_scalar,
    missing_member,
    validation_message,
)
from postroom.wire.query_plan import CollectionNode, Node, ScalarNode, StructNode
from postroom.wire.restjson_plan import Bound, ShapePlan, rest_plans
from postroom.wire.restjson_routes import RouteMatch, match_route
from postroom.wire.restjson_scalars import (
    JSON_READERS,
    read_header,
    read_string,
    read_text,
)

INVALID_JSON_MESSAGE = "The input you provided is invalid: the request body is not valid JSON."
NOT_AN_OBJECT_MESSAGE = "The input you provided is invalid: the request body must be a JSON object."
TOO_DEEP_MESSAGE = "The input you provided is invalid: the request body is nested too deeply."
# No SES v2 shape is nested more than ~8 levels; this only stops recursive shapes and junk.
MAX_JSON_DEPTH = 32


def parse_request(
    model: ServiceModel,
    method: str,
    path: str,
    query_string: str = "",
    headers: Mapping[str, str] | None = None,
    body: bytes = b"",
) -> tuple[str, dict[str, Any]]:
    """Return `(operation name, input dict)` for one rest-json request.

    `path` is the raw, still percent-encoded path (ASGI `raw_path`); `headers` are looked up
    by lower-case name. Operations the pinned model lacks (drift routes, `modeled=False`)
    come back with `{}` once their body is a JSON object.
    """
    query = parse_query(query_string) if query_string else {}
    match = match_route(model, method, path, frozenset(query))
    return match.operation, parse_matched(model, match, query, headers or {}, body)


def parse_matched(
    model: ServiceModel,
    match: RouteMatch,
    query: Mapping[str, list[str]],
    headers: Mapping[str, str],
    body: bytes,
) -> dict[str, Any]:
    """The input dict of an already routed request (see `parse_request`)."""
    route = match.route
    op = rest_plans(model).operations.get(route.operation)
    plan = op.input if op is not None else None
    if plan is None:
        if body.strip():
            load_json_object(body)
        return {}
    problems: list[str] = []
    out: dict[str, Any] = {}
    for bound in plan.uri:
        _take_text(bound, match.labels.get(bound.wire), out, problems)
    if route.params_in_body:
        document = load_json_object(body)
        out.update(_read_members(plan.query, document, problems))
        out.update(_read_struct(plan.body, document, "", "", problems, 0))
    else:
        _read_query(plan, query, out, problems)
        if plan.payload is not None:
            _read_payload(plan.payload, body, out, problems)
        elif plan.body.members:
            document = load_json_object(body)
            out.update(_read_struct(plan.body, document, "", "", problems, 0))
    if plan.headers or plan.header_maps:
        _read_headers(plan, headers, out, problems)
    if problems:
        raise ValidationError(validation_message(problems))
    return out


def parse_query(query_string: str) -> dict[str, list[str]]:
    """`a=1&b=2&b=3` -> {"a": ["1"], "b": ["2", "3"]}; `+` is a space (botocore's requests
    writes spaces so); a stray `%` stays literal and bad UTF-8 becomes U+FFFD, as in v1."""
    params: dict[str, list[str]] = {}
    for pair in query_string.split("&"):
        if not pair:
            continue
        key, _, value = pair.partition("=")
        key = unquote(key.replace("+", " "), errors="replace")
        params.setdefault(key, []).append(unquote(value.replace("+", " "), errors="replace"))
    return params


def load_json_object(body: bytes) -> dict[str, Any]:
    """The body as a JSON object; an empty body is `{}` (boto3 sends none on GET)."""
    if not body or body.isspace():
        return {}
    try:
        document = json.loads(body, parse_constant=_refuse_constant)
    except RecursionError:
        raise InvalidParameterValue(TOO_DEEP_MESSAGE) from None
    except ValueError:  # JSONDecodeError, UnicodeDecodeError, >4300-digit integers
        raise InvalidParameterValue(INVALID_JSON_MESSAGE) from None
    if type(document) is not dict:
        raise InvalidParameterValue(NOT_AN_OBJECT_MESSAGE)
    return document


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")  # NaN, Infinity: Python-only extensions


def _take_text(bound: Bound, text: str | None, out: dict[str, Any], problems: list[str]) -> None:
    """A path label or single query value, converted and checked."""
    member = bound.member
    if text is None:
        if member.required:
            problems.append(missing_member(member.seg))
        return
    node = member.node
    if not isinstance(node, ScalarNode):
        raise InvalidParameterValue(f"Parameter {bound.wire} cannot be sent as text.")
    value = read_text(node.type_name, text, bound.wire)
    if node.checked:
        check_scalar(node, value, member.seg, problems)
    out[member.name] = value


def _read_query(
    plan: ShapePlan, query: Mapping[str, list[str]], out: dict[str, Any], problems: list[str]
) -> None:
    for bound in plan.query:
        values = query.get(bound.wire)
        node = bound.member.node
        if isinstance(node, CollectionNode):
            if values is None:
                if bound.member.required:
                    problems.append(missing_member(bound.member.seg))
                continue
            out[bound.member.name] = _text_list(bound, node, values, problems)
        else:
            _take_text(bound, values[-1] if values else None, out, problems)
    if plan.query_map is not None:
        rest = {k: v for k, v in query.items() if k not in plan.query_keys}
        out[plan.query_map.member.name] = _text_map(plan.query_map, rest, problems)


def _text_list(
    bound: Bound, node: CollectionNode, values: list[str], problems: list[str]
) -> list[Any]:
    item = node.item
    if not isinstance(item, ScalarNode):
        raise InvalidParameterValue(f"Parameter {bound.wire} cannot be sent as text.")
    path = bound.member.seg
    result = []
    for n, text in enumerate(values, 1):
        value = read_text(item.type_name, text, bound.wire)
        if item.checked:
            check_scalar(item, value, f"{path}.{n}.member", problems)
        result.append(value)
    check_collection_length(node, result, path, problems)
    return result


def _text_map(bound: Bound, pairs: Mapping[str, list[str]], problems: list[str]) -> dict[str, Any]:
    node = bound.member.node
    assert isinstance(node, CollectionNode) and isinstance(node.item, StructNode)
    value_node = node.item.members[1].node
    if isinstance(value_node, CollectionNode):
        result: dict[str, Any] = {k: list(v) for k, v in pairs.items()}
    else:
        result = {k: v[-1] for k, v in pairs.items()}
    check_collection_length(node, result, bound.member.seg, problems)
    return result


def _read_headers(
    plan: ShapePlan, headers: Mapping[str, str], out: dict[str, Any], problems: list[str]
) -> None:
    lowered = {k.lower(): v for k, v in headers.items()}
    for bound in plan.headers:
        text = lowered.get(bound.wire)
        node = bound.member.node
        if text is not None and isinstance(node, CollectionNode):
            # botocore joins list headers with ", " (quoting items that hold commas).
            out[bound.member.name] = [part.strip() for part in text.split(",")]
            continue
        if text is None or not isinstance(node, ScalarNode):
            _take_text(bound, None, out, problems)
            continue
        value = read_header(node.type_name, text, bound.wire)
        if node.checked:
            check_scalar(node, value, bound.member.seg, problems)
        out[bound.member.name] = value
    for bound in plan.header_maps:
        prefix = bound.wire
        found = {k[len(prefix) :]: v for k, v in lowered.items() if k.startswith(prefix)}
        if found:
            out[bound.member.name] = found


def _read_payload(bound: Bound, body: bytes, out: dict[str, Any], problems: list[str]) -> None:
    """A shape whose `payload` member is the whole body: a structure as JSON, a blob as the
    raw bytes, a string as UTF-8 text."""
    member, node = bound.member, bound.member.node
    if isinstance(node, StructNode):
        if body.strip() or member.required:
            document = load_json_object(body)
            where, path = member.wire, member.seg + "."
            out[member.name] = _read_struct(node, document, where, path, problems, 1)
    elif node.type_name == "blob":
        if body or member.required:
            out[member.name] = bytes(body)
    elif body or member.required:
        try:
            out[member.name] = read_string(body.decode("utf-8"), member.wire)
        except UnicodeDecodeError:
            raise InvalidParameterValue(INVALID_JSON_MESSAGE) from None


def _read_members(
    bounds: tuple[Bound, ...], document: Mapping[str, Any], problems: list[str]
) -> dict[str, Any]:
    """Members the model puts elsewhere, read from the JSON body by member name (the drift
    routes' `params_in_body`)."""
    out: dict[str, Any] = {}
    for bound in bounds:
        member = bound.member
        value = document.get(member.name)
        if value is None:
            if member.required:
                problems.append(missing_member(member.seg))
            continue
        out[member.name] = _read_value(member.node, value, member.name, member.seg, problems, 1)
    return out


def _read_struct(
    node: StructNode, value: Any, where: str, path: str, problems: list[str], depth: int
) -> dict[str, Any]:
    """`where` names the value in type errors (`Content.Simple.Subject`), `path` prefixes
    validation paths (`content.simple.subject.`)."""
    if type(value) is not dict:
        raise InvalidParameterValue(f"Value for parameter {where or 'body'} must be a JSON object.")
    out: dict[str, Any] = {}
    prefix = where + "." if where else ""
    for name, wire, seg, child, required, _empty in node.members:
        item = value.get(wire)
        if item is None:
            if required:
                problems.append(missing_member(path + seg))
            continue
        out[name] = _read_value(child, item, prefix + wire, path + seg, problems, depth + 1)
    return out


def _read_value(
    node: Node, value: Any, where: str, path: str, problems: list[str], depth: int
) -> Any:
    if isinstance(node, ScalarNode):
        result = JSON_READERS[node.type_name](value, where)
        if node.checked:
            check_scalar(node, result, path, problems)
        return result
    if depth > MAX_JSON_DEPTH:
        raise InvalidParameterValue(TOO_DEEP_MESSAGE)
    if isinstance(node, StructNode):
        return _read_struct(node, value, where, path + ".", problems, depth)
    assert isinstance(node, CollectionNode)
    if node.is_map:
        return _read_map(node, value, where, path, problems, depth)
    if type(value) is not list:
        raise InvalidParameterValue(f"Value for parameter {where} must be a JSON array.")
    item = node.item
    if isinstance(item, ScalarNode) and item.type_name == "string" and not item.checked:
        result = [read_string(v, f"{where}.{n}") for n, v in enumerate(value, 1)]
    else:
        result = [
            _read_value(item, v, f"{where}.{n}", f"{path}.{n}.member", problems, depth + 1)
            for n, v in enumerate(value, 1)
        ]
    check_collection_length(node, result, path, problems)
    return result


def _read_map(
    node: CollectionNode, value: Any, where: str, path: str, problems: list[str], depth: int
) -> dict[str, Any]:
    if type(value) is not dict:
        raise InvalidParameterValue(f"Value for parameter {where} must be a JSON object.")
    entry = node.item
    assert isinstance(entry, StructNode)
    key_node, value_node = entry.members[0].node, entry.members[1].node
    result: dict[str, Any] = {}
    for n, (key, item) in enumerate(value.items(), 1):
        if item is None:
            continue
        entry_path = f"{path}.{n}.entry"
        key = _read_value(key_node, key, f"{where}.{n}.key", entry_path + ".key", problems, depth)
        result[key] = _read_value(
            value_node, item, f"{where}.{key}", entry_path + ".value", problems, depth + 1
        )
    check_collection_length(node, result, path, problems)
    return result
