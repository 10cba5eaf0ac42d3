"""Request-level hardening through a real server (issue 8, items 3, 9 and 10).

Authentication is decided from the headers before any of the body is read; bodies are read
while streaming up to the SES v1 cap; credential-scope regions, security tokens, duplicated
Authorization headers and the signed Host are checked; /verify pages carry security headers.
Requests are signed by botocore's own SigV4Auth and sent with httpx or a raw socket.
"""

from __future__ import annotations

import re
import socket
import threading
import time
import urllib.parse
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import boto3
import httpx
import pytest
from botocore.auth import SigV4Auth, SigV4QueryAuth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from postroom.testing.server import PostroomProcess

FORM = "application/x-www-form-urlencoded; charset=utf-8"
MB = 1024 * 1024
TOO_LONG = re.compile(r"Message length is more than 10485760 bytes long: '(\d+)'\.")
Factory = Callable[..., PostroomProcess]
Shared = tuple[PostroomProcess, dict[str, str]]
TOKEN_REFUSAL = (
    403,
    "InvalidClientTokenId",
    "The security token included in the request is invalid.",
)


# --------------------------------------------------------------------------- helpers


def _signed(
    url: str,
    creds: Mapping[str, str],
    params: Mapping[str, str] | bytes,
    *,
    region: str = "us-east-1",
    token: str | None = None,
    host: str | None = None,
) -> tuple[str, bytes, dict[str, bytes]]:
    """(url, body, headers) of a POST signed by botocore; `host` signs another Host."""
    body = (
        params
        if isinstance(params, bytes)
        else urllib.parse.urlencode({"Version": "2010-12-01", **params}).encode()
    )
    parts = urllib.parse.urlsplit(url)
    signed_url = f"{parts.scheme}://{host or parts.netloc}/"
    request = AWSRequest(method="POST", url=signed_url, data=body,
                         headers={"Content-Type": FORM})  # fmt: skip
    credentials = Credentials(creds["access_key_id"], creds["secret_access_key"], token)
    SigV4Auth(credentials, "ses", region).add_auth(request)
    headers = {k: v.encode() for k, v in request.headers.items()}
    headers["Host"] = (host or parts.netloc).encode()
    return url + "/", body, headers


def _post(url: str, body: bytes, headers: Mapping[str, bytes]) -> httpx.Response:
    return httpx.post(url, content=body, headers=dict(headers), timeout=60)


def _error(response: httpx.Response) -> tuple[int, str, str]:
    """(status, Code, Message) of an SES `<ErrorResponse>`."""
    root = ET.fromstring(response.content)
    assert root.tag.endswith("ErrorResponse"), response.text
    code, message = root.find("{*}Error/{*}Code"), root.find("{*}Error/{*}Message")
    assert code is not None and message is not None
    assert root.find("{*}Error/{*}Type").text == "Sender"  # type: ignore[union-attr]
    return response.status_code, code.text or "", message.text or ""


@pytest.fixture(scope="module")
def shared(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Shared]:
    """One SQLite server and an approved tenant for the tests that store nothing."""
    server = PostroomProcess(data_dir=tmp_path_factory.mktemp("auth") / "data")
    server.start()
    try:
        creds = server.create_account("auth")
        server.cli("accounts", "approve", "auth", "--max-rate", "1000")
        yield server, creds
    finally:
        server.stop()


@dataclass
class Streamed:
    status: int
    headers: dict[str, str]
    body: bytes
    sent_before_response: int  # body bytes the client had sent when the answer arrived
    sent_in_all: int
    finished_sending: bool
    closed: bool  # the server closed the connection after answering


