"""SES v2 rest-json wire layer against botocore's own serializer and parser: every operation
of the pinned sesv2 model is sent by a real boto3 client and parsed back, every output is
serialized and read by botocore's parser, every error kind raises the class a v2 client
expects."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

import botocore.session
import pytest
from botocore.awsrequest import AWSPreparedRequest, HeadersDict
from botocore.exceptions import ClientError
from botocore.parsers import create_parser
from restjson_samples import TRICKY_LABEL, sample_input, sample_value

from postroom.errors import (
    AccessDenied,
    AccountSendingPaused,
    AccountSuspended,
    AuthError,
    InvalidAction,
    InvalidParameterValue,
    MessageRejected,
    NotFound,
    PostroomError,
    ServiceUnavailable,
    Throttling,
    ValidationError,
)
from postroom.wire.models import sesv2_model
from postroom.wire.restjson import (
    DRIFT_ROUTES,
    parse_request,
    route_table,
    serialize_error,
    serialize_result,
    v2_error,
)

MODEL = sesv2_model()
OPERATIONS = sorted(MODEL.operation_names)


class _Captured(Exception):
    def __init__(self, request: AWSPreparedRequest) -> None:
        self.request = request


def _capture(request: AWSPreparedRequest, **_: Any) -> None:
    raise _Captured(request)


@pytest.fixture(scope="module")
def client() -> Iterator[Any]:
    session = botocore.session.get_session()
    made = session.create_client(
        "sesv2",
        region_name="us-east-1",
        endpoint_url="http://127.0.0.1:1",
        aws_access_key_id="x",
        aws_secret_access_key="y",
    )
    made.meta.events.register("before-send.sesv2", _capture)
    yield made


def sent(client: Any, operation: str, params: dict[str, Any]) -> tuple[str, str, str, bytes]:
    """Method, raw path, query string and body exactly as boto3 puts them on the wire."""
    method_name = client.meta.method_to_api_mapping
    python_name = next(k for k, v in method_name.items() if v == operation)
    with pytest.raises(_Captured) as captured:
        getattr(client, python_name)(**params)
    request = captured.value.request
    url = urlsplit(request.url)
    body = request.body or b""
    if isinstance(body, str):
        body = body.encode()
    return request.method, url.path, url.query, bytes(body)


def parsed(method: str, path: str, query: str = "", body: bytes = b"") -> tuple[str, Any]:
    return parse_request(MODEL, method, path, query, {}, body)


# --------------------------------------------------------------------------- requests


def test_the_model_is_the_pinned_one() -> None:
    assert MODEL.api_version == "2019-09-27"
    assert MODEL.metadata["protocol"] == "rest-json"
    assert len(OPERATIONS) == 110


@pytest.mark.parametrize("operation", OPERATIONS)
def test_every_operation_round_trips_from_boto3(client: Any, operation: str) -> None:
    params = sample_input(MODEL.operation_model(operation).input_shape)
    wire = sent(client, operation, params)
    assert parsed(*wire) == (operation, params)


@pytest.mark.parametrize(
    "identity",
    [TRICKY_LABEL, "user+tag@example.com", "100%", "a/b/c", "Ünïcødé.例え.jp", "~!$&'()*,;=:"],
)
def test_path_labels_are_decoded_after_splitting(client: Any, identity: str) -> None:
    method, path, query, body = sent(client, "GetEmailIdentity", {"EmailIdentity": identity})
    assert "/" not in path.removeprefix("/v2/email/identities/")
    assert parsed(method, path, query, body) == ("GetEmailIdentity", {"EmailIdentity": identity})


def test_percent_encoded_identity_from_the_spec() -> None:
    assert parsed("GET", "/v2/email/identities/user%2Btag%40example.com") == (
        "GetEmailIdentity",
        {"EmailIdentity": "user+tag@example.com"},
    )


def test_repeated_query_keys_are_a_list(client: Any) -> None:
    params = {
        "Reasons": ["BOUNCE", "COMPLAINT"],
        "StartDate": datetime(2024, 1, 2, 3, 4, 5, tzinfo=UTC),
        "PageSize": 20,
    }
    method, path, query, body = sent(client, "ListSuppressedDestinations", params)
    assert "Reason=BOUNCE&Reason=COMPLAINT" in query
    assert parsed(method, path, query, body) == ("ListSuppressedDestinations", params)


def test_the_most_specific_route_wins() -> None:
    assert parsed("POST", "/v2/email/import-jobs/list", body=b"{}")[0] == "ListImportJobs"
    assert parsed("GET", "/v2/email/import-jobs/list") == ("GetImportJob", {"JobId": "list"})
    contacts = "/v2/email/contact-lists/news/contacts/list"
    assert parsed("POST", contacts, body=b"{}") == ("ListContacts", {"ContactListName": "news"})
    assert parsed("GET", contacts) == (
        "GetContact",
        {"ContactListName": "news", "EmailAddress": "list"},
    )


def test_raw_message_blob_and_timestamps() -> None:
    body = json.dumps(
        {"Content": {"Raw": {"Data": "RnJvbTogYUBiLmMNCg=="}}, "FromEmailAddress": "a@b.c"}
    ).encode()
    op, params = parsed("POST", "/v2/email/outbound-emails", body=body)
    assert params["Content"]["Raw"]["Data"] == b"From: a@b.c\r\n"


# --------------------------------------------------------------------------- drift


def test_every_drift_route_is_routed() -> None:
    table = route_table(MODEL)
    templates = {(r.method, r.template): r for r in table.routes}
    for drift in DRIFT_ROUTES:
        route = templates[(drift.method, drift.template)]
        assert route.operation == drift.operation
        assert route.modeled == (drift.operation in MODEL.operation_names)


def test_js_list_identities_reads_query_members_from_the_body(client: Any) -> None:
    params = {"NextToken": "AAAA", "PageSize": 10}
    expected = parsed(*sent(client, "ListEmailIdentities", params))
    js_body = json.dumps({"NextToken": "AAAA", "PageSize": 10, "Filter": {"x": "y"}}).encode()
    assert parsed("POST", "/v2/email/list-identities", body=js_body) == expected
    assert parsed("POST", "/v2/email/list-configuration-sets", body=js_body) == (
        "ListConfigurationSets",
        {"NextToken": "AAAA", "PageSize": 10},
    )
    assert parsed("POST", "/v2/email/list-identities") == ("ListEmailIdentities", {})


def test_dropped_trailing_slash_routes(client: Any) -> None:
    method, path, query, body = sent(client, "GetMessageInsights", {"MessageId": "m-1"})
    assert path.endswith("/")
    assert parsed(method, path.rstrip("/")) == parsed(method, path, query, body)
    addr = sent(client, "GetEmailAddressInsights", {"EmailAddress": "a@b.c"})
    assert parsed("POST", "/v2/email/email-address-insights", body=addr[3]) == parsed(*addr)


def test_unmodeled_drift_operations_come_back_by_name() -> None:
    body = b'{"ConfigurationSetName": "x", "MessageSecurityOptions": {}}'
    assert parsed("POST", "/v2/email/update-configuration-sets", body=body) == (
        "UpdateConfigurationSet",
        {},
    )
    with pytest.raises(InvalidParameterValue):
        parsed("POST", "/v2/email/account/delivery", body=b"[1]")


# --------------------------------------------------------------------------- rejects


def _v2(error: PostroomError) -> tuple[str, int]:
    code, status, _message = v2_error(error, MODEL)
    return code, status


@pytest.mark.parametrize(
    ("method", "path", "status", "code"),
    [
        ("GET", "/v2/email/nothing-here", 404, "UnknownOperationException"),
        ("GET", "/", 404, "UnknownOperationException"),
        ("GET", "v2/email/account", 404, "UnknownOperationException"),
        ("PATCH", "/v2/email/identities", 404, "UnknownOperationException"),
        ("POST", "/v2/email/account", 404, "UnknownOperationException"),
        ("GET", "/v2/email/identities/", 404, "UnknownOperationException"),
        ("GET", "/v2/email/identities/a/b/c/d", 404, "UnknownOperationException"),
        ("GET", "/v2/email/identities/%zz", 400, "BadRequestException"),
        ("GET", "/v2/email/identities/abc%", 400, "BadRequestException"),
        ("GET", "/v2/email/identities/%ff%fe", 400, "BadRequestException"),
        ("GET", "/v2/email/identities/a%00b", 400, "BadRequestException"),
        ("GET", "/v2/email/identities/a%0Db", 400, "BadRequestException"),
        ("GET", "/v2/email/identities/..", 400, "BadRequestException"),
        ("GET", "/v2/email/identities/%2E%2E", 400, "BadRequestException"),
        ("GET", "/v2/email/identities/" + "a" * 5000, 400, "BadRequestException"),
        ("GET", "/v2/email/" + "x/" * 5000, 404, "UnknownOperationException"),
    ],
)
def test_bad_paths(method: str, path: str, status: int, code: str) -> None:
    with pytest.raises(PostroomError) as raised:
        parsed(method, path)
    assert _v2(raised.value) == (code, status)
    assert len(raised.value.message) < 600


SEND = "/v2/email/outbound-emails"


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (b"{", "not valid JSON"),
        (b"[]", "must be a JSON object"),
        (b'"x"', "must be a JSON object"),
        (b"null", "must be a JSON object"),
        (b"\xff\xfe{", "not valid JSON"),
        (b'{"Content": NaN}', "not valid JSON"),
        (b"[" * 100_000 + b"]" * 100_000, "nested too deeply"),
        (b'{"Content": {"Raw": {"Data": 1' + b"0" * 5000 + b"}}}", "not valid JSON"),
        (b'{"Content": []}', "Content must be a JSON object"),
        (b'{"Content": {"Raw": {"Data": "%%%"}}}', "Content.Raw.Data is invalid"),
        (b'{"Content": {"Raw": {"Data": 5}}}', "Content.Raw.Data is invalid"),
        (b'{"Content": {}, "FromEmailAddress": true}', "FromEmailAddress is invalid"),
        (b'{"Content": {}, "FromEmailAddress": "\\ud800"}', "expected UTF-8 text"),
        (b'{"Content": {}, "Destination": {"ToAddresses": "a@b.c"}}', "must be a JSON array"),
        (b'{"Content": {}, "Destination": {"ToAddresses": [1]}}', "ToAddresses.1 is invalid"),
        (b'{"Content": {}, "EmailTags": [{"Name": "n"}]}', "Value null at 'emailTags.1.member"),
        (b"{}", "Value null at 'content' failed to satisfy constraint"),
    ],
)
def test_hostile_bodies_are_bad_requests(body: bytes, expected: str) -> None:
    with pytest.raises(PostroomError) as raised:
        parsed("POST", SEND, body=body)
    assert _v2(raised.value) == ("BadRequestException", 400)
    assert expected in raised.value.message


def test_constraints_use_the_v1_texts() -> None:
    with pytest.raises(ValidationError, match="Value 'NOPE' at 'reasons.2.member' failed"):
        parsed("GET", "/v2/email/suppression/addresses", "Reason=BOUNCE&Reason=NOPE")
    with pytest.raises(ValidationError) as raised:
        parsed("PUT", "/v2/email/suppression/addresses", body=b'{"EmailAddress":"a","Reason":"X"}')
    assert raised.value.message == (
        "1 validation error detected: Value 'X' at 'reason' failed to satisfy constraint: "
        "Member must satisfy enum value set: [BOUNCE, COMPLAINT]"
    )
    with pytest.raises(InvalidParameterValue, match="PageSize is invalid: expected a 32-bit"):
        parsed("GET", "/v2/email/identities", "PageSize=99999999999")
    with pytest.raises(InvalidParameterValue, match="PageSize is invalid"):
        parsed("POST", "/v2/email/list-identities", body=b'{"PageSize": 1.5}')


def test_unknown_members_are_ignored() -> None:
    body = b'{"EmailIdentity": "a@b.c", "Surprise": {"deep": [1, 2]}}'
    assert parsed("POST", "/v2/email/identities", body=body) == (
        "CreateEmailIdentity",
        {"EmailIdentity": "a@b.c"},
    )
    assert parsed("GET", "/v2/email/account", "Junk=1", b"not json") == ("GetAccount", {})


# --------------------------------------------------------------------------- responses


def _http_response(status: int, headers: dict[str, str], body: bytes) -> dict[str, Any]:
    """What botocore's parsers get: case-insensitive headers."""
    return {"status_code": status, "headers": HeadersDict(headers), "body": body}


