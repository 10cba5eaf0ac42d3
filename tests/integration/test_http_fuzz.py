"""Untrusted input through the real server: mutated, signed requests never get a 5xx.

A few thousand requests, seeded (the same every run), on both engines: form parameters
mangled, raw MIME with bare CRs, NULs and duplicated headers, odd regions, hosts, content
types and methods. Every answer is SES's XML, every error has a code, and the server logs
no traceback. `POSTROOM_FUZZ_ITERATIONS` runs a longer campaign (docs/security.md).
"""

from __future__ import annotations

import base64
import os
import random
import urllib.parse
import xml.etree.ElementTree as ET
from typing import Any

import httpx
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from postroom.testing.server import PostroomProcess

RAW = (
    b"From: app@example.com\r\nTo: success@simulator.amazonses.com\r\n"
    b"Subject: hi\r\nX-SES-CONFIGURATION-SET: set\r\n\r\nbody\r\n"
)
SEEDS: list[dict[str, str]] = [
    {
        "Action": "SendEmail",
        "Source": "Ann <app@example.com>",
        "Destination.ToAddresses.member.1": "success@simulator.amazonses.com",
        "Destination.CcAddresses.member.1": "bounce@simulator.amazonses.com",
        "Message.Subject.Data": "임시 비밀번호",
        "Message.Subject.Charset": "UTF-8",
        "Message.Body.Text.Data": "hello",
        "Message.Body.Html.Data": "<p>hello</p>",
        "ReplyToAddresses.member.1": "reply@example.com",
        "Tags.member.1.Name": "kind",
        "Tags.member.1.Value": "reset",
    },
    {
        "Action": "SendRawEmail",
        "RawMessage.Data": base64.b64encode(RAW).decode(),
        "Destinations.member.1": "success@simulator.amazonses.com",
    },
    {"Action": "VerifyEmailIdentity", "EmailAddress": "someone@example.com"},
    {"Action": "VerifyEmailAddress", "EmailAddress": "other@example.com"},
    {"Action": "VerifyDomainIdentity", "Domain": "example.org"},
    {"Action": "GetIdentityVerificationAttributes", "Identities.member.1": "example.org"},
    {"Action": "ListIdentities", "IdentityType": "Domain", "MaxItems": "2"},
    {"Action": "DeleteIdentity", "Identity": "example.org"},
    {"Action": "UpdateAccountSendingEnabled", "Enabled": "true"},
    {"Action": "GetSendQuota"},
]
ITERATIONS = int(os.environ.get("POSTROOM_FUZZ_ITERATIONS", "3000"))
NASTY = [
    "",
    "\r\nBcc: evil@example.net",
    "a\rFrom: ceo@bank.example",
    "a" * 5000,
    "\x00",
    "\x7f\x1b[31m",
    "=?utf-8?B?AAAA?=",
    "<>",
    "@",
    "a@b@c",
    "u@[127.0.0.1]",
    "u@[a;b<c>]",
    "u@[IPv6:::1]",
    "😀@😀.com",
    "-1",
    "99999999999999999999",
    "1e308",
    "true",
    "%ZZ",
    "member",
    "xn--",
    "..",
]
REGIONS = ["us-east-1", "ap-northeast-2", "us east", "a;b", "é", "x" * 33, "", "US-EAST-1"]
MIME_BITS = [b"\r", b"\n", b"\x00", b"\r\n", b"From: x@evil.example\r\n", b"\r\n\r\n", b"\xff"]


def _mutate_raw(rng: random.Random) -> str:
    raw = bytearray(RAW)
    for _ in range(rng.randint(1, 4)):
        at = rng.randrange(len(raw) + 1)
        raw[at:at] = rng.choice(MIME_BITS)
    return base64.b64encode(bytes(raw)).decode()


def _mutate(rng: random.Random, seed: dict[str, str]) -> dict[str, str]:
    params = dict(seed)
    for _ in range(rng.randint(1, 3)):
        choice = rng.random()
        key = rng.choice(list(params))
        if key == "RawMessage.Data" and choice < 0.5:
            params[key] = _mutate_raw(rng)
        elif choice < 0.4 and key != "Action":
            params[key] = rng.choice(NASTY)
        elif choice < 0.6 and key != "Action":
            del params[key]
        elif choice < 0.8:
            params[key.replace("member.1", f"member.{rng.randint(0, 60)}")] = rng.choice(NASTY)
        else:
            params[rng.choice(NASTY) or "X"] = rng.choice(NASTY)
    return params


def _signed(
    rng: random.Random, url: str, creds: dict[str, str], params: dict[str, str]
) -> AWSRequest:
    body = urllib.parse.urlencode({"Version": "2010-12-01", **params})
    if rng.random() < 0.05:  # bytes that are not UTF-8, percent-encoded
        body += "&Message.Subject.Data=%FF%FE%C0"
    content_type = rng.choice(
        ["application/x-www-form-urlencoded; charset=utf-8"] * 8
        + ["text/plain", "application/json", "multipart/form-data; boundary=x"]
    )
    method = "GET" if rng.random() < 0.05 else "POST"
    request = AWSRequest(
        method=method,
        url=url + "/" + ("?" + body if method == "GET" else ""),
        data=None if method == "GET" else body.encode("utf-8", "surrogatepass"),
        headers={"Content-Type": content_type},
    )
    region = "us-east-1" if rng.random() < 0.85 else rng.choice(REGIONS)
    credentials = Credentials(creds["access_key_id"], creds["secret_access_key"])
    SigV4Auth(credentials, "ses", region).add_auth(request)
    return request


def _assert_ses_answer(response: httpx.Response, params: dict[str, str]) -> None:
    assert response.status_code < 500, (params, response.text)
    assert b"Traceback" not in response.content
    if response.status_code in (414, 431):  # the HTTP layer's limits, before any SES code
        return
    root = ET.fromstring(response.content)  # always well-formed XML
    if response.status_code >= 400:
        assert root.tag.endswith("ErrorResponse"), response.text
        assert root.find("{*}Error/{*}Code") is not None
    assert response.headers["x-amzn-RequestId"]


def test_mangled_requests_get_ses_errors_not_500s(postroom_factory: Any, engine_url: str) -> None:
    # SQLite (in the data dir) gets the whole run; PostgreSQL a third of it.
    postgres = engine_url.startswith("postgresql")
    iterations = max(1, ITERATIONS // 3) if postgres else ITERATIONS
    server: PostroomProcess = postroom_factory(database_url=engine_url if postgres else None)
    creds = server.create_account("fuzz")
    server.cli("accounts", "approve", "fuzz", "--max-rate", "100000")
    rng = random.Random(20261208)
    statuses: dict[int, int] = {}
    with httpx.Client(timeout=30) as client:
        for _ in range(iterations):
            params = _mutate(rng, rng.choice(SEEDS))
            prepared = _signed(rng, server.url, creds, params).prepare()
            response = client.request(
                prepared.method,
                prepared.url,
                content=prepared.body,
                headers={k: v.encode("utf-8") for k, v in prepared.headers.items()},
            )
            statuses[response.status_code] = statuses.get(response.status_code, 0) + 1
            _assert_ses_answer(response, params)
    print(f"fuzz {engine_url.split(':')[0]}: {iterations} requests, statuses {statuses}")
    assert statuses.get(200, 0) > 0 and statuses.get(400, 0) > 0, statuses
    server.stop()
    logged = "".join(server.output)
    assert "Traceback" not in logged, logged[-4000:]
