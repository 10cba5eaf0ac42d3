"""boto3 `ses` on the wire: SigV4 failures, response headers and the `<ErrorResponse>` body.

One SQLite server serves the module; requests that boto3 will not make (no auth, a clock
ten minutes slow) are signed with botocore's SigV4Auth and sent with httpx.
"""

from __future__ import annotations

import re
import time
import xml.etree.ElementTree as ET
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import urlencode

import botocore.auth
import httpx
import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from botocore.exceptions import ClientError
from ses_support import Tenant, error_of, simple_message

from postroom.testing.fixtures import ses_client
from postroom.testing.server import PostroomProcess

NS = {"ses": "http://ses.amazonaws.com/doc/2010-12-01/"}
QUOTA_FORM = {"Action": "GetSendQuota", "Version": "2010-12-01"}
FORM_TYPE = "application/x-www-form-urlencoded; charset=utf-8"
BAD_SIGNATURE = (
    "The request signature we calculated does not match the signature you provided. Check "
    "your AWS Secret Access Key and signing method. Consult the service documentation for "
    "details."
)
AMZ = r"(\d{8}T\d{6}Z)"
EXPIRED = re.compile(
    rf"Signature expired: {AMZ} is now earlier than {AMZ} \({AMZ} - 5 min\.\)"
)
NOT_YET = re.compile(
    rf"Signature not yet current: {AMZ} is still later than {AMZ} \({AMZ} \+ 5 min\.\)"
)
Signer = Callable[..., httpx.Response]


@pytest.fixture
def clock_at(monkeypatch: pytest.MonkeyPatch) -> Callable[[datetime], None]:
    """clock_at(when): botocore signs as if it were `when` (it stamps X-Amz-Date from this)."""

    def set_clock(when: datetime) -> None:
        monkeypatch.setattr(botocore.auth, "get_current_datetime",
                            lambda remove_tzinfo=True: when.replace(tzinfo=None))

    return set_clock


@pytest.fixture
def signed_post(shared_tenant: Tenant) -> Signer:
    """signed_post(form, authorization=None) -> httpx response to a botocore-signed POST."""

    def post(form: dict[str, str], authorization: str | None = None) -> httpx.Response:
        url = shared_tenant.server.url + "/"
        body = urlencode(form)
        request = AWSRequest(method="POST", url=url, data=body,
                             headers={"Content-Type": FORM_TYPE})
        credentials = Credentials(shared_tenant.credentials["access_key_id"],
                                  shared_tenant.credentials["secret_access_key"])
        SigV4Auth(credentials, "ses", "us-east-1").add_auth(request)
        headers = dict(request.headers.items())
        if authorization is not None:
            headers["Authorization"] = authorization
        return httpx.post(url, content=body, headers=headers)

    return post


def _error_xml(response: httpx.Response) -> dict[str, str]:
    """Type, Code, Message and RequestId of an `<ErrorResponse>` body."""
    root = ET.fromstring(response.content)
    assert root.tag == f"{{{NS['ses']}}}ErrorResponse"
    error = root.find("ses:Error", NS)
    assert error is not None
    found = {child.tag.split("}")[1]: child.text or "" for child in error}
    request_id = root.find("ses:RequestId", NS)
    assert request_id is not None
    found["RequestId"] = request_id.text or ""
    return found


def _refusal(client: Any) -> tuple[str, str, int]:
    with pytest.raises(ClientError) as caught:
        client.get_send_quota()
    return error_of(caught.value)


def test_success_carries_request_id_header_and_an_accurate_date(shared_tenant: Tenant) -> None:
    reply = shared_tenant.client().get_send_quota()

    metadata = reply["ResponseMetadata"]
    headers = metadata["HTTPHeaders"]
    assert metadata["HTTPStatusCode"] == 200
    assert re.fullmatch(r"[0-9a-f-]{36}", metadata["RequestId"])
    assert headers["x-amzn-requestid"] == metadata["RequestId"]
    assert headers["content-type"].startswith("text/xml")
    assert abs(parsedate_to_datetime(headers["date"]).timestamp() - time.time()) < 5


def test_errors_are_sender_faults_with_the_request_id(shared_tenant: Tenant) -> None:
    with pytest.raises(ClientError) as caught:
        shared_tenant.client().send_email(
            Source="me@unverified.example",
            Destination={"ToAddresses": ["to@example.com"]}, Message=simple_message(),
        )

    response: Any = caught.value.response
    assert response["Error"]["Type"] == "Sender"
    metadata = response["ResponseMetadata"]
    assert metadata["HTTPHeaders"]["x-amzn-requestid"] == metadata["RequestId"] != ""


def test_request_without_authentication_is_refused(shared_server: PostroomProcess) -> None:
    response = httpx.post(shared_server.url + "/", data=QUOTA_FORM)

    assert response.status_code == 403
    assert response.headers["content-type"].startswith("text/xml")
    error = _error_xml(response)
    assert error == {
        "Type": "Sender", "Code": "MissingAuthenticationToken",
        "Message": "Request is missing Authentication Token",
        "RequestId": response.headers["x-amzn-RequestId"],
    }


