"""SES v1 (query/XML) on `POST /` and `GET /`: authenticate, read the body, dispatch.

Everything that can be decided from the headers is decided before the body is read: the
Authorization header (or presigned query) parsed, its scope, region and security token
checked, the signed Host against `allowed_hosts`, the access key looked up and the signing
time checked. Only then is the body read, up to `SES_V1_CAP`, and the signature (which
covers the body's hash) verified. A refusal answered before the body was read carries
`Connection: close`, so the server closes the connection instead of reading what follows.

Every error is translated here, once: PostroomError -> `<ErrorResponse>` with its code and
status; anything unexpected -> 500 InternalFailure with no traceback to the client.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import replace
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from postroom.domain.sending import Caller
from postroom.errors import InvalidParameterValue, PostroomError
from postroom.interfaces.http import ses_v1_domains  # noqa: F401  registers its operations
from postroom.interfaces.http.request_body import SES_V1_CAP, announces_body, read_body
from postroom.interfaces.http.ses_v1 import HANDLERS, Context, not_supported
from postroom.services import Services
from postroom.wire import ids
from postroom.wire.awsquery import parse_form, parse_request, serialize_error, serialize_result
from postroom.wire.models import ses_model
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
XML = "text/xml"


def _xml(body: bytes, status: int, request_id: str, close: bool = False) -> Response:
    headers = {"x-amzn-RequestId": request_id}
    if close:
        headers["Connection"] = "close"
    return Response(body, status_code=status, media_type=XML, headers=headers)


def _signed_request(request: Request) -> SignedRequest:
    """The request's line and headers as signed; the body comes once authenticated."""
    scope = request.scope
    raw_path = scope.get("raw_path") or request.url.path.encode()
    return SignedRequest(
        method=request.method,
        path=raw_path.decode("latin-1").split("?", 1)[0],
        query_string=scope.get("query_string", b"").decode("latin-1"),
        headers=collect_headers(scope["headers"]),
        body=b"",
    )


class SesV1Endpoint:
    def __init__(self, services: Services, wake_delivery: Callable[[], None]) -> None:
        self.services = services
        self.wake_delivery = wake_delivery
        self.model = ses_model()

    async def handle(self, request: Request) -> Response:
        request_id = ids.request_id()
        read: list[bytes] = []  # the body, once read in full
        try:
            output_xml = await self._handle(request, request_id, read)
        except PostroomError as error:
            close = not read and announces_body(request)
            return _xml(serialize_error(error, request_id), error.status, request_id, close)
        except Exception:
            log.exception("unexpected error in request %s", request_id)
            internal = PostroomError()
            close = not read and announces_body(request)
            return _xml(serialize_error(internal, request_id), internal.status, request_id, close)
        return _xml(output_xml, 200, request_id)

    async def _authenticate(self, signed: SignedRequest) -> tuple[ParsedAuth, str, str]:
        """(auth, account id, secret) from the headers alone; the signature is checked later."""
        auth = parse_auth(signed)
        check_host(signed.headers, self.services.settings.allowed_hosts)
        found = await self.services.keys.lookup(auth.access_key_id)
        if found is None:
            raise unknown_key_error()
        check_time(auth, self.services.clock.now())
        return auth, found[0], found[1]

    async def _handle(self, request: Request, request_id: str, read: list[bytes]) -> bytes:
        signed = _signed_request(request)
        auth, account_id, secret = await self._authenticate(signed)
        body = await read_body(request, SES_V1_CAP)
        read.append(body)
        check_signature(replace(signed, body=body), auth, secret)
        operation, arguments = self._parse(body, signed.query_string, request_id)
        handler = HANDLERS.get(operation)
        if handler is None:
            raise not_supported(operation)
        client = request.client
        caller = Caller(
            account_id=account_id,
            region=auth.region,
            access_key_id=auth.access_key_id,
            source_ip=client.host if client else "127.0.0.1",
        )
        output = await handler(Context(self.services, caller, self.wake_delivery), arguments)
        return serialize_result(self.model, operation, output, request_id)

    def _parse(self, body: bytes, query: str, request_id: str) -> tuple[str, dict[str, Any]]:
        """The operation and its arguments; input the parser chokes on is the client's fault."""
        try:
            return parse_request(self.model, parse_form(body, query))
        except PostroomError:
            raise
        except Exception as exc:
            log.warning("unreadable request %s: %r", request_id, exc)
            raise InvalidParameterValue("The request could not be parsed.") from None
