"""The rest-json features sesv2 does not use (greedy labels, query literals, headers,
payload members, output headers and status codes) on a small made-up model, checked against
botocore's serializer and parser; and a seeded fuzz loop over mutated SES v2 requests that
may raise only PostroomErrors."""

from __future__ import annotations

import json
import random
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode, urlsplit

from botocore.awsrequest import HeadersDict, prepare_request_dict
from botocore.model import ServiceModel
from botocore.parsers import create_parser
from botocore.serialize import create_serializer

from postroom.errors import PostroomError
from postroom.wire.models import sesv2_model
from postroom.wire.restjson import parse_request, serialize_error, serialize_result

SPEC: dict[str, Any] = {
    "metadata": {
        "apiVersion": "2020-01-01",
        "protocol": "rest-json",
        "serviceId": "Toy",
        "endpointPrefix": "toy",
        "signatureVersion": "v4",
    },
    "operations": {
        "PutObject": {
            "name": "PutObject",
            "http": {"method": "PUT", "requestUri": "/b/{Bucket}/{Key+}", "responseCode": 201},
            "input": {"shape": "PutObjectRequest"},
            "output": {"shape": "PutObjectResult"},
        },
        "ListVersions": {
            "name": "ListVersions",
            "http": {"method": "GET", "requestUri": "/b/{Bucket}?versions"},
            "input": {"shape": "ListVersionsRequest"},
        },
        "GetBucket": {
            "name": "GetBucket",
            "http": {"method": "GET", "requestUri": "/b/{Bucket}"},
            "input": {"shape": "ListVersionsRequest"},
        },
        "PutConfig": {
            "name": "PutConfig",
            "http": {"method": "POST", "requestUri": "/config"},
            "input": {"shape": "PutConfigRequest"},
        },
    },
    "shapes": {
        "PutObjectRequest": {
            "type": "structure",
            "required": ["Bucket", "Key"],
            "payload": "Body",
            "members": {
                "Bucket": {"shape": "Name", "location": "uri", "locationName": "Bucket"},
                "Key": {"shape": "Name", "location": "uri", "locationName": "Key"},
                "Body": {"shape": "Data"},
                "Count": {"shape": "Int", "location": "header", "locationName": "x-toy-count"},
                "Flag": {"shape": "Bool", "location": "header", "locationName": "X-Toy-Flag"},
                "When": {"shape": "Time", "location": "header", "locationName": "x-toy-when"},
                "Meta": {"shape": "Meta", "location": "headers", "locationName": "x-toy-meta-"},
                "Filters": {"shape": "Meta", "location": "querystring"},
            },
        },
        "PutObjectResult": {
            "type": "structure",
            "members": {
                "ETag": {"shape": "Name", "location": "header", "locationName": "ETag"},
                "Modified": {"shape": "Time", "location": "header", "locationName": "x-mod"},
                "Size": {"shape": "Int"},
            },
        },
        "ListVersionsRequest": {
            "type": "structure",
            "required": ["Bucket"],
            "members": {"Bucket": {"shape": "Name", "location": "uri", "locationName": "Bucket"}},
        },
        "PutConfigRequest": {
            "type": "structure",
            "payload": "Config",
            "members": {"Config": {"shape": "Config"}},
        },
        "Config": {
            "type": "structure",
            "members": {"Level": {"shape": "Int"}, "Names": {"shape": "Names"}},
        },
        "Names": {"type": "list", "member": {"shape": "Name"}},
        "Meta": {"type": "map", "key": {"shape": "Name"}, "value": {"shape": "Name"}},
        "Name": {"type": "string", "min": 1},
        "Int": {"type": "integer", "max": 100},
        "Bool": {"type": "boolean"},
        "Time": {"type": "timestamp"},
        "Data": {"type": "blob"},
    },
}
TOY = ServiceModel(SPEC, service_name="toy")


