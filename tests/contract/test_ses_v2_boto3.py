"""Contract: SES v2 (rest-json on `/v2/...`) through the real boto3 `sesv2` client, raw
signed HTTP and the AWS CLI, against a real `postroom serve`.

The endpoint is what this covers: the same SigV4 (service `ses`) and accounts as v1, the
body cap (`SES_V2_CAP`), routing by the raw path, v2's errors (`x-amzn-ErrorType`, JSON
`{"message"}`, v2 statuses), and the one operation served so far, GetAccount, which must
agree with v1's GetSendQuota. Every other operation answers BadRequestException "The
operation X is not supported by Postroom yet." Servers and tenants: conftest.py.
"""

from __future__ import annotations

import http.client
import json
import socket
import time
import urllib.parse
from collections.abc import Mapping
from typing import Any

import httpx
import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from botocore.exceptions import ClientError
from ses_support import Tenant, TenantFactory, error_of, simple_message
from test_aws_cli import _aws

from postroom.testing.fixtures import ses_client
from postroom.testing.server import PostroomProcess

MB = 1024 * 1024
V2_MESSAGE_LIMIT = 40 * MB  # request_body.SES_V2_CAP: 3 * 40 MiB + 1 MiB of body
V2_BODY_CAP = 3 * V2_MESSAGE_LIMIT + MB
JSON = "application/json"


def not_supported(operation: str) -> str:
    return f"The operation {operation} is not supported by Postroom yet."


def sesv2(tenant: Tenant, region: str = "us-east-1", secret: str | None = None) -> Any:
    creds = dict(tenant.credentials)
    if secret is not None:
        creds["secret_access_key"] = secret
    return ses_client(tenant.server, creds, region=region, service="sesv2")


def signed_headers(
    server: PostroomProcess,
    creds: Mapping[str, str],
    method: str,
    path: str,
    body: bytes = b"",
    region: str = "us-east-1",
) -> dict[str, str]:
    """Headers of a request to `path` (raw, percent-encoded) signed by botocore."""
    request = AWSRequest(method=method, url=server.url + path, data=body,
                         headers={"Content-Type": JSON})  # fmt: skip
    credentials = Credentials(creds["access_key_id"], creds["secret_access_key"])
    SigV4Auth(credentials, "ses", region).add_auth(request)
    return dict(request.headers.items())


def send_signed(tenant: Tenant, method: str, path: str, body: bytes = b"") -> httpx.Response:
    headers = signed_headers(tenant.server, tenant.credentials, method, path, body)
    return httpx.request(method, tenant.server.url + path, content=body, headers=headers,
                         timeout=30)  # fmt: skip


def v2_error(response: httpx.Response) -> tuple[int, str, str]:
    """(status, x-amzn-ErrorType, message) of a v2 error answer; checks its shape."""
    assert response.headers["content-type"] == JSON
    assert response.headers["x-amzn-requestid"]
    body = response.json()
    assert set(body) == {"message"}, body
    assert "Traceback" not in response.text
    return response.status_code, response.headers["x-amzn-errortype"], body["message"]


def announce_body(
    server: PostroomProcess, path: str, head: Mapping[str, str], length: int
) -> tuple[int, http.client.HTTPMessage, bytes, bool]:
    """Send a request's head announcing `length` body bytes, then 64 KiB of them, and read
    the answer: (status, headers, body, whether the server then closed the connection)."""
    parts = urllib.parse.urlsplit(server.url)
    with socket.create_connection((parts.hostname, parts.port), timeout=30) as sock:
        lines = [f"POST {path} HTTP/1.1", f"Host: {parts.netloc}"]
        lines += [f"{name}: {value}" for name, value in head.items()
                  if name.lower() not in ("host", "content-length")]  # fmt: skip
        lines.append(f"Content-Length: {length}")
        sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode() + b"{" * 65536)
        response = http.client.HTTPResponse(sock)
        response.begin()
        body = response.read()
        try:
            closed = sock.recv(1) == b""
        except ConnectionResetError:
            closed = True
    return response.status, response.headers, body, closed


