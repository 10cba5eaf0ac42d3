"""AWS query requests: form decoding, model-driven input building and validation
(ses-spec.md 2.1).

Parsing is bottom-up: each form key is split on dots and walked through the operation's
compiled plan (`query_plan`), so the work is proportional to the parameters sent, whatever
the size of the input shape, and keys the model does not know are skipped, as AWS skips
them. Lists collect `member.N` entries by index and are sorted afterwards, so order on the
wire does not matter (JS v2 sorts parameters) and gaps close up. A second, top-down pass
over what arrived turns index maps into lists and checks the model's constraints, gathering
every violation into one AWS-style `ValidationError`.
"""

from __future__ import annotations

import codecs
from collections.abc import Mapping
from typing import Any
from urllib.parse import unquote

from botocore.model import ServiceModel

from postroom.errors import InvalidAction, ValidationError
from postroom.wire.constraints import (
    check_collection_length,
    check_scalar,
    missing_member,
    validation_message,
)
from postroom.wire.query_plan import (
    KEY_CACHE_LIMIT,
    CollectionNode,
    Node,
    ScalarNode,
    StructNode,
    service_plans,
)

# AWS Common Errors: "MissingAction: The request is missing an action or a required parameter."
MISSING_ACTION_MESSAGE = "The request is missing an action or a required parameter."
# Real SES text for an action it does not know, quoted in aws/aws-cli#37 (ses-spec.md 2.1).
UNKNOWN_ACTION_MESSAGE = "Could not find operation {action} for version {version}"
# Deeper keys cannot match any SES/SNS shape; the cap keeps recursive shapes bounded.
_MAX_KEY_PARTS = 32
_UNSEEN: Any = object()
Resolution = tuple[tuple[Any, ...], Node]


def parse_form(body: bytes, query_string: str = "") -> dict[str, str]:
    """Decode `application/x-www-form-urlencoded` text into a flat dict.

    Blank values are kept (`ReplyToAddresses=` is how botocore sends an empty list), `+` is a
    space, bad UTF-8 becomes U+FFFD. The query string is read first and the body second, so a
    body parameter wins; within one source the last occurrence wins.
    """
    params: dict[str, str] = {}
    if query_string:
        _decode_into(query_string.encode("utf-8", "surrogatepass"), params)
    if body:
        _decode_into(body, params)
    return params


def _decode_into(data: bytes, params: dict[str, str]) -> None:
    # '+' is never a separator, so one replace serves every key and value.
    for pair in data.replace(b"+", b" ").split(b"&"):
        if not pair:
            continue
        key, _, value = pair.partition(b"=")
        text_key = _percent_decode(key) if b"%" in key else key.decode("utf-8", "replace")
        params[text_key] = (
            _percent_decode(value) if b"%" in value else value.decode("utf-8", "replace")
        )


def _percent_decode(data: bytes) -> str:
    """RFC 3986 percent-decoding in C: `%XX` becomes `\\xXX` for `codecs.escape_decode`
    (backslashes doubled first, so nothing else is an escape). unquote's per-escape Python
    loop was 3x slower on a SendEmail with HTML and 7x on a 10 MB urlencoded base64
    RawMessage.Data. A stray `%` makes escape_decode refuse the input; unquote then keeps it
    literally, as it does everywhere."""
    try:
        decoded = codecs.escape_decode(data.replace(b"\\", b"\\\\").replace(b"%", b"\\x"))[0]
    except ValueError:
        return unquote(data.decode("utf-8", "replace"))
    return decoded.decode("utf-8", "replace")


def parse_request(model: ServiceModel, params: Mapping[str, str]) -> tuple[str, dict[str, Any]]:
    """Return `(operation name, input dict)` for a decoded query request.

    Raises `InvalidAction` (code `MissingAction` or `InvalidAction`), `InvalidParameterValue`
    for values that cannot be read as their type, and `ValidationError` for values that break
    the model's constraints.
    """
    plans = service_plans(model)
    action = params.get("Action")
    if not action:
        raise InvalidAction(MISSING_ACTION_MESSAGE, code="MissingAction")
    version = params.get("Version")
    plan = plans.operation(action)
    if plan is None or (version and version != plans.api_version):
        raise InvalidAction(
            UNKNOWN_ACTION_MESSAGE.format(action=action, version=version or plans.api_version)
        )
    root = plan.input
    if root is None:
        return action, {}
    raw: dict[Any, Any] = {}
    cache = plan.key_cache
    for key, value in params.items():
        resolved = cache.get(key, _UNSEEN)
        if resolved is _UNSEEN:
            resolved = _resolve_key(root, key)
            if len(cache) < KEY_CACHE_LIMIT:
                cache[key] = resolved
        if resolved is not None:
            _assign(raw, resolved, key, value)
    problems: list[str] = []
    result = _finish_struct(root, raw, "", problems)
    if problems:
        raise ValidationError(validation_message(problems))
    return action, result