def _wire(operation: str, params: dict[str, Any]) -> tuple[str, str, str, dict[str, str], bytes]:
    op = TOY.operation_model(operation)
    request = create_serializer("rest-json").serialize_to_request(params, op)
    prepare_request_dict(request, endpoint_url="http://toy.local")
    url = urlsplit(request["url"])
    body = request["body"]
    body = body.encode() if isinstance(body, str) else bytes(body or b"")
    headers = {k: str(v) for k, v in request["headers"].items()}
    return request["method"], url.path, url.query, headers, body


def test_greedy_label_headers_header_map_query_map_and_blob_payload() -> None:
    params = {
        "Bucket": "bkt",
        "Key": "dir/sub dir/ü+x.txt",
        "Body": b"\x00raw\xff",
        "Count": 7,
        "Flag": False,
        "When": datetime(2024, 2, 3, 4, 5, 6, tzinfo=UTC),
        "Meta": {"colour": "blue"},
        "Filters": {"a": "1", "b": "2"},
    }
    method, path, query, headers, body = _wire("PutObject", params)
    assert parse_request(TOY, method, path, query, headers, body) == ("PutObject", params)


def test_query_literal_picks_its_route() -> None:
    assert parse_request(TOY, "GET", "/b/x", "versions") == ("ListVersions", {"Bucket": "x"})
    assert parse_request(TOY, "GET", "/b/x") == ("GetBucket", {"Bucket": "x"})


def test_structure_payload() -> None:
    params = {"Config": {"Level": 3, "Names": ["a", "b"]}}
    method, path, query, headers, body = _wire("PutConfig", params)
    assert parse_request(TOY, method, path, query, headers, body) == ("PutConfig", params)


def test_output_headers_and_response_code() -> None:
    output = {"ETag": "e1", "Modified": datetime(2024, 1, 1, tzinfo=UTC), "Size": 3}
    response = serialize_result(TOY, "PutObject", output)
    assert response.status == 201
    assert response.headers["ETag"] == "e1"
    read = create_parser("rest-json").parse(
        {
            "status_code": response.status,
            "headers": HeadersDict(response.headers),  # case-insensitive, as on the wire
            "body": response.body,
        },
        TOY.operation_model("PutObject").output_shape,
    )
    read.pop("ResponseMetadata")
    assert read == output


# --------------------------------------------------------------------------- fuzz

SESV2 = sesv2_model()
_SEEDS: list[tuple[str, str, str, bytes]] = [
    (
        "POST",
        "/v2/email/outbound-emails",
        "",
        json.dumps(
            {
                "FromEmailAddress": "a@b.c",
                "Destination": {"ToAddresses": ["x@y.z"], "CcAddresses": []},
                "Content": {
                    "Simple": {
                        "Subject": {"Data": "hi"},
                        "Body": {"Text": {"Data": "b"}},
                        "Headers": [{"Name": "X-A", "Value": "v"}],
                    }
                },
                "EmailTags": [{"Name": "n", "Value": "v"}],
            }
        ).encode(),
    ),
    (
        "POST",
        "/v2/email/outbound-emails",
        "",
        b'{"Content":{"Raw":{"Data":"RnJvbTogYQ=="}},"ListManagementOptions":{"ContactListName":"l"}}',
    ),
    (
        "GET",
        "/v2/email/suppression/addresses",
        "Reason=BOUNCE&StartDate=2024-01-01T00:00:00Z&PageSize=10",
        b"",
    ),
    (
        "PUT",
        "/v2/email/identities/user%2Btag%40example.com/dkim/signing",
        "",
        b'{"SigningAttributesOrigin":"EXTERNAL","SigningAttributes":{"DomainSigningSelector":"s"}}',
    ),
    (
        "POST",
        "/v2/email/account/details",
        "",
        b'{"MailType":"MARKETING","WebsiteURL":"https://x","AdditionalContactEmailAddresses":[]}',
    ),
    ("POST", "/v2/email/list-identities", "", b'{"PageSize":5}'),
    ("POST", "/v2/email/templates/t1/render", "", b'{"TemplateData":"{}"}'),
    ("DELETE", "/v2/email/tags", "ResourceArn=arn&TagKeys=a&TagKeys=b", b""),
]
_JUNK = [
    "",
    "%",
    "%0",
    "%00",
    "%zz",
    "..",
    ".",
    "/",
    "//",
    "\x00",
    "\x7f",
    "\ud800",
    "é",
    "☃",
    "1e999999",
    "-1",
    "99999999999999999999999",
    "null",
    "true",
    "[]",
    "{}",
    '"',
    "\\",
    "{" * 50,
    "]" * 50,
    "NaN",
    "a" * 3000,
    "\r\n",
    "+",
    "&",
    "=",
]


