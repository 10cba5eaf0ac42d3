"""The HTTP interface: SES v1 on `/`, SES v2 on `/v2/...`, health, verification links.

Each endpoint translates its own errors once: SES v1 in `ses_v1_endpoint.py` (an
`<ErrorResponse>` for every refusal, never a traceback), SES v2 in `ses_v2_endpoint.py`
(JSON with `x-amzn-ErrorType`), the verification pages in `verify_page.py`.
"""

from __future__ import annotations

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route

from postroom.interfaces.http.ses_v1_endpoint import SesV1Endpoint
from postroom.interfaces.http.ses_v2_endpoint import SesV2Endpoint
from postroom.interfaces.http.verify_page import verify_endpoint
from postroom.services import Services

# SES v2's model uses GET, POST, PUT and DELETE; PATCH is answered in JSON too (404
# UnknownOperationException naming the allowed methods) rather than by a plain-text 405.
V2_METHODS = ["GET", "POST", "PUT", "DELETE", "PATCH"]


def create_app(services: Services, *, api: bool = True) -> Starlette:
    """The routes of this node (`api=False`: /healthz only). Queued mail wakes the workers
    `services` is connected to (`Services.connect_wake`)."""
    ses_v1 = SesV1Endpoint(services)
    ses_v2 = SesV2Endpoint(services)

    async def healthz(request: Request) -> Response:
        return PlainTextResponse("ok")

    routes = [Route("/healthz", healthz, methods=["GET"])]
    if api:
        routes += [
            Route("/", ses_v1.handle, methods=["GET", "POST"]),
            Route("/v2/{rest:path}", ses_v2.handle, methods=V2_METHODS),
            Route("/verify/{token}", verify_endpoint(services.core), methods=["GET"]),
        ]
    return Starlette(routes=routes)
