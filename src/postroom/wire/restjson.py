"""The SES v2 wire layer: AWS's rest-json protocol, driven by botocore's own `sesv2` model
(ARCHITECTURE.md "Decisions"; ses-spec.md 1.2, 2.5). Bytes and dicts in, values out; no I/O.

    op, params = parse_request(sesv2_model(), "POST", raw_path, query_string, headers, body)
    response = serialize_result(sesv2_model(), op, output)      # RestResponse(status, body,
    response = serialize_error(err, sesv2_model())              #   headers)
    code, status, message = v2_error(err, sesv2_model())

Handlers receive and return the same plain dicts as v1's (`awsquery`): keys are the model's
member names, blobs `bytes`, timestamps aware UTC `datetime`s (floats of epoch seconds are
accepted on output), lists and maps Python lists and dicts.

* Routing (`restjson_routes`): method + raw path -> operation, from each operation's
  `http.method`/`http.requestUri`; labels percent-decoded after splitting; the most specific
  template wins; plus the drift aliases of the current @aws-sdk/client-sesv2
  (`DRIFT_ROUTES`). No route: 404 `UnknownOperationException`.
* Input (`restjson_parse`): labels, query parameters, headers and the JSON body, each
  member from its `location`; validation errors as in v1 (`constraints`).
* Output and errors (`restjson_serialize`, `restjson_errors`): JSON bodies; errors as
  `x-amzn-ErrorType` + `{"message"}` with v2's codes and statuses, one mapping table.

Plans are compiled once per model (`restjson_plan`, `restjson_routes.route_table`).
"""

from __future__ import annotations

from postroom.wire.restjson_errors import V1_TO_V2, V2Error, v2_error
from postroom.wire.restjson_parse import (
    MAX_JSON_DEPTH,
    load_json_object,
    parse_matched,
    parse_query,
    parse_request,
)
from postroom.wire.restjson_plan import rest_plans
from postroom.wire.restjson_routes import (
    DRIFT_ROUTES,
    UNKNOWN_OPERATION_CODE,
    Route,
    RouteMatch,
    match_route,
    route_table,
)
from postroom.wire.restjson_serialize import (
    ERROR_TYPE_HEADER,
    JSON_CONTENT_TYPE,
    RestResponse,
    serialize_error,
    serialize_result,
)

__all__ = [
    "DRIFT_ROUTES",
    "ERROR_TYPE_HEADER",
    "JSON_CONTENT_TYPE",
    "MAX_JSON_DEPTH",
    "UNKNOWN_OPERATION_CODE",
    "V1_TO_V2",
    "RestResponse",
    "Route",
    "RouteMatch",
    "V2Error",
    "load_json_object",
    "match_route",
    "parse_matched",
    "parse_query",
    "parse_request",
    "rest_plans",
    "route_table",
    "serialize_error",
    "serialize_result",
    "v2_error",
]