def _stream_post(url: str, head: Mapping[str, str], chunks: Iterator[bytes],
                 chunked: bool = True) -> Streamed:  # fmt: skip
    """POST `chunks` over a raw socket while reading the answer on this thread."""
    parts = urllib.parse.urlsplit(url)
    sock = socket.create_connection((parts.hostname, parts.port), timeout=30)
    lines = ["POST / HTTP/1.1", f"Host: {parts.netloc}"]
    lines += [f"{name}: {value}" for name, value in head.items()]
    if chunked:
        lines.append("Transfer-Encoding: chunked")
    sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode())
    sent = [0]
    finished = threading.Event()

    def send() -> None:
        try:
            for chunk in chunks:
                frame = b"%x\r\n%s\r\n" % (len(chunk), chunk) if chunked else chunk
                sock.sendall(frame)
                sent[0] += len(chunk)
            if chunked:
                sock.sendall(b"0\r\n\r\n")
            finished.set()
        except OSError:
            pass  # the server closed the connection: what we want

    sender = threading.Thread(target=send, daemon=True)
    sender.start()
    data = b""
    while b"\r\n\r\n" not in data:
        piece = sock.recv(65536)
        assert piece, "the server closed the connection without answering"
        data += piece
    sent_before = sent[0]
    head_bytes, _, body = data.partition(b"\r\n\r\n")
    status_line, *header_lines = head_bytes.decode("latin-1").split("\r\n")
    headers = {}
    for line in header_lines:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    length = int(headers.get("content-length", "0"))
    closed = False
    try:
        while len(body) < length:
            piece = sock.recv(65536)
            if not piece:
                break
            body += piece
        sock.settimeout(10)
        closed = sock.recv(1) == b""
    except ConnectionResetError:
        closed = True
    except TimeoutError:
        closed = False
    sender.join(30)
    sock.close()
    return Streamed(int(status_line.split()[1]), headers, body, sent_before, sent[0],
                    finished.is_set(), closed)  # fmt: skip


def _lazy(total: int, prefix: bytes = b"", fill: bytes = b"A", size: int = 64 * 1024
          ) -> Iterator[bytes]:  # fmt: skip
    """`prefix` then `fill` up to `total` bytes, produced a chunk at a time."""
    yield prefix
    left = total - len(prefix)
    block = fill * size
    while left > 0:
        yield block[: min(size, left)]
        left -= size


def _streamed_error(result: Streamed) -> tuple[int, str, str]:
    root = ET.fromstring(result.body)
    code, message = root.find("{*}Error/{*}Code"), root.find("{*}Error/{*}Message")
    assert code is not None and message is not None
    return result.status, code.text or "", message.text or ""


def _bogus_authorization(access_key_id: str) -> dict[str, str]:
    amz_date = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
    credential = f"{access_key_id}/{amz_date[:8]}/us-east-1/ses/aws4_request"
    return {
        "X-Amz-Date": amz_date,
        "Authorization": f"AWS4-HMAC-SHA256 Credential={credential}, "
        f"SignedHeaders=host;x-amz-date, Signature={'0' * 64}",
    }


# --------------------------------------------------------------------------- auth before body


@pytest.mark.parametrize("who", ["anonymous", "unknown key"])
def test_unauthenticated_large_chunked_body_is_refused_from_its_headers(
    shared: Shared, who: str
) -> None:
    server, _ = shared
    head = {"Content-Type": FORM}
    if who == "unknown key":
        head.update(_bogus_authorization("AKIANOTAREALKEY00000"))
    started = time.monotonic()

    result = _stream_post(server.url, head, _lazy(50 * MB, b"Action=SendEmail&Source="))

    assert time.monotonic() - started < 20
    expected = (
        (403, "MissingAuthenticationToken", "Request is missing Authentication Token")
        if who == "anonymous"
        else TOKEN_REFUSAL
    )
    assert _streamed_error(result) == expected
    assert result.headers["connection"] == "close"
    assert result.closed
    # Answered from the headers: what the client had pushed into socket buffers at most.
    assert result.sent_before_response < 16 * MB, result
    assert not result.finished_sending and result.sent_in_all < 40 * MB, result
    assert httpx.get(server.url + "/healthz").status_code == 200


def _raw_form(size: int) -> bytes:
    """A SendRawEmail form whose RawMessage.Data is `size` bytes of base64 text."""
    return b"Action=SendRawEmail&Version=2010-12-01&RawMessage.Data=" + b"Q" * size


@pytest.mark.parametrize("chunked", [True, False])
def test_authenticated_body_over_the_cap_is_refused_with_the_ses_error(
    shared: Shared, chunked: bool
) -> None:
    server, creds = shared
    body = _raw_form(40 * MB)
    _, _, headers = _signed(server.url, creds, body)
    head = {k: v.decode() for k, v in headers.items() if k.lower() != "host"}
    if not chunked:
        head["Content-Length"] = str(len(body))
    view = memoryview(body)

    result = _stream_post(
        server.url,
        head,
        (bytes(view[i : i + 65536]) for i in range(0, len(body), 65536)),
        chunked=chunked,
    )

    status, code, message = _streamed_error(result)
    assert (status, code) == (400, "InvalidParameterValue")
    found = TOO_LONG.fullmatch(message)
    assert found and int(found.group(1)) > 10485760, message
    assert result.headers["connection"] == "close"
    assert result.closed
    assert not result.finished_sending, result
    if not chunked:  # refused from Content-Length, before the body
        assert result.sent_before_response < 16 * MB, result


