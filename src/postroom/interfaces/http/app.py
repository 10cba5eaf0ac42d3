"""The HTTP interface: SES v1 on `/`, health, verification links.

Every error is translated here, once: PostroomError -> `<ErrorResponse>` with its code and
status; anything unexpected -> 500 InternalFailure with no traceback to the client.
"""

from __future__ import annotations

import html
import logging
from collections.abc import Callable

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from postroom.domain import identity_service
from postroom.domain.sending import Caller
from postroom.errors import PostroomError
from postroom.interfaces.http import ses_v1_domains  # noqa: F401  registers its operations
from postroom.interfaces.http.ses_v1 import HANDLERS, Context, not_supported
from postroom.services import Services
from postroom.wire import ids
from postroom.wire.awsquery import parse_form, parse_request, serialize_error, serialize_result
from postroom.wire.models import ses_model
from postroom.wire.sigv4 import SignedRequest, parse_auth, unknown_key_error, verify_signature

log = logging.getLogger(__name__)
XML = "text/xml"
MAX_BODY = 15 * 1024 * 1024  # 10 MB message, base64-encoded, plus the form around it


def _signed_request(request: Request, body: bytes) -> SignedRequest:
    headers: dict[str, str] = {}
    for name, value in request.headers.items():
        headers[name] = f"{headers[name]},{value}" if name in headers else value
    raw_path = request.scope.get("raw_path") or request.url.path.encode()
    return SignedRequest(
        method=request.method,
        path=raw_path.decode("latin-1").split("?", 1)[0],
        query_string=request.scope.get("query_string", b"").decode("latin-1"),
        headers=headers,
        body=body,
    )


def _xml(body: bytes, status: int, request_id: str) -> Response:
    return Response(
        body, status_code=status, media_type=XML, headers={"x-amzn-RequestId": request_id}
    )


class SesV1Endpoint:
    def __init__(self, services: Services, wake_delivery: Callable[[], None]) -> None:
        self.services = services
        self.wake_delivery = wake_delivery
        self.model = ses_model()

    async def handle(self, request: Request) -> Response:
        request_id = ids.request_id()
        try:
            output_xml = await self._handle(request, request_id)
        except PostroomError as error:
            return _xml(serialize_error(error, request_id), error.status, request_id)
        except Exception:
            log.exception("unexpected error in request %s", request_id)
            internal = PostroomError()
            return _xml(serialize_error(internal, request_id), internal.status, request_id)
        return _xml(output_xml, 200, request_id)

    async def _authenticate(self, request: Request, body: bytes) -> Caller:
        signed = _signed_request(request, body)
        auth = parse_auth(signed)
        found = await self.services.keys.lookup(auth.access_key_id)
        if found is None:
            raise unknown_key_error()
        account_id, secret = found
        verify_signature(signed, auth, secret, self.services.clock.now())
        client = request.client
        return Caller(
            account_id=account_id,
            region=auth.region,
            access_key_id=auth.access_key_id,
            source_ip=client.host if client else "127.0.0.1",
        )

    async def _handle(self, request: Request, request_id: str) -> bytes:
        if int(request.headers.get("content-length") or 0) > MAX_BODY:
            raise PostroomError(
                "Request entity too large.", code="RequestEntityTooLarge", status=413
            )
        body = await request.body()
        caller = await self._authenticate(request, body)
        params = parse_form(body, request.scope.get("query_string", b"").decode("latin-1"))
        operation, arguments = parse_request(self.model, params)
        handler = HANDLERS.get(operation)
        if handler is None:
            raise not_supported(operation)
        context = Context(self.services, caller, self.wake_delivery)
        output = await handler(context, arguments)
        return serialize_result(self.model, operation, output, request_id)


def _verify_page(title: str, text: str, status: int = 200) -> HTMLResponse:
    title, text = html.escape(title), html.escape(text)
    body = (
        f"<!doctype html><html><head><meta charset='utf-8'><title>{title}</title></head>"
        f"<body><h1>{title}</h1><p>{text}</p></body></html>"
    )
    return HTMLResponse(body, status_code=status)


def create_app(
    services: Services, wake_delivery: Callable[[], None] = lambda: None, *, api: bool = True
) -> Starlette:
    ses_v1 = SesV1Endpoint(services, wake_delivery)

    async def healthz(request: Request) -> Response:
        return PlainTextResponse("ok")

    async def verify(request: Request) -> Response:
        token = request.path_params["token"]
        now = services.clock.now()
        found = await services.db.write(
            lambda conn: identity_service.confirm_link(conn, token, now)
        )
        if found is None:
            return _verify_page("Verification failed", "This link is not valid.", 404)
        if found.status == "Success":
            return _verify_page(
                "Email address verified",
                f"Congratulations! You have successfully verified an email address "
                f"({found.identity}). You can now start sending email from this address.",
            )
        return _verify_page(
            "Verification failed", "This verification link has expired. Ask for a new one.", 410
        )

    async def ses_v2(request: Request) -> Response:
        # SES v2 (rest-json) comes with its own issue; until then its clients get a clear
        # error in their protocol's terms instead of an HTML 404.
        request_id = ids.request_id()
        return JSONResponse(
            {"message": "The SES v2 API is not supported by Postroom yet; use SES v1."},
            status_code=404,
            headers={"x-amzn-RequestId": request_id, "x-amzn-ErrorType": "NotFoundException"},
        )

    routes = [Route("/healthz", healthz, methods=["GET"])]
    if api:
        routes += [
            Route("/", ses_v1.handle, methods=["GET", "POST"]),
            Route("/v2/{rest:path}", ses_v2, methods=["GET", "POST", "PUT", "DELETE", "PATCH"]),
            Route("/verify/{token}", verify, methods=["GET"]),
        ]
    return Starlette(routes=routes)
