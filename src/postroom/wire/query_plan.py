"""Plans compiled once from botocore shapes, so each request walks small slotted objects
instead of the botocore model (ARCHITECTURE.md: the wire format comes from the model).

One plan serves both directions of the AWS query protocol (ses-spec.md 2.1, 2.2):

* `StructNode` - members in model order with their wire name (the member's locationName or
  its own name: `Message.Subject.Data` in, `<MessageId>` out), required flags, and the
  lower-camel segment AWS writes in ValidationError paths (`message.subject.data`).
* `CollectionNode` - lists (`X.member.N` in, `<X><member>` out) and maps
  (`X.entry.N.key|value` in, `<X><entry><key/><value/></entry></X>` out); a map's entry is a
  two-member `StructNode` so that parsing and rendering treat it like any structure.
  `item_key` is `None` for flattened shapes (`X.N`, repeated `<X>`).
* `ScalarNode` - converter, renderer and the model's constraints (enum, min/max, pattern).

`service_plans(model)` is cached per `ServiceModel` object and compiles operations lazily.
"""

from __future__ import annotations

import functools
import re
import threading
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from botocore.model import ListShape, MapShape, ServiceModel, Shape, StructureShape

from postroom.wire.query_scalars import CONVERTERS, RENDERERS, Converter, Renderer, render_string


class Node:
    __slots__ = ("type_name",)

    def __init__(self, type_name: str) -> None:
        self.type_name = type_name


class Member(NamedTuple):
    name: str  # key in the handler's dict
    wire: str  # form key segment and XML element name
    seg: str  # ValidationError path segment
    node: Node
    required: bool
    # A required member that did not arrive is `{}`, not null, when the wire cannot tell
    # absent from empty: botocore sends nothing for `{}` of a structure whose members are all
    # optional (TrackingOptions of CreateConfigurationSetTrackingOptions) or an empty map.
    empty_if_absent: bool = False


class StructNode(Node):
    __slots__ = ("children", "members")

    def __init__(self, type_name: str = "structure") -> None:
        super().__init__(type_name)
        self.children: dict[str, tuple[str, Node]] = {}
        self.members: tuple[Member, ...] = ()

    def set_members(self, members: list[Member]) -> None:
        self.members = tuple(members)
        self.children = {m.wire: (m.name, m.node) for m in members}


class CollectionNode(Node):
    __slots__ = ("is_map", "item_key", "item", "min_len", "max_len")

    def __init__(self, is_map: bool, item_key: str | None, meta: dict[str, Any]) -> None:
        super().__init__("map" if is_map else "list")
        self.is_map = is_map
        self.item_key = item_key
        self.item: Node = Node("string")  # replaced once the item shape is compiled
        self.min_len: int | None = meta.get("min")
        self.max_len: int | None = meta.get("max")


class ScalarNode(Node):
    __slots__ = (
        "convert",
        "render",
        "checked",
        "enum",
        "enum_text",
        "min_len",
        "max_len",
        "min_val",
        "max_val",
        "pattern",
    )

    def __init__(self, shape: Shape) -> None:
        type_name = shape.type_name
        super().__init__(type_name)
        meta = shape.metadata
        self.convert: Converter | None = CONVERTERS.get(type_name)
        self.render: Renderer = RENDERERS.get(type_name, render_string)
        values = meta.get("enum")
        self.enum: frozenset[str] | None = frozenset(values) if values else None
        self.enum_text = ", ".join(values) if values else ""
        numeric = type_name in ("integer", "long", "float", "double")
        self.min_val: float | None = meta.get("min") if numeric else None
        self.max_val: float | None = meta.get("max") if numeric else None
        self.min_len: int | None = None if numeric else meta.get("min")
        self.max_len: int | None = None if numeric else meta.get("max")
        self.pattern: re.Pattern[str] | None = compile_pattern(meta.get("pattern"))
        self.checked = any(
            x is not None
            for x in (self.enum, self.min_val, self.max_val, self.min_len, self.max_len)
        ) or (self.pattern is not None)


@functools.lru_cache(maxsize=256)
def compile_pattern(pattern: str | None) -> re.Pattern[str] | None:
    """Model patterns are Java regexes and, per Smithy, not implicitly anchored; ASCII mode
    gives `\\w`/`\\d` Java's meaning. The few Python cannot compile (e.g. `\\p{L}`) are
    skipped rather than failing every request."""
    if not pattern:
        return None
    try:
        return re.compile(pattern, re.ASCII)
    except re.error:
        return None


@dataclass(frozen=True, slots=True)
class OperationPlan:
    name: str
    input: StructNode | None
    output: StructNode | None
    result_wrapper: str | None  # `<OpResult>`; None when the operation has no output shape
    response_open: str  # `<OpResponse xmlns="...">`
    response_close: str
    # Form key -> (member names and indexes it walks, node it ends on), or None when the key
    # means nothing to this operation. Filled by query_parse, bounded by KEY_CACHE_LIMIT.
    key_cache: dict[str, tuple[tuple[Any, ...], Node] | None] = field(default_factory=dict)