def test_chunked_body_of_an_ordinary_request_is_read_and_answered(
    shared: Shared,
) -> None:
    server, creds = shared
    url, body, headers = _signed(server.url, creds, {"Action": "GetSendQuota"})
    head = {k: v.decode() for k, v in headers.items() if k.lower() != "host"}

    result = _stream_post(url, head, iter([body[:5], body[5:]]))

    assert result.status == 200, result.body
    assert b"<Max24HourSend>" in result.body
    assert result.finished_sending


def test_a_large_raw_message_within_the_cap_still_gets_the_size_error(
    shared: Shared,
) -> None:
    # 10.2 MB of base64 text with every '+' and '/' percent-encoded: a body well over 15 MB
    # (the old cap) that must still reach SendRawEmail and its SES text.
    server, creds = shared
    data = b"+/" * (10485760 // 2 + 100_000)
    body = (
        b"Action=SendRawEmail&Version=2010-12-01&RawMessage.Data="
        + urllib.parse.quote(data, safe="").encode()
    )
    assert 30 * MB < len(body) < 31 * MB
    url, body, headers = _signed(server.url, creds, body)

    status, code, message = _error(_post(url, body, headers))

    assert (status, code) == (400, "InvalidParameterValue")
    assert message == f"Message length is more than 10485760 bytes long: '{len(data)}'."


# --------------------------------------------------------------------------- regions

BAD_REGIONS = ["us east-1", "us-east-1;x", "eu-wést-1", "a" * 33, "US-EAST-1"]


@pytest.mark.postgres
def test_malformed_regions_are_refused_on_both_engines(
    postroom_factory: Factory, engine_url: str
) -> None:
    server = postroom_factory(database_url=engine_url)
    creds = server.create_account("regions")
    calls = [
        {"Action": "SendEmail", "Source": "me@example.com",
         "Destination.ToAddresses.member.1": "success@simulator.amazonses.com",
         "Message.Subject.Data": "s", "Message.Body.Text.Data": "b"},
        {"Action": "VerifyEmailIdentity", "EmailAddress": "me@example.com"},
    ]  # fmt: skip
    for region in BAD_REGIONS:
        for params in calls:
            url, body, headers = _signed(server.url, creds, params, region=region)
            assert _error(_post(url, body, headers)) == (
                403,
                "SignatureDoesNotMatch",
                "Credential should be scoped to a valid region.",
            ), (region, params["Action"])
    url, body, headers = _signed(server.url, creds, calls[1], region="a" * 32)
    assert _post(url, body, headers).status_code == 200


# --------------------------------------------------------------------------- sigv4 extras


def test_security_token_header_is_refused(shared: Shared) -> None:
    server, creds = shared
    url, body, headers = _signed(server.url, creds, {"Action": "GetSendQuota"}, token="garbage")
    assert "X-Amz-Security-Token" in headers

    assert _error(_post(url, body, headers)) == TOKEN_REFUSAL


def test_security_token_query_parameter_is_refused(shared: Shared) -> None:
    server, creds = shared
    request = AWSRequest(method="GET", url=server.url + "/",
                         params={"Action": "GetSendQuota", "Version": "2010-12-01"})  # fmt: skip
    credentials = Credentials(creds["access_key_id"], creds["secret_access_key"], "garbage")
    SigV4QueryAuth(credentials, "ses", "us-east-1", expires=60).add_auth(request)
    url = request.prepare().url
    assert "X-Amz-Security-Token=garbage" in url

    assert _error(httpx.get(url)) == TOKEN_REFUSAL


def test_boto3_with_a_session_token_is_refused(shared: Shared) -> None:
    server, creds = shared
    client = boto3.client(
        "ses", endpoint_url=server.url, region_name="us-east-1",
        aws_access_key_id=creds["access_key_id"],
        aws_secret_access_key=creds["secret_access_key"], aws_session_token="garbage",
    )  # fmt: skip
    with pytest.raises(client.exceptions.ClientError) as caught:
        client.get_send_quota()
    assert caught.value.response["Error"]["Code"] == "InvalidClientTokenId"


@pytest.mark.parametrize("second", ["same", "garbage"])
def test_duplicated_authorization_header_is_incomplete_signature(
    shared: Shared, second: str
) -> None:
    server, creds = shared
    url, body, headers = _signed(server.url, creds, {"Action": "GetSendQuota"})
    authorization = headers.pop("Authorization")
    pairs = [(k, v) for k, v in headers.items()]
    pairs += [
        (b"Authorization", authorization),
        (b"Authorization", authorization if second == "same" else b"AWS4-HMAC-SHA256 x=y"),
    ]

    response = httpx.post(url, content=body, headers=pairs)

    status, code, _ = _error(response)
    assert (status, code) == (400, "IncompleteSignature")


@pytest.mark.parametrize("how", ["flag", "environment"])
def test_allowed_hosts(postroom_factory: Factory, how: str) -> None:
    names = "email.example.test,Other.Example.Test"
    if how == "flag":
        server = postroom_factory("--allowed-hosts", names)
    else:
        server = postroom_factory(env={"POSTROOM_ALLOWED_HOSTS": names})
    creds = server.create_account("hosts")
    port = urllib.parse.urlsplit(server.url).port
    quota = {"Action": "GetSendQuota"}

    for host in ("email.example.test", f"email.example.test:{port}", "other.example.test:443"):
        url, body, headers = _signed(server.url, creds, quota, host=host)
        assert _post(url, body, headers).status_code == 200, host
    for host in (f"127.0.0.1:{port}", "evil.example.test", "email.example.test.evil.test"):
        url, body, headers = _signed(server.url, creds, quota, host=host)
        status, code, _ = _error(_post(url, body, headers))
        assert (status, code) == (403, "SignatureDoesNotMatch"), host


def test_any_host_is_accepted_when_allowed_hosts_is_not_set(
    shared: Shared,
) -> None:
    server, creds = shared
    url, body, headers = _signed(server.url, creds, {"Action": "GetSendQuota"},
                                 host="proxy.example.test:8443")  # fmt: skip
    assert _post(url, body, headers).status_code == 200


# --------------------------------------------------------------------------- /verify pages

VERIFY_HEADERS = {
    "x-frame-options": "DENY",
    "cache-control": "no-store",
    "referrer-policy": "no-referrer",
    "x-content-type-options": "nosniff",
}


def _assert_verify_headers(response: httpx.Response) -> None:
    for name, value in VERIFY_HEADERS.items():
        assert response.headers.get(name) == value, (name, response.headers)
    csp = response.headers["content-security-policy"]
    for directive in ("default-src 'none'", "frame-ancestors 'none'", "form-action 'none'"):
        assert directive in csp


def test_verify_pages_carry_security_headers(shared: Shared) -> None:
    server, creds = shared
    address = "headers@example.com"
    url, body, headers = _signed(
        server.url, creds, {"Action": "VerifyEmailIdentity", "EmailAddress": address}
    )
    assert _post(url, body, headers).status_code == 200
    mails = server.cli_json("mailbox", "list", "--account", "auth")
    raw = next(m["raw"] for m in mails if address in m["destinations"])
    link = re.search(r"http://\S+/verify/\S+", raw)
    assert link

    verified = httpx.get(link.group(0))  # GET verifies, as SES's own links do
    assert verified.status_code == 200 and "verified" in verified.text
    _assert_verify_headers(verified)
    missing = httpx.get(server.url + "/verify/not-a-real-token")
    assert missing.status_code == 404
    _assert_verify_headers(missing)


@pytest.mark.postgres
def test_absurd_verify_tokens_are_not_found_on_both_engines(
    postroom_factory: Factory, engine_url: str
) -> None:
    server = postroom_factory(database_url=engine_url)
    for token in ("%00", "a%00b", "%0d%0aSet-Cookie:%20x=1", "%E2%80%AE", "x" * 5000):
        started = time.monotonic()
        response = httpx.get(f"{server.url}/verify/{token}")
        assert response.status_code == 404, (token[:20], response.text)
        assert "not valid" in response.text
        _assert_verify_headers(response)
        assert time.monotonic() - started < 2


def test_every_error_is_ses_xml_without_traceback(shared: Shared) -> None:
    server, creds = shared
    cases: list[tuple[bytes, dict[str, Any]]] = []
    for form in (b"\xff\xfe=\x00", b"Action=SendEmail&%", b"&&&==&", b"Action=%F0%28%8C%BC"):
        url, body, headers = _signed(server.url, creds, form)
        cases.append((body, headers))
    for body, headers in cases:
        response = _post(server.url + "/", body, headers)
        assert 400 <= response.status_code < 500, response.text
        assert "Traceback" not in response.text
        _error(response)
