"""Routing for the rest-json protocol (SES v2): method and raw path -> operation and its
decoded path labels (ses-spec.md 1.2, 2.5). No I/O.

The table is built once per botocore `ServiceModel` from each operation's `http.method` and
`http.requestUri`, plus the drift aliases below:

* A template is split on `/` into literal segments, labels (`{EmailIdentity}`, one
  non-empty segment) and at most one greedy label (`{Key+}`, one or more segments joined
  by `/`). Query literals in a requestUri (`/x?list`) must be present in the query string.
* The raw path is split *before* percent-decoding, so `%2F` inside a label stays inside it;
  each label is then decoded strictly as UTF-8 (`user%2Btag%40example.com` ->
  `user+tag@example.com`; `+` in a path is a plus, not a space).
* Among the templates that match the path *and accept the method*, the most specific wins:
  a literal beats a label beats a greedy label, segment by segment from the left, so
  `POST /v2/email/import-jobs/list` is ListImportJobs while `GET .../import-jobs/list` is
  GetImportJob with JobId `list`. Label-free templates are one dict lookup.
* No template matches -> 404 `UnknownOperationException` (what SES answers for an unknown
  REST route, soto-project/soto#580); a path that matches only with another method gets the
  same code, its message naming the method.
* A label that is empty, `.` or `..`, longer than `MAX_LABEL_CHARS`, badly percent-encoded,
  not UTF-8, or holding control characters -> `InvalidParameterValue` (v2: BadRequestException).

Model drift (ses-spec.md 1.2 "accept both", checked against @aws-sdk/client-sesv2 3.1178.0):
the current JS client sends some operations on routes the pinned botocore model lacks;
`DRIFT_ROUTES` adds each as an alias. For the two list operations the JS client moved from
`GET ...?NextToken=&PageSize=` to `POST` with a JSON body, the alias reads the members the
model puts in the query string from the body instead (`params_in_body`). Operations the
pinned model does not have at all are routed with `modeled=False`: the caller knows their
name (to answer "not supported") but gets no typed input.
"""

from __future__ import annotations

import functools
import re
import threading
from dataclasses import dataclass
from typing import NamedTuple
from urllib.parse import unquote_to_bytes

from botocore.model import ServiceModel

from postroom.errors import InvalidAction, InvalidParameterValue

UNKNOWN_OPERATION_CODE = "UnknownOperationException"
UNKNOWN_ROUTE_MESSAGE = "No SES v2 operation is served at {method} {path}."
WRONG_METHOD_MESSAGE = "The HTTP method {method} is not allowed on {path}; allowed: {allowed}."
MAX_LABEL_CHARS = 2048
MAX_PATH_CHARS = 8192
_SHOWN_PATH_CHARS = 200
_BAD_ESCAPE = re.compile(r"%(?![0-9A-Fa-f]{2})")
_CONTROL = re.compile("[\x00-\x1f\x7f]")
_LABEL_RE = re.compile(r"^\{([^{}+]+)(\+?)\}$")


class DriftRoute(NamedTuple):
    method: str
    template: str
    operation: str
    params_in_body: bool = False


# ses-spec.md 1.2 "Model drift": the routes @aws-sdk/client-sesv2 (3.117x) sends that botocore
# 1.43.11's sesv2 model lacks. boto3 and the AWS CLI keep using the model's routes.
DRIFT_ROUTES: tuple[DriftRoute, ...] = (
    DriftRoute("POST", "/v2/email/list-identities", "ListEmailIdentities", True),
    DriftRoute("POST", "/v2/email/list-configuration-sets", "ListConfigurationSets", True),
    DriftRoute("GET", "/v2/email/insights/{MessageId}", "GetMessageInsights"),
    DriftRoute("POST", "/v2/email/email-address-insights", "GetEmailAddressInsights"),
    DriftRoute("POST", "/v2/email/update-configuration-sets", "UpdateConfigurationSet"),
    DriftRoute("POST", "/v2/email/account/delivery", "PutAccountDeliveryAttributes"),
    DriftRoute("PUT", "/v2/email/account/pricing-attributes", "PutAccountPricingAttributes"),
    DriftRoute("POST", "/v2/email/identity/certificates", "AssociateEmailIdentityCertificate"),
    DriftRoute(
        "POST", "/v2/email/identity/certificates/delete", "DisassociateEmailIdentityCertificate"
    ),
    DriftRoute("POST", "/v2/email/identity/certificates/list", "ListEmailIdentityCertificates"),
    DriftRoute("POST", "/v2/email/tenant/suppression", "PutTenantSuppressionAttributes"),
)
DRIFT_SERVICE = "sesv2"