# Enough for every key of every SES operation's usual requests; junk keys beyond it are
# resolved each time instead of growing memory without bound.
KEY_CACHE_LIMIT = 4096


class ServicePlans:
    """Compiled plans for one botocore `ServiceModel`; operations compile on first use."""

    def __init__(self, model: ServiceModel) -> None:
        self.model = model
        self.api_version: str = model.api_version
        self.namespace: str = model.metadata.get("xmlNamespace", "")
        self.operation_names = frozenset(model.operation_names)
        self._nodes: dict[str, Node] = {}
        self._operations: dict[str, OperationPlan] = {}
        self._lock = threading.Lock()

    def operation(self, name: str) -> OperationPlan | None:
        plan = self._operations.get(name)
        if plan is None and name in self.operation_names:
            # One compiler at a time: a half-built shared StructNode must not be seen.
            with self._lock:
                plan = self._operations.get(name) or self._compile_operation(name)
                self._operations[name] = plan
        return plan

    def _compile_operation(self, name: str) -> OperationPlan:
        op = self.model.operation_model(name)
        in_shape, out_shape = op.input_shape, op.output_shape
        wrapper = None
        if out_shape is not None:
            wrapper = out_shape.serialization.get("resultWrapper", f"{name}Result")
        return OperationPlan(
            name=name,
            input=self._struct(in_shape) if in_shape is not None else None,
            output=self._struct(out_shape) if out_shape is not None else None,
            result_wrapper=wrapper,
            response_open=f'<{name}Response xmlns="{self.namespace}">',
            response_close=f"</{name}Response>",
        )

    def _struct(self, shape: Shape) -> StructNode:
        node = self.node_for(shape)
        assert isinstance(node, StructNode), shape.name
        return node

    def node_for(self, shape: Shape) -> Node:
        """Compile `shape`; containers are memoised by name, which also ends recursion."""
        if isinstance(shape, StructureShape | ListShape | MapShape):
            cached = self._nodes.get(shape.name)
            if cached is not None:
                return cached
        if isinstance(shape, StructureShape):
            struct = StructNode()
            self._nodes[shape.name] = struct
            struct.set_members(self._members(shape))
            return struct
        if isinstance(shape, ListShape):
            return self._list(shape)
        if isinstance(shape, MapShape):
            return self._map(shape)
        return ScalarNode(shape)

    def _members(self, shape: StructureShape) -> list[Member]:
        required = set(shape.required_members)
        members = []
        for name, member_shape in shape.members.items():
            node = self.node_for(member_shape)
            members.append(
                Member(
                    name=name,
                    wire=_wire_name(member_shape, name),
                    seg=name[:1].lower() + name[1:],
                    node=node,
                    required=name in required,
                    empty_if_absent=name in required and _empty_is_silent(node),
                )
            )
        return members

    def _list(self, shape: ListShape) -> CollectionNode:
        flattened = shape.serialization.get("flattened", False)
        item_key = None if flattened else shape.member.serialization.get("name", "member")
        node = CollectionNode(False, item_key, shape.metadata)
        self._nodes[shape.name] = node
        node.item = self.node_for(shape.member)
        return node

    def _map(self, shape: MapShape) -> CollectionNode:
        flattened = shape.serialization.get("flattened", False)
        node = CollectionNode(True, None if flattened else "entry", shape.metadata)
        self._nodes[shape.name] = node
        entry = StructNode("entry")
        key_wire = shape.key.serialization.get("name", "key")
        value_wire = shape.value.serialization.get("name", "value")
        key_node, value_node = self.node_for(shape.key), self.node_for(shape.value)
        entry.set_members(
            [
                Member("key", key_wire, "key", key_node, True),
                Member(
                    "value", value_wire, "value", value_node, True, _empty_is_silent(value_node)
                ),
            ]
        )
        node.item = entry
        return node


def _empty_is_silent(node: Node) -> bool:
    """True when botocore serializes an empty value of this node as no parameters at all."""
    if isinstance(node, StructNode):
        return not any(m.required for m in node.members)
    return isinstance(node, CollectionNode) and node.is_map


def _wire_name(shape: Shape, member_name: str) -> str:
    """locationName, except that a flattened list whose member has a locationName is keyed by
    that name (botocore QuerySerializer._serialize_type_list, XML parser _member_key_name)."""
    if isinstance(shape, ListShape) and shape.serialization.get("flattened"):
        item_name = shape.member.serialization.get("name")
        if item_name:
            return str(item_name)
    return str(shape.serialization.get("name", member_name))


@functools.lru_cache(maxsize=16)
def service_plans(model: ServiceModel) -> ServicePlans:
    return ServicePlans(model)
