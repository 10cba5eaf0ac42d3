"""SigV4 authentication shared by the SES v1 and v2 endpoints (ses-spec.md section 3).

Everything that can be decided from the headers is decided before the body is read: the
Authorization header (or presigned query) parsed, its scope, region and security token
checked, the signed Host against `allowed_hosts`, the access key looked up and the signing
time checked. Only then is the body read, up to the API's cap (`request_body`), and the
signature, which covers the body's hash, verified.

`Exchange.respond` sends what an endpoint answers, with the rules every SES answer
follows: `x-amzn-RequestId` on each; the PostroomError the work raised handed to the
endpoint's one translator (anything unexpected is logged and becomes InternalFailure, so
no traceback reaches a client); and a refusal sent before the body was read carries
`Connection: close`, so the server closes the connection instead of reading what follows.
Both endpoints sign over the raw path (ASGI `raw_path`): v2's labels are percent-encoded
and the signature covers them encoded (sigv4_canonical.canonical_uri).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import NamedTuple

from starlette.requests import Request
from starlette.responses import Response

from postroom.domain.callers import Caller
from postroom.errors import PostroomError
from postroom.interfaces.http.request_body import BodyCap, announces_body, read_body
from postroom.services import Services
from postroom.wire import ids
from postroom.wire.sigv4 import (
    ParsedAuth,
    SignedRequest,
    check_host,
    check_signature,
    check_time,
    collect_headers,
    parse_auth,
    unknown_key_error,
)

log = logging.getLogger(__name__)


class Answer(NamedTuple):
    """What an endpoint sends back, before the common headers are added."""

    status: int
    body: bytes
    headers: Mapping[str, str]


Refusal = Callable[[PostroomError, str], Answer]  # (error, request id) -> its answer


@dataclass
class Exchange:
    """One request as the endpoint sees it, and whether its body has been read."""

    request: Request
    request_id: str = field(default_factory=ids.request_id)
    body: bytes | None = None  # set once read in full

    @property
    def raw_path(self) -> str:
        """The path as sent, still percent-encoded (ASGI `raw_path`, not the decoded `path`)."""
        raw = self.request.scope.get("raw_path") or self.request.url.path.encode()
        return str(raw.decode("latin-1").split("?", 1)[0])

    @property
    def query_string(self) -> str:
        return str(self.request.scope.get("query_string", b"").decode("latin-1"))

    @property
    def must_close(self) -> bool:
        """An answer sent before the body was read closes the connection (if one follows)."""
        return self.body is None and announces_body(self.request)

    async def respond(self, work: Awaitable[Answer], refuse: Refusal) -> Response:
        """`work`'s answer, or `refuse`'s for the error it raised (see the module's doc)."""
        try:
            answer = await work
        except PostroomError as error:
            answer = refuse(error, self.request_id)
        except Exception:
            log.exception("unexpected error in request %s", self.request_id)
            answer = refuse(PostroomError(), self.request_id)
        else:
            return self._send(answer, close=False)
        return self._send(answer, close=self.must_close)

    def _send(self, answer: Answer, close: bool) -> Response:
        headers = {**answer.headers, "x-amzn-RequestId": self.request_id}
        if close:
            headers["Connection"] = "close"
        return Response(answer.body, status_code=answer.status, headers=headers)


@dataclass(frozen=True)
class Authenticated:
    """A request whose signature checked out: who sent it, and what it sent."""

    caller: Caller
    signed: SignedRequest  # with its body
    auth: ParsedAuth

    @property
    def body(self) -> bytes:
        return self.signed.body


class Authenticator:
    """The keys, clock and allowed hosts of this node, applied to one request at a time."""

    def __init__(self, services: Services) -> None:
        self.services = services

    async def authenticate(self, exchange: Exchange, cap: BodyCap) -> Authenticated:
        """Check the headers, read the body up to `cap`, then check the signature."""
        request = exchange.request
        signed = SignedRequest(
            method=request.method,
            path=exchange.raw_path,
            query_string=exchange.query_string,
            headers=collect_headers(request.scope["headers"]),
            body=b"",
        )
        auth, account_id, secret = await self._from_headers(signed)
        exchange.body = await read_body(request, cap)
        signed = replace(signed, body=exchange.body)
        check_signature(signed, auth, secret)
        client = request.client
        caller = Caller(
            account_id=account_id,
            region=auth.region,
            access_key_id=auth.access_key_id,
            source_ip=client.host if client else "127.0.0.1",
        )
        return Authenticated(caller, signed, auth)

    async def _from_headers(self, signed: SignedRequest) -> tuple[ParsedAuth, str, str]:
        """(auth, account id, secret) from the headers alone; the signature is checked later."""
        auth = parse_auth(signed)
        check_host(signed.headers, self.services.settings.allowed_hosts)
        found = await self.services.keys.lookup(auth.access_key_id)
        if found is None:
            raise unknown_key_error()
        check_time(auth, self.services.clock.now())
        return auth, found[0], found[1]