# -- GetAccount -----------------------------------------------------------------------------
@pytest.mark.parametrize("access", ["sandbox", "approved"])
def test_get_account_agrees_with_v1(shared_tenant_factory: TenantFactory, access: str) -> None:
    tenant = shared_tenant_factory(f"v2-{access}", approve=access == "approved")

    account = sesv2(tenant).get_account()
    quota = tenant.client().get_send_quota()

    assert account["ResponseMetadata"]["HTTPStatusCode"] == 200
    assert account["ResponseMetadata"]["RequestId"]
    del account["ResponseMetadata"], quota["ResponseMetadata"]
    assert account == {
        "SendQuota": quota,
        "SendingEnabled": True,
        "ProductionAccessEnabled": access == "approved",
        "EnforcementStatus": "HEALTHY",
        "SuppressionAttributes": {"SuppressedReasons": ["BOUNCE", "COMPLAINT"]},
        "DedicatedIpAutoWarmupEnabled": False,
    }
    if access == "sandbox":
        assert quota == {"Max24HourSend": 200.0, "MaxSendRate": 1.0, "SentLast24Hours": 0.0}
    else:
        assert quota["Max24HourSend"] == 50000.0


def test_get_account_counts_what_was_sent_and_sees_a_pause(shared_tenant: Tenant) -> None:
    v1 = shared_tenant.client()
    v1.send_email(
        Source="me@example.com",
        Message=simple_message(),
        Destination={"ToAddresses": ["someone@customer.example"]},  # simulator: not counted
    )
    account = sesv2(shared_tenant).get_account()
    assert account["SendQuota"]["SentLast24Hours"] >= 1.0
    assert account["SendQuota"] == {
        k: v for k, v in v1.get_send_quota().items() if k != "ResponseMetadata"
    }

    shared_tenant.server.cli("accounts", "pause", shared_tenant.name)
    try:
        assert sesv2(shared_tenant).get_account()["SendingEnabled"] is False
        assert v1.get_account_sending_enabled()["Enabled"] is False
    finally:
        shared_tenant.server.cli("accounts", "resume", shared_tenant.name)
    assert sesv2(shared_tenant).get_account()["SendingEnabled"] is True


# -- operations not served yet ------------------------------------------------------------
def test_an_operation_without_a_handler_is_not_supported(shared_tenant: Tenant) -> None:
    client = sesv2(shared_tenant)
    with pytest.raises(client.exceptions.BadRequestException) as raised:
        client.create_dedicated_ip_pool(PoolName="pool")
    assert error_of(raised.value) == (
        "BadRequestException",
        not_supported("CreateDedicatedIpPool"),
        400,
    )


def test_identity_path_parameter_with_plus_and_at(shared_tenant: Tenant) -> None:
    # Signed and routed over the raw path `user%2Btag%40example.com`: a signature check on
    # the decoded path would fail (403) and a split on a decoded `/` would not route (404).
    client = sesv2(shared_tenant)
    with pytest.raises(ClientError) as raised:
        client.get_email_identity(EmailIdentity="user+tag@example.com")
    assert error_of(raised.value) == (
        "NotFoundException", "Email identity user+tag@example.com does not exist.", 404)

    response = send_signed(shared_tenant, "DELETE", "/v2/email/identities/a%2Fb%2Bc%40example.com")
    assert v2_error(response) == (
        404, "NotFoundException", "Email identity a/b+c@example.com does not exist.")


def test_drift_routes_reach_their_operations(shared_tenant: Tenant) -> None:
    listed = send_signed(shared_tenant, "POST", "/v2/email/list-identities", b'{"PageSize":5}')
    assert listed.status_code == 200
    assert {"IdentityType": "DOMAIN", "IdentityName": "example.com", "SendingEnabled": True,
            "VerificationStatus": "SUCCESS"} in listed.json()["EmailIdentities"]  # fmt: skip
    # Not in the pinned botocore model at all (route.modeled is False).
    delivery = send_signed(shared_tenant, "POST", "/v2/email/account/delivery", b"{}")
    assert v2_error(delivery) == (
        400,
        "BadRequestException",
        not_supported("PutAccountDeliveryAttributes"),
    )


