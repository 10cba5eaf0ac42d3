"""The SES v1 wire layer: the AWS "query" protocol, driven by botocore's own service model
(ARCHITECTURE.md "Decisions"; ses-spec.md section 2). Bytes and dicts in, values out; no I/O.

    params = parse_form(body, query_string)            # flat {"Message.Subject.Data": ...}
    op, kwargs = parse_request(ses_model(), params)    # ("SendEmail", {"Message": {...}})
    body = serialize_result(ses_model(), op, output, request_id)
    body = serialize_error(err, request_id)            # any PostroomError

Handlers receive and return plain dicts keyed by the model's member names, exactly the
dicts boto3 users pass and get back: blobs are `bytes`, timestamps aware UTC `datetime`s
(floats of epoch seconds are accepted on output), lists and maps are Python lists and dicts.

Error mapping (all HTTP 400, `<Type>Sender</Type>`):

* no `Action` -> `MissingAction`; unknown `Action` or a `Version` other than the model's ->
  `InvalidAction` "Could not find operation X for version Y" (real SES text);
* a value that cannot be read as its type (bad base64, `abc` for an integer, `yes` for a
  boolean) -> `InvalidParameterValue` naming the parameter;
* model constraints (required, enum, length, range, pattern) -> `ValidationError`
  "N validation error(s) detected: Value 'x' at 'message.subject.data' failed to satisfy
  constraint: ...", list elements written `tags.1.member.name` as AWS does.

Parameters the model does not know are ignored, as AWS ignores them. Implementation:
`query_plan` (plans compiled once per operation), `query_parse`, `query_xml`,
`query_scalars`.
"""

from __future__ import annotations

from postroom.wire.query_parse import (
    MISSING_ACTION_MESSAGE,
    UNKNOWN_ACTION_MESSAGE,
    parse_form,
    parse_request,
    validation_message,
)
from postroom.wire.query_xml import SES_NAMESPACE, serialize_error, serialize_result

__all__ = [
    "MISSING_ACTION_MESSAGE",
    "SES_NAMESPACE",
    "UNKNOWN_ACTION_MESSAGE",
    "parse_form",
    "parse_request",
    "serialize_error",
    "serialize_result",
    "validation_message",
]