class Label(NamedTuple):
    name: str
    greedy: bool


Segment = str | Label


@dataclass(frozen=True, slots=True)
class Route:
    operation: str
    method: str
    template: str
    segments: tuple[Segment, ...]
    query_literals: tuple[tuple[str, str | None], ...] = ()
    params_in_body: bool = False  # drift: query-string members arrive in the JSON body
    modeled: bool = True  # False: the pinned model has no such operation

    @property
    def specificity(self) -> tuple[int, ...]:
        """Sort key, smaller first: literal 0, label 1, greedy 2, left to right."""
        return tuple(0 if isinstance(s, str) else (2 if s.greedy else 1) for s in self.segments) + (
            -len(self.segments),
        )


@dataclass(frozen=True, slots=True)
class RouteMatch:
    route: Route
    labels: dict[str, str]  # label name (the member's locationName) -> decoded value

    @property
    def operation(self) -> str:
        return self.route.operation


class RouteTable:
    """Every route of one service model; matching is read-only after construction."""

    def __init__(self, routes: list[Route]) -> None:
        self.routes = tuple(routes)
        self._static: dict[tuple[str, str], Route] = {}
        self._by_length: dict[tuple[str, int], list[Route]] = {}
        self._greedy: dict[str, list[Route]] = {}
        for route in sorted(routes, key=lambda r: r.specificity):
            if all(isinstance(s, str) for s in route.segments) and not route.query_literals:
                path = "/" + "/".join(s for s in route.segments if isinstance(s, str))
                self._static.setdefault((route.method, path), route)
            elif any(isinstance(s, Label) and s.greedy for s in route.segments):
                self._greedy.setdefault(route.method, []).append(route)
            else:
                key = (route.method, len(route.segments))
                self._by_length.setdefault(key, []).append(route)

    def match(self, method: str, path: str, query_keys: frozenset[str] = frozenset()) -> RouteMatch:
        """The route for `method` and the raw (still percent-encoded) `path`."""
        if not path.startswith("/") or len(path) > MAX_PATH_CHARS:
            raise _unknown_route(method, path)
        static = self._static.get((method, path))
        if static is not None:
            return RouteMatch(static, {})
        parts = path[1:].split("/")
        found = self._find(method, parts, query_keys)
        if found is not None:
            return found
        allowed = sorted(
            {r.method for r in self.routes if r.method != method and _bind(r, parts) is not None}
        )
        if allowed:
            raise InvalidAction(
                WRONG_METHOD_MESSAGE.format(
                    method=_shown(method), path=_shown(path), allowed=", ".join(allowed)
                ),
                code=UNKNOWN_OPERATION_CODE,
                status=404,
            )
        raise _unknown_route(method, path)

    def _find(self, method: str, parts: list[str], query_keys: frozenset[str]) -> RouteMatch | None:
        candidates = self._by_length.get((method, len(parts)), [])
        for routes in (candidates, self._greedy.get(method, [])):
            for route in routes:
                if route.query_literals and not _has_query_literals(route, query_keys):
                    continue
                raw = _bind(route, parts)
                if raw is not None:
                    return RouteMatch(route, {name: decode_label(v) for name, v in raw.items()})
        return None


def _has_query_literals(route: Route, query_keys: frozenset[str]) -> bool:
    return all(key in query_keys for key, _value in route.query_literals)


def _bind(route: Route, parts: list[str]) -> dict[str, str] | None:
    """Raw label values if `parts` fit the route's segments, else None."""
    segments = route.segments
    greedy_at = next((i for i, s in enumerate(segments) if isinstance(s, Label) and s.greedy), None)
    if greedy_at is None:
        if len(parts) != len(segments):
            return None
        return _bind_fixed(segments, parts)
    tail = len(segments) - greedy_at - 1
    if len(parts) < len(segments):
        return None
    head = _bind_fixed(segments[:greedy_at], parts[:greedy_at])
    rest = _bind_fixed(segments[greedy_at + 1 :], parts[len(parts) - tail :])
    if head is None or rest is None:
        return None
    greedy = segments[greedy_at]
    assert isinstance(greedy, Label)
    head[greedy.name] = "/".join(parts[greedy_at : len(parts) - tail])
    head.update(rest)
    return head