def test_wrong_secret_is_signature_does_not_match(shared_tenant: Tenant) -> None:
    forged = dict(shared_tenant.credentials, secret_access_key="x" * 40)

    assert _refusal(ses_client(shared_tenant.server, forged)) == (
        "SignatureDoesNotMatch", BAD_SIGNATURE, 403
    )


def test_unknown_access_key_is_invalid_client_token_id(shared_tenant: Tenant) -> None:
    stranger = dict(shared_tenant.credentials, access_key_id="AKIAIOSFODNN7EXAMPLE")

    assert _refusal(ses_client(shared_tenant.server, stranger)) == (
        "InvalidClientTokenId", "The security token included in the request is invalid.", 403
    )


def _amz_times(pattern: re.Pattern[str], message: str) -> list[datetime]:
    found = pattern.fullmatch(message)
    assert found, message
    return [datetime.strptime(g, "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC) for g in found.groups()]


def test_signature_from_a_clock_ten_minutes_slow_has_expired(
    signed_post: Signer, clock_at: Callable[[datetime], None]
) -> None:
    clock_at(datetime.now(UTC) - timedelta(minutes=4))
    assert signed_post(QUOTA_FORM).status_code == 200  # within 5 minutes: fine
    signed_at = datetime.now(UTC) - timedelta(minutes=10)
    clock_at(signed_at)

    response = signed_post(QUOTA_FORM)

    assert response.status_code == 403
    error = _error_xml(response)
    assert (error["Type"], error["Code"]) == ("Sender", "SignatureDoesNotMatch")
    stamp, earliest, now = _amz_times(EXPIRED, error["Message"])
    assert stamp == signed_at.replace(microsecond=0)
    assert earliest == now - timedelta(minutes=5)
    assert abs(now.timestamp() - time.time()) < 5


def test_signature_from_a_clock_ten_minutes_fast_is_not_yet_current(
    signed_post: Signer, clock_at: Callable[[datetime], None]
) -> None:
    signed_at = datetime.now(UTC) + timedelta(minutes=10)
    clock_at(signed_at)

    response = signed_post(QUOTA_FORM)

    assert response.status_code == 403
    error = _error_xml(response)
    assert error["Code"] == "SignatureDoesNotMatch"
    stamp, latest, now = _amz_times(NOT_YET, error["Message"])
    assert stamp == signed_at.replace(microsecond=0)
    assert latest == now + timedelta(minutes=5)


def test_malformed_authorization_is_incomplete_signature(signed_post: Signer) -> None:
    header = "AWS4-HMAC-SHA256 Credential=ABCDEF"

    response = signed_post(QUOTA_FORM, authorization=header)

    assert response.status_code == 400
    error = _error_xml(response)
    assert error["Code"] == "IncompleteSignature"
    assert error["Message"].startswith(
        "Authorization header requires 'Signature' parameter. Authorization header requires "
        "'SignedHeaders' parameter."
    )
    assert error["Message"].endswith(f"Authorization={header}")


def test_unknown_or_missing_action_is_refused(signed_post: Signer) -> None:
    response = signed_post({"Action": "SendPigeon", "Version": "2010-12-01"})
    assert response.status_code == 400
    error = _error_xml(response)
    assert error["Code"] == "InvalidAction" and "SendPigeon" in error["Message"]

    response = signed_post({"Version": "2010-12-01"})
    assert (response.status_code, _error_xml(response)["Code"]) == (400, "MissingAction")


def test_presigned_get_works_until_it_expires(
    shared_tenant: Tenant, clock_at: Callable[[datetime], None]
) -> None:
    client = shared_tenant.client()
    url = client.generate_presigned_url("list_identities", Params={"IdentityType": "Domain"},
                                        ExpiresIn=60, HttpMethod="GET")

    response = httpx.get(url)

    assert response.status_code == 200
    root = ET.fromstring(response.content)
    members = root.findall("ses:ListIdentitiesResult/ses:Identities/ses:member", NS)
    assert [m.text for m in members] == ["example.com"]
    clock_at(datetime.now(UTC) - timedelta(minutes=3))
    stale = client.generate_presigned_url("get_send_quota", ExpiresIn=60, HttpMethod="GET")
    expired = httpx.get(stale)  # signed 3 minutes ago, valid for 60 s
    assert expired.status_code == 400  # SES Common Errors: RequestExpired (400)
    error = _error_xml(expired)
    assert (error["Code"], error["Message"]) == ("RequestExpired", "Request has expired.")


def test_broken_verification_link_is_not_found(shared_server: PostroomProcess) -> None:
    response = httpx.get(shared_server.url + "/verify/not-a-real-token")

    assert response.status_code == 404
    assert "not valid" in response.text