def test_unknown_route_is_unknown_operation(shared_tenant: Tenant) -> None:
    response = send_signed(shared_tenant, "GET", "/v2/email/no-such-thing")
    status, code, message = v2_error(response)
    assert (status, code) == (404, "UnknownOperationException")
    assert "/v2/email/no-such-thing" in message
    # Authentication comes first: an anonymous caller learns nothing about routes.
    anonymous = httpx.get(shared_tenant.server.url + "/v2/email/no-such-thing")
    assert v2_error(anonymous)[:2] == (403, "MissingAuthenticationTokenException")


# -- authentication -------------------------------------------------------------------------
def test_wrong_secret_is_an_invalid_signature(shared_tenant: Tenant) -> None:
    client = sesv2(shared_tenant, secret="not-the-secret")
    with pytest.raises(ClientError) as raised:
        client.get_account()
    code, message, status = error_of(raised.value)
    assert (code, status) == ("InvalidSignatureException", 403)
    assert message.startswith("The request signature we calculated does not match")


def test_unknown_key_is_an_unrecognized_client(shared_server: PostroomProcess) -> None:
    creds = {"access_key_id": "AKIANOTAREALKEY00000", "secret_access_key": "x" * 40}
    client = ses_client(shared_server, creds, service="sesv2")
    with pytest.raises(ClientError) as raised:
        client.get_account()
    assert error_of(raised.value) == (
        "UnrecognizedClientException", "The security token included in the request is invalid.",
        403,
    )  # fmt: skip


def test_no_authentication_is_refused_from_the_headers(shared_server: PostroomProcess) -> None:
    response = httpx.get(shared_server.url + "/v2/email/account")
    assert v2_error(response)[:2] == (403, "MissingAuthenticationTokenException")

    started = time.monotonic()
    status, headers, body, closed = announce_body(
        shared_server, "/v2/email/templates", {"Content-Type": JSON}, 50 * MB
    )
    assert time.monotonic() - started < 10
    assert (status, headers["x-amzn-errortype"]) == (403, "MissingAuthenticationTokenException")
    assert headers["connection"] == "close" and closed
    assert set(json.loads(body)) == {"message"}


def test_a_body_over_the_cap_is_refused(shared_tenant: Tenant) -> None:
    server = shared_tenant.server
    length = V2_BODY_CAP + 1
    head = signed_headers(server, shared_tenant.credentials, "POST", "/v2/email/outbound-emails")

    status, headers, body, closed = announce_body(server, "/v2/email/outbound-emails", head,
                                                  length)  # fmt: skip

    assert (status, headers["x-amzn-errortype"]) == (400, "BadRequestException")
    assert json.loads(body) == {
        "message": f"Message length is more than {V2_MESSAGE_LIMIT} bytes long: '{length}'."
    }
    assert headers["x-amzn-requestid"]
    assert headers["connection"] == "close" and closed


@pytest.mark.parametrize(
    "body",
    [
        b"{",
        b"[1, 2]",
        b"[" * 100_000,
        b'{"a":' * 40 + b"1" + b"}" * 40,
        b'{"TemplateName": 5, "TemplateContent": {}}',
        b'{"TemplateName": "\xff\xfe"}',
        b'{"TemplateContent": {}}',
    ],
    ids=[
        "truncated",
        "array",
        "deep-array",
        "deep-object",
        "wrong-type",
        "not-utf8",
        "missing-required",
    ],
)
def test_hostile_json_is_a_bad_request(shared_tenant: Tenant, body: bytes) -> None:
    response = send_signed(shared_tenant, "POST", "/v2/email/templates", body)
    status, code, message = v2_error(response)
    assert (status, code) == (400, "BadRequestException")
    assert "not supported" not in message  # refused by the parser, before dispatch


# -- the AWS CLI ----------------------------------------------------------------------------
def test_aws_cli_sesv2_get_account(shared_tenant_factory: TenantFactory) -> None:
    tenant = shared_tenant_factory("v2-cli")
    result = _aws(tenant.server, tenant.credentials, "get-account", service="sesv2")
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == {
        "DedicatedIpAutoWarmupEnabled": False,
        "EnforcementStatus": "HEALTHY",
        "ProductionAccessEnabled": False,
        "SendQuota": {"Max24HourSend": 200.0, "MaxSendRate": 1.0, "SentLast24Hours": 0.0},
        "SendingEnabled": True,
        "SuppressionAttributes": {"SuppressedReasons": ["BOUNCE", "COMPLAINT"]},
    }