def _botocore_reads(operation: str, status: int, headers: dict[str, str], body: bytes) -> Any:
    shape = MODEL.operation_model(operation).output_shape
    response = _http_response(status, headers, body)
    result = create_parser("rest-json").parse(response, shape)
    result.pop("ResponseMetadata", None)
    return result


@pytest.mark.parametrize("operation", OPERATIONS)
def test_every_output_round_trips_through_botocore(operation: str) -> None:
    shape = MODEL.operation_model(operation).output_shape
    output = sample_value(shape) if shape is not None else {}
    response = serialize_result(MODEL, operation, output)
    assert response.status == 200
    assert response.headers["Content-Type"] == "application/json"
    assert _botocore_reads(operation, 200, response.headers, response.body) == output


def test_named_outputs() -> None:
    send = serialize_result(MODEL, "SendEmail", {"MessageId": "0100-abc", "Unknown": 1})
    assert send.body == b'{"MessageId":"0100-abc"}'
    assert serialize_result(MODEL, "DeleteEmailIdentity", {}).body == b"{}"
    assert serialize_result(MODEL, "DeleteEmailIdentity", None).body == b"{}"
    listing = {
        "EmailIdentities": [
            {"IdentityType": "EMAIL_ADDRESS", "IdentityName": "a@b.c", "SendingEnabled": True}
        ],
        "NextToken": None,
    }
    response = serialize_result(MODEL, "ListEmailIdentities", listing)
    assert json.loads(response.body) == {"EmailIdentities": listing["EmailIdentities"]}
    account = {
        "SendQuota": {"Max24HourSend": 200.0, "MaxSendRate": 1.0, "SentLast24Hours": 0.0},
        "SendingEnabled": True,
        "ProductionAccessEnabled": False,
        "EnforcementStatus": "HEALTHY",
        "Details": {"ReviewDetails": {"Status": "PENDING", "CaseId": "c-1"}},
        "SuppressionAttributes": {"SuppressedReasons": ["BOUNCE"]},
    }
    response = serialize_result(MODEL, "GetAccount", account)
    assert _botocore_reads("GetAccount", 200, response.headers, response.body) == account
    stamp = datetime(2024, 1, 1, 0, 0, 0, 250000, tzinfo=UTC)
    dest = {
        "SuppressedDestination": {
            "EmailAddress": "a@b.c",
            "Reason": "BOUNCE",
            "LastUpdateTime": stamp,
        }
    }
    response = serialize_result(MODEL, "GetSuppressedDestination", dest)
    assert json.loads(response.body)["SuppressedDestination"]["LastUpdateTime"] == 1704067200.25


