"""The bench's SES v1 requests: the SendEmail message, SigV4 signing, the pre-signed pool.

Requests are built and signed ahead of time into complete HTTP/1.1 bytes (`RequestPool`),
so the load generator only writes them. `call` sends one signed request with the standard
library, for set-up, the preflight and GetSendStatistics.
"""

from __future__ import annotations

import asyncio
import http.client
import random
import time
from collections.abc import Sequence
from dataclasses import dataclass
from urllib.parse import quote, urlencode, urlsplit

from postroom.wire.sigv4 import SignedRequest, sign_request

CONTENT_TYPE = "application/x-www-form-urlencoded; charset=utf-8"
SUBJECT = "[포스트룸] 임시 비밀번호 안내"
TEXT = (
    "안녕하세요, 고객님.\n\n"
    "요청하신 임시 비밀번호는 {password} 입니다.\n"
    "로그인한 뒤 [내 정보 > 비밀번호 변경]에서 새 비밀번호로 바꿔 주세요.\n"
    "본인이 요청하지 않았다면 이 메일을 무시하셔도 됩니다.\n\n"
    "감사합니다.\n포스트룸 드림\n"
)
HTML = (
    "<html><body style=\"font-family:sans-serif\">"
    "<p>안녕하세요, 고객님.</p>"
    "<p>요청하신 임시 비밀번호는 <b style=\"font-size:18px\">{password}</b> 입니다.</p>"
    "<p>로그인한 뒤 <i>내 정보 &gt; 비밀번호 변경</i>에서 새 비밀번호로 바꿔 주세요.<br>"
    "본인이 요청하지 않았다면 이 메일을 무시하셔도 됩니다.</p>"
    "<p>감사합니다.<br>포스트룸 드림</p></body></html>"
)
RESIGN_SECONDS = 60.0  # SigV4 accepts +-5 minutes; a pool is never older than this


@dataclass(frozen=True)
class Target:
    host: str
    port: int
    path: str

    @classmethod
    def parse(cls, url: str) -> Target:
        parts = urlsplit(url)
        if parts.scheme != "http" or not parts.hostname:
            raise SystemExit(f"--url must be http://HOST:PORT[/path], got {url!r}")
        return cls(parts.hostname, parts.port or 80, parts.path or "/")

    @property
    def host_header(self) -> str:
        return self.host if self.port == 80 else f"{self.host}:{self.port}"

    @property
    def base_url(self) -> str:
        return f"http://{self.host_header}"


@dataclass(frozen=True)
class Credentials:
    access_key_id: str
    secret_access_key: str
    region: str


def amz_now() -> str:
    return time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())


def form(pairs: Sequence[tuple[str, str]]) -> bytes:
    # botocore's query serializer: percent-encode everything but RFC 3986 unreserved.
    return urlencode(pairs, safe="-_.~", quote_via=quote).encode("ascii")


def send_email_form(source: str, recipients: Sequence[str], reply_to: str | None,
                    password: str) -> bytes:
    """The seed's scenario: a temporary password, Korean subject, Text and Html parts."""
    pairs = [("Action", "SendEmail"), ("Version", "2010-12-01"), ("Source", source)]
    pairs += [(f"Destination.ToAddresses.member.{i}", r) for i, r in enumerate(recipients, 1)]
    pairs += [
        ("Message.Subject.Data", SUBJECT), ("Message.Subject.Charset", "UTF-8"),
        ("Message.Body.Text.Data", TEXT.format(password=password)),
        ("Message.Body.Text.Charset", "UTF-8"),
        ("Message.Body.Html.Data", HTML.format(password=password)),
        ("Message.Body.Html.Charset", "UTF-8"),
    ]
    if reply_to:
        pairs.append(("ReplyToAddresses.member.1", reply_to))
    return form(pairs)


def request_bodies(count: int, source: str, recipients: Sequence[str],
                   reply_to: str | None) -> list[bytes]:
    rng = random.Random(2010_12_01)
    alphabet = "ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz23456789"
    return [
        send_email_form(source, recipients, reply_to,
                        "".join(rng.choice(alphabet) for _ in range(10)))
        for _ in range(count)
    ]


def signed_headers(target: Target, creds: Credentials, body: bytes,
                   amz_date: str) -> dict[str, str]:
    headers = {"host": target.host_header, "content-type": CONTENT_TYPE}
    request = SignedRequest("POST", target.path, "", headers, body)
    headers.update(sign_request(request, creds.access_key_id, creds.secret_access_key,
                                creds.region, amz_date))
    return headers


def prebuilt_request(target: Target, creds: Credentials, body: bytes, amz_date: str) -> bytes:
    """The complete HTTP/1.1 request, ready to write."""
    h = signed_headers(target, creds, body, amz_date)
    head = (
        f"POST {target.path} HTTP/1.1\r\nHost: {h['host']}\r\nContent-Type: {CONTENT_TYPE}\r\n"
        f"Content-Length: {len(body)}\r\nX-Amz-Date: {h['x-amz-date']}\r\n"
        f"Authorization: {h['authorization']}\r\nUser-Agent: postroom-bench\r\n\r\n"
    )
    return head.encode("ascii") + body


class RequestPool:
    """Distinct signed requests, used round-robin and re-signed every RESIGN_SECONDS.

    SigV4 does not forbid replays, so cycling a pool of a few thousand bodies is fine; each
    one becomes a separate accepted message.
    """

    def __init__(self, target: Target, creds: Credentials, bodies: list[bytes]) -> None:
        self.target, self.creds, self.bodies = target, creds, bodies
        self.requests = self._sign()
        self.index = 0

    def _sign(self) -> list[bytes]:
        amz_date = amz_now()
        return [prebuilt_request(self.target, self.creds, b, amz_date) for b in self.bodies]

    def next(self) -> bytes:
        requests = self.requests
        self.index += 1
        return requests[self.index % len(requests)]

    async def keep_fresh(self) -> None:
        while True:
            await asyncio.sleep(RESIGN_SECONDS)
            self.requests = await asyncio.to_thread(self._sign)


def call(target: Target, creds: Credentials, body: bytes,
         timeout: float = 30.0) -> tuple[int, bytes]:
    """One signed SES v1 request with the standard library (set-up and preflight)."""
    headers = signed_headers(target, creds, body, amz_now())
    connection = http.client.HTTPConnection(target.host, target.port, timeout=timeout)
    try:
        connection.request("POST", target.path, body=body,
                           headers={k: v for k, v in headers.items() if k != "host"})
        response = connection.getresponse()
        return response.status, response.read()
    finally:
        connection.close()
