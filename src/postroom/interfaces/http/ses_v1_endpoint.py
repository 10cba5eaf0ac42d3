"""SES v1 (query/XML) on `POST /` and `GET /`: authenticate, read the body, dispatch.

Authentication (`authentication.py`, shared with SES v2) decides everything it can from
the headers before the body is read, reads the body up to `SES_V1_CAP`, then checks the
signature. A refusal answered before the body was read carries `Connection: close`.

Every error is translated here, once: PostroomError -> `<ErrorResponse>` with its code and
status; anything unexpected -> 500 InternalFailure with no traceback to the client.
"""

from __future__ import annotations

import logging
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from postroom.errors import InvalidParameterValue, PostroomError
from postroom.interfaces.http import (
    ses_v1_configuration_sets,  # noqa: F401  registers its operations
    ses_v1_domains,  # noqa: F401  registers its operations
    ses_v1_templates,  # noqa: F401  registers its operations
)
from postroom.interfaces.http.authentication import Answer, Authenticator, Exchange
from postroom.interfaces.http.request_body import SES_V1_CAP
from postroom.interfaces.http.ses_v1 import HANDLERS, Context, not_supported
from postroom.services import Services
from postroom.wire.awsquery import parse_form, parse_request, serialize_error, serialize_result
from postroom.wire.models import ses_model

log = logging.getLogger(__name__)
XML = {"Content-Type": "text/xml; charset=utf-8"}


def _refusal(error: PostroomError, request_id: str) -> Answer:
    return Answer(error.status, serialize_error(error, request_id), XML)


class SesV1Endpoint:
    def __init__(self, services: Services) -> None:
        self.services = services
        self.authenticator = Authenticator(services)
        self.model = ses_model()

    async def handle(self, request: Request) -> Response:
        exchange = Exchange(request)
        return await exchange.respond(self._handle(exchange, exchange.request_id), _refusal)

    async def _handle(self, exchange: Exchange, request_id: str) -> Answer:
        authenticated = await self.authenticator.authenticate(exchange, SES_V1_CAP)
        body, caller = authenticated.body, authenticated.caller
        operation, arguments = self._parse(body, authenticated.signed.query_string, request_id)
        handler = HANDLERS.get(operation)
        if handler is None:
            raise not_supported(operation)
        output = await handler(Context(self.services.core, caller), arguments)
        return Answer(200, serialize_result(self.model, operation, output, request_id), XML)

    def _parse(self, body: bytes, query: str, request_id: str) -> tuple[str, dict[str, Any]]:
        """The operation and its arguments; input the parser chokes on is the client's fault."""
        try:
            return parse_request(self.model, parse_form(body, query))
        except PostroomError:
            raise
        except Exception as exc:
            log.warning("unreadable request %s: %r", request_id, exc)
            raise InvalidParameterValue("The request could not be parsed.") from None