# --------------------------------------------------------------------------- errors


ERROR_CASES = [
    (InvalidParameterValue("bad"), "BadRequestException", 400),
    (ValidationError("1 validation error detected: x"), "BadRequestException", 400),
    (
        InvalidAction("The operation X is not supported by Postroom yet."),
        "BadRequestException",
        400,
    ),
    (MessageRejected("Email address is not verified."), "MessageRejected", 400),
    (
        PostroomError("x", code="MailFromDomainNotVerifiedException", status=400),
        "MailFromDomainNotVerifiedException",
        400,
    ),
    (AccountSendingPaused(), "SendingPausedException", 400),
    (AccountSuspended(), "AccountSuspendedException", 400),
    (Throttling("Maximum sending rate exceeded."), "TooManyRequestsException", 429),
    (PostroomError("x", code="AlreadyExists", status=400), "AlreadyExistsException", 400),
    (PostroomError("x", code="TemplateDoesNotExist", status=400), "NotFoundException", 404),
    (NotFound("Identity a@b.c does not exist."), "NotFoundException", 404),
    (PostroomError("x", code="LimitExceeded", status=400), "LimitExceededException", 400),
    (PostroomError("x", code="ConflictException", status=409), "ConflictException", 409),
    (
        PostroomError("x", code="AccountSuspendedException", status=400),
        "AccountSuspendedException",
        400,
    ),
    (
        PostroomError("x", code="InvalidNextTokenException", status=400),
        "InvalidNextTokenException",
        400,
    ),
    (
        PostroomError("x", code="ConcurrentModificationException", status=500),
        "ConcurrentModificationException",
        500,
    ),
    (PostroomError("boom"), "InternalServiceErrorException", 500),
    (ServiceUnavailable(), "ServiceUnavailable", 503),
    (AuthError("x", code="MissingAuthenticationToken"), "MissingAuthenticationTokenException", 403),
    (AuthError("x", code="InvalidClientTokenId"), "UnrecognizedClientException", 403),
    (AuthError("x", code="SignatureDoesNotMatch"), "InvalidSignatureException", 403),
    (AuthError("x", code="IncompleteSignature", status=400), "IncompleteSignatureException", 400),
    (AccessDenied("no"), "AccessDeniedException", 403),
    (PostroomError("x", code="SomethingNew", status=400), "BadRequestException", 400),
    (PostroomError("x", code="SomethingNew", status=409), "ConflictException", 409),
    (
        InvalidAction("x", code="UnknownOperationException", status=404),
        "UnknownOperationException",
        404,
    ),
]


@pytest.mark.parametrize(("error", "code", "status"), ERROR_CASES)
def test_errors_are_read_by_botocore_as_v2_codes(
    error: PostroomError, code: str, status: int
) -> None:
    response = serialize_error(error, MODEL)
    assert response.status == status
    assert response.headers["x-amzn-ErrorType"] == code
    parsed_error = create_parser("rest-json").parse(
        _http_response(status, response.headers, response.body),
        MODEL.operation_model("SendEmail").output_shape,
    )
    assert parsed_error["Error"]["Code"] == code
    assert parsed_error["Error"]["Message"] == error.message
    assert parsed_error["ResponseMetadata"]["HTTPStatusCode"] == status


def test_boto3_raises_the_modeled_exception_class(client: Any) -> None:
    response = serialize_error(NotFound("Identity x does not exist."), MODEL)
    error = create_parser("rest-json").parse(
        _http_response(response.status, response.headers, response.body),
        MODEL.operation_model("GetEmailIdentity").output_shape,
    )
    raised = client.exceptions.from_code(error["Error"]["Code"])
    assert raised is client.exceptions.NotFoundException
    assert issubclass(raised, ClientError)