def _assign(raw: dict[Any, Any], resolved: Resolution, key: str, value: str) -> None:
    """Store one form parameter at its place in `raw` (struct dicts keyed by member name,
    collections keyed by 1-based index); scalars are converted here, where the parameter
    name is at hand for the error message. Containers are created only once the whole key
    has resolved, so `Tags.member` alone leaves no trace."""
    slots, leaf = resolved
    if not isinstance(leaf, ScalarNode) and not (isinstance(leaf, CollectionNode) and not value):
        return  # `Message=x`, `Tags.member.1=x`: no value of that shape is written so
    target = raw
    for slot in slots[:-1]:
        child = target.get(slot)
        if child is None:
            child = target[slot] = {}
        target = child
    if isinstance(leaf, ScalarNode):
        convert = leaf.convert
        target[slots[-1]] = value if convert is None else convert(value, key)
    else:
        # `X=` is an empty list (botocore, ses-spec.md 2.1); members may still follow.
        target.setdefault(slots[-1], {})


def _resolve_key(root: StructNode, key: str) -> Resolution | None:
    parts = key.split(".")
    if len(parts) > _MAX_KEY_PARTS:
        return None
    return _resolve(root, parts)


def _resolve(root: StructNode, parts: list[str]) -> Resolution | None:
    """The member names and indexes a form key walks through, and the node it ends on."""
    node: Node = root
    slots: list[Any] = []
    last = len(parts) - 1
    i = 0
    while True:
        if isinstance(node, StructNode):
            found = node.children.get(parts[i])
            if found is None:
                return None
            slots.append(found[0])
            node = found[1]
        elif isinstance(node, CollectionNode):
            if node.item_key is not None:
                if i == last or parts[i] != node.item_key:
                    return None
                i += 1
            index = _index(parts[i])
            if index is None:
                return None
            slots.append(index)
            node = node.item
        else:
            return None  # a scalar cannot have sub-keys: `Source.Foo` is unknown
        if i == last:
            return tuple(slots), node
        i += 1


def _index(text: str) -> int | None:
    """A 1-based list/map index: ASCII digits without a leading zero."""
    if text.isdigit() and text.isascii() and text[0] != "0" and len(text) < 10:
        return int(text)
    return None


def _finish_struct(
    node: StructNode, raw: dict[Any, Any], path: str, problems: list[str]
) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name, _wire, seg, child, required, empty_if_absent in node.members:
        if name not in raw:
            if empty_if_absent:
                out[name] = {}
            elif required:
                problems.append(missing_member(path + seg))
            continue
        out[name] = _finish(child, raw[name], path + seg, problems)
    return out


def _finish(node: Node, value: Any, path: str, problems: list[str]) -> Any:
    if isinstance(node, ScalarNode):
        if node.checked:
            check_scalar(node, value, path, problems)
        return value
    if isinstance(node, StructNode):
        return _finish_struct(node, value, path + ".", problems)
    assert isinstance(node, CollectionNode)
    return _finish_collection(node, value, path, problems)


def _finish_collection(
    node: CollectionNode, raw: dict[int, Any], path: str, problems: list[str]
) -> Any:
    items = [raw[i] for i in sorted(raw)]
    item = node.item
    result: Any
    if node.is_map:
        assert isinstance(item, StructNode)
        entries = [
            _finish_struct(item, entry, f"{path}.{n}.entry.", problems)
            for n, entry in enumerate(items, 1)
        ]
        result = {e["key"]: e["value"] for e in entries if "key" in e and "value" in e}
    elif isinstance(item, ScalarNode) and not item.checked:
        result = items
    else:
        result = [
            _finish(item, element, f"{path}.{n}.member", problems)
            for n, element in enumerate(items, 1)
        ]
    check_collection_length(node, result, path, problems)
    return result
