"""The HTTP interface: SES v1 on `/`, health, verification links.

Each endpoint translates its own errors once: SES v1 in `ses_v1_endpoint.py` (an
`<ErrorResponse>` for every refusal, never a traceback), the verification pages in
`verify_page.py`.
"""

from __future__ import annotations

from collections.abc import Callable

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from postroom.interfaces.http.ses_v1_endpoint import SesV1Endpoint
from postroom.interfaces.http.verify_page import verify_endpoint
from postroom.services import Services
from postroom.wire import ids


def create_app(
    services: Services, wake_delivery: Callable[[], None] = lambda: None, *, api: bool = True
) -> Starlette:
    ses_v1 = SesV1Endpoint(services, wake_delivery)

    async def healthz(request: Request) -> Response:
        return PlainTextResponse("ok")

    async def ses_v2(request: Request) -> Response:
        # SES v2 (rest-json) comes with its own issue; until then its clients get a clear
        # error in their protocol's terms instead of an HTML 404. Its body cap is waiting in
        # request_body.SES_V2_CAP.
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
            Route("/verify/{token}", verify_endpoint(services), methods=["GET"]),
        ]
    return Starlette(routes=routes)