def _mutate_text(rng: random.Random, text: str) -> str:
    if not text:
        return rng.choice(_JUNK)
    where = rng.randrange(len(text) + 1)
    action = rng.randrange(4)
    if action == 0:
        return text[:where] + rng.choice(_JUNK) + text[where:]
    if action == 1:
        return text[:where] + text[where + rng.randrange(1, 8) :]
    if action == 2:
        return text[:where] + chr(rng.randrange(0, 0x3000)) + text[where + 1 :]
    return text[:where] + text[where:][::-1]


def _mutate_json(rng: random.Random, value: Any, depth: int = 0) -> Any:
    if isinstance(value, dict) and value and rng.random() < 0.8:
        key = rng.choice(list(value))
        copy = dict(value)
        copy[key] = _mutate_json(rng, value[key], depth + 1)
        return copy
    if isinstance(value, list) and value and rng.random() < 0.7:
        index = rng.randrange(len(value))
        return value[:index] + [_mutate_json(rng, value[index], depth + 1)] + value[index + 1 :]
    return rng.choice(
        [
            None,
            True,
            0,
            -1,
            2**31,
            2**63,
            10**30,
            1.5,
            1e308,
            "",
            "x",
            "\ud800",
            "\x00",
            [],
            {},
            [[[[["deep"]]]]],
            {"a": {"b": {"c": {}}}},
            "A" * 20000,
            ["a"] * 200,
        ]
    )


def test_fuzzed_requests_raise_only_postroom_errors() -> None:
    rng = random.Random(20240909)
    outcomes = {"ok": 0, "error": 0}
    for _ in range(4000):
        method, path, query, body = rng.choice(_SEEDS)
        choice = rng.randrange(6)
        if choice == 0:
            path = _mutate_text(rng, path)
        elif choice == 1:
            query = _mutate_text(rng, query)
        elif choice == 2 and body:
            raw = body.decode()
            body = _mutate_text(rng, raw).encode("utf-8", "surrogatepass")
        elif choice in (3, 4) and body:
            doc = _mutate_json(rng, json.loads(body))
            body = json.dumps(doc).encode()
        else:
            method = rng.choice(["GET", "PUT", "POST", "DELETE", "PATCH", "get", ""])
        try:
            op, params = parse_request(SESV2, method, path, query, {}, body)
            response = serialize_result(SESV2, op, {})
            assert response.status == 200
            outcomes["ok"] += 1
        except PostroomError as error:
            response = serialize_error(error, SESV2)
            assert 400 <= response.status < 500
            json.loads(response.body)
            outcomes["error"] += 1
    assert outcomes["ok"] > 200 and outcomes["error"] > 1000, outcomes


def test_deep_json_everywhere_is_refused_cleanly() -> None:
    for depth in (10, 100, 1000, 100_000):
        nested = "[" * depth + "]" * depth
        body = ('{"Content": {"Simple": {"Subject": ' + nested + "}}}").encode()
        try:
            parse_request(SESV2, "POST", "/v2/email/outbound-emails", "", {}, body)
        except PostroomError as error:
            assert error.status == 400
    query = urlencode({"PageSize": "1" * 5000})
    try:
        parse_request(SESV2, "GET", "/v2/email/identities", query)
    except PostroomError as error:
        assert error.status == 400
