"""Per-operation plans for the rest-json protocol, compiled once per `ServiceModel` at first
use (all operations at once), so a request walks small prepared objects, not botocore.

Each top-level member of an input or output shape is bound by its `location`
(botocore `serialize.BaseRestSerializer`, `parsers.BaseRestParser`):

* `uri` - a path label named by the member's locationName;
* `querystring` - a query parameter (lists repeat the key, `?Reason=BOUNCE&Reason=COMPLAINT`;
  a map takes every parameter no other member claims, Smithy's `@httpQueryParams`);
* `header` - one header (lower-cased name); `headers` - a map of headers sharing a prefix;
* `statusCode` - (output) the HTTP status;
* no location - a key of the JSON body, or the whole body when the shape names a `payload`.

Nested shapes reuse the query protocol's compiled nodes (`query_plan.ServicePlans.node_for`:
wire names, required flags, validation path segments and the scalar constraints), so both
protocols read the model the same way.
"""

from __future__ import annotations

import functools
import threading
from dataclasses import dataclass, field

from botocore.model import ServiceModel, StructureShape

from postroom.wire.query_plan import Member, ServicePlans, StructNode, service_plans


@dataclass(frozen=True, slots=True)
class Bound:
    """A top-level member and where it travels."""

    member: Member
    location: str  # "uri", "querystring", "header", "headers", "statusCode", "body", "payload"
    wire: str  # label, query key, lower-cased header name or prefix, or JSON key


@dataclass(frozen=True, slots=True)
class ShapePlan:
    """One input or output shape split by location."""

    node: StructNode
    uri: tuple[Bound, ...] = ()
    query: tuple[Bound, ...] = ()
    query_map: Bound | None = None
    headers: tuple[Bound, ...] = ()
    header_maps: tuple[Bound, ...] = ()
    status: Bound | None = None
    payload: Bound | None = None  # the member that *is* the body
    body: StructNode = field(default_factory=StructNode)  # the other members, in the body
    query_keys: frozenset[str] = frozenset()


@dataclass(frozen=True, slots=True)
class OperationPlan:
    name: str
    input: ShapePlan | None
    output: ShapePlan | None
    status: int  # http.responseCode, 200 by default (ses-spec.md 1.2: always 200 for SES)


def _shape_plan(plans: ServicePlans, shape: StructureShape) -> ShapePlan:
    node = plans.node_for(shape)
    assert isinstance(node, StructNode), shape.name
    payload_name = shape.serialization.get("payload")
    by_location: dict[str, list[Bound]] = {}
    body_members: list[Member] = []
    for member, member_shape in zip(node.members, shape.members.values(), strict=True):
        location = member_shape.serialization.get("location")
        if member.name == payload_name:
            location = "payload"
        elif location is None:
            body_members.append(member)
            continue
        wire = member.wire.lower() if location in ("header", "headers") else member.wire
        by_location.setdefault(location, []).append(Bound(member, location, wire))
    body = StructNode()
    body.set_members(body_members)
    query = tuple(b for b in by_location.get("querystring", ()) if b.member.node.type_name != "map")
    query_map = next(
        (b for b in by_location.get("querystring", ()) if b.member.node.type_name == "map"), None
    )
    return ShapePlan(
        node=node,
        uri=tuple(by_location.get("uri", ())),
        query=query,
        query_map=query_map,
        headers=tuple(by_location.get("header", ())),
        header_maps=tuple(by_location.get("headers", ())),
        status=next(iter(by_location.get("statusCode", ())), None),
        payload=next(iter(by_location.get("payload", ())), None),
        body=body,
        query_keys=frozenset(b.wire for b in query),
    )


class RestPlans:
    """Every operation's plan for one model, compiled eagerly."""

    def __init__(self, model: ServiceModel) -> None:
        self.model = model
        plans = service_plans(model)
        self.operations: dict[str, OperationPlan] = {}
        for name in model.operation_names:
            op = model.operation_model(name)
            in_shape, out_shape = op.input_shape, op.output_shape
            self.operations[name] = OperationPlan(
                name=name,
                input=_shape_plan(plans, in_shape) if in_shape is not None else None,
                output=_shape_plan(plans, out_shape) if out_shape is not None else None,
                status=int(op.http.get("responseCode", 200)),
            )
        # Every error shape the model declares, with its status (sesv2: 13 of them).
        self.error_statuses: dict[str, int] = {}
        for name in model.operation_names:
            for error in model.operation_model(name).error_shapes:
                status = error.metadata.get("error", {}).get("httpStatusCode", 400)
                self.error_statuses[error.name] = int(status)


_BUILD_LOCK = threading.Lock()


@functools.lru_cache(maxsize=8)
def _cached_plans(model: ServiceModel) -> RestPlans:
    # One builder at a time: node_for shares memoised nodes that must not be seen half-built.
    with _BUILD_LOCK:
        return RestPlans(model)


def rest_plans(model: ServiceModel) -> RestPlans:
    return _cached_plans(model)
