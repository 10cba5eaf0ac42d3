"""Untrusted input through the real server: signed but mangled requests never get a 500."""

from __future__ import annotations

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
        "RawMessage.Data": "RnJvbTogYXBwQGV4YW1wbGUuY29tDQpUbzogc3VjY2Vzc0BzaW11bGF0b3IuYW1h"
        "em9uc2VzLmNvbQ0KU3ViamVjdDogaGkNCg0KYm9keQ0K",
        "Destinations.member.1": "success@simulator.amazonses.com",
    },
    {"Action": "VerifyEmailIdentity", "EmailAddress": "someone@example.com"},
    {"Action": "VerifyDomainIdentity", "Domain": "example.org"},
    {"Action": "GetIdentityVerificationAttributes", "Identities.member.1": "example.org"},
    {"Action": "ListIdentities", "IdentityType": "Domain", "MaxItems": "2"},
    {"Action": "DeleteIdentity", "Identity": "example.org"},
    {"Action": "UpdateAccountSendingEnabled", "Enabled": "true"},
]
ITERATIONS = int(os.environ.get("POSTROOM_FUZZ_ITERATIONS", "400"))  # more: set it higher
NASTY = [
    "",
    "\r\nBcc: evil@example.net",
    "a" * 5000,
    "\x00",
    "=?utf-8?B?AAAA?=",
    "<>",
    "@",
    "a@b@c",
    "😀@😀.com",
    "-1",
    "99999999999999999999",
    "true",
    "%ZZ",
    "member",
    "xn--",
    "..",
]


def _mutate(rng: random.Random, seed: dict[str, str]) -> dict[str, str]:
    params = dict(seed)
    for _ in range(rng.randint(1, 3)):
        choice = rng.random()
        key = rng.choice(list(params))
        if choice < 0.4 and key != "Action":
            params[key] = rng.choice(NASTY)
        elif choice < 0.6 and key != "Action":
            del params[key]
        elif choice < 0.8:
            params[key.replace("member.1", f"member.{rng.randint(0, 60)}")] = rng.choice(NASTY)
        else:
            params[rng.choice(NASTY) or "X"] = rng.choice(NASTY)
    return params


def _signed(url: str, creds: dict[str, str], params: dict[str, str]) -> AWSRequest:
    body = urllib.parse.urlencode({"Version": "2010-12-01", **params})
    request = AWSRequest(
        method="POST",
        url=url + "/",
        data=body.encode("utf-8", "surrogatepass"),
        headers={"Content-Type": "application/x-www-form-urlencoded; charset=utf-8"},
    )
    credentials = Credentials(creds["access_key_id"], creds["secret_access_key"])
    SigV4Auth(credentials, "ses", "us-east-1").add_auth(request)
    return request


def test_mangled_requests_get_ses_errors_not_500s(postroom_factory: Any) -> None:
    server: PostroomProcess = postroom_factory()
    creds = server.create_account("fuzz")
    server.cli("accounts", "approve", "fuzz", "--max-rate", "100000")
    rng = random.Random(20261130)
    statuses: dict[int, int] = {}
    with httpx.Client(timeout=30) as client:
        for _ in range(ITERATIONS):
            params = _mutate(rng, rng.choice(SEEDS))
            prepared = _signed(server.url, creds, params).prepare()
            response = client.post(
                prepared.url, content=prepared.body, headers=dict(prepared.headers.items())
            )
            statuses[response.status_code] = statuses.get(response.status_code, 0) + 1
            assert response.status_code < 500, (params, response.text)
            root = ET.fromstring(response.content)  # always well-formed XML
            if response.status_code >= 400:
                assert root.tag.endswith("ErrorResponse"), response.text
                assert root.find("{*}Error/{*}Code") is not None
            assert response.headers["x-amzn-RequestId"]
    assert statuses.get(200, 0) > 0 and statuses.get(400, 0) > 0, statuses