def _bind_fixed(segments: tuple[Segment, ...], parts: list[str]) -> dict[str, str] | None:
    labels: dict[str, str] = {}
    for segment, part in zip(segments, parts, strict=True):
        if isinstance(segment, str):
            if segment != part:
                return None
        elif not part:
            return None  # Smithy: a label is never empty
        else:
            labels[segment.name] = part
    return labels


def decode_label(raw: str) -> str:
    """Strict RFC 3986 percent-decoding of one path label (a greedy one keeps its `/`)."""
    if "%" in raw:
        if _BAD_ESCAPE.search(raw) is not None:
            raise _bad_label(raw, "is not validly percent-encoded")
        try:
            value = unquote_to_bytes(raw).decode("utf-8")
        except UnicodeDecodeError:
            raise _bad_label(raw, "is not UTF-8") from None
    else:
        value = raw
    if len(value) > MAX_LABEL_CHARS:
        raise _bad_label(raw, f"is longer than {MAX_LABEL_CHARS} characters")
    if _CONTROL.search(value) is not None:
        raise _bad_label(raw, "holds control characters")
    if value in (".", "..") or "/./" in f"/{value}/" or "/../" in f"/{value}/":
        raise _bad_label(raw, "is a dot segment")
    return value


def _bad_label(raw: str, why: str) -> InvalidParameterValue:
    return InvalidParameterValue(f"The path parameter '{_shown(raw)}' {why}.")


def _unknown_route(method: str, path: str) -> InvalidAction:
    return InvalidAction(
        UNKNOWN_ROUTE_MESSAGE.format(method=_shown(method), path=_shown(path)),
        code=UNKNOWN_OPERATION_CODE,
        status=404,
    )


def _shown(text: str) -> str:
    text = _CONTROL.sub("?", text)
    return text if len(text) <= _SHOWN_PATH_CHARS else text[:_SHOWN_PATH_CHARS] + "..."


def compile_route(
    operation: str,
    method: str,
    request_uri: str,
    *,
    params_in_body: bool = False,
    modeled: bool = True,
) -> Route:
    """One route from an `http.requestUri` such as `/v2/email/identities/{EmailIdentity}`."""
    path, _, query = request_uri.partition("?")
    segments: list[Segment] = []
    for part in path[1:].split("/"):
        label = _LABEL_RE.match(part)
        segments.append(Label(label.group(1), bool(label.group(2))) if label else part)
    literals: list[tuple[str, str | None]] = []
    for pair in filter(None, query.split("&")):
        key, eq, value = pair.partition("=")
        literals.append((key, value if eq else None))
    return Route(
        operation=operation,
        method=method.upper(),
        template=request_uri,
        segments=tuple(segments),
        query_literals=tuple(literals),
        params_in_body=params_in_body,
        modeled=modeled,
    )


def _model_routes(model: ServiceModel) -> list[Route]:
    routes = []
    for name in model.operation_names:
        http = model.operation_model(name).http
        routes.append(compile_route(name, http.get("method", "POST"), http["requestUri"]))
    if model.service_name == DRIFT_SERVICE:
        known = {(r.method, r.template) for r in routes}
        operations = set(model.operation_names)
        for drift in DRIFT_ROUTES:
            if (drift.method, drift.template) in known:
                continue
            routes.append(
                compile_route(
                    drift.operation,
                    drift.method,
                    drift.template,
                    params_in_body=drift.params_in_body,
                    modeled=drift.operation in operations,
                )
            )
    return routes


_BUILD_LOCK = threading.Lock()


@functools.lru_cache(maxsize=8)
def _cached_table(model: ServiceModel) -> RouteTable:
    with _BUILD_LOCK:
        return RouteTable(_model_routes(model))


def route_table(model: ServiceModel) -> RouteTable:
    """The model's routes, built on first use and shared afterwards."""
    return _cached_table(model)


def match_route(
    model: ServiceModel, method: str, path: str, query_keys: frozenset[str] = frozenset()
) -> RouteMatch:
    """Operation and decoded labels for `method` and the raw, percent-encoded `path`
    (ASGI's `raw_path`, not `path`, which is already decoded and would split `%2F`)."""
    return route_table(model).match(method.upper(), path, query_keys)
