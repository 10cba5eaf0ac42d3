"""SES v2 (rest-json) on `/v2/...`: authenticate, read the body, route, dispatch.

Authentication is v1's (`authentication.py`): service `ses`, the same keys, regions and
checks, the headers decided before the body is read, the body read up to `SES_V2_CAP`,
then the signature. The signature and the routing both use the raw, percent-encoded path
(`raw_path`), so `/v2/email/identities/user%2Btag%40example.com` is signed as sent and
routed with the label `user+tag@example.com`.

`wire/restjson` parses the request with botocore's `sesv2` model (unknown route: 404
UnknownOperationException; bad JSON or input: 400 BadRequestException); the handler
registered in `ses_v2.HANDLERS` runs; its output is serialized by the model. An operation
with no handler yet, or one the pinned model does not have (a drift route with
`modeled=False`), is answered BadRequestException "The operation X is not supported by
Postroom yet." (v1's `not_supported`, translated).

Every error is translated here, once: PostroomError -> `serialize_error` (JSON
`{"message"}`, `x-amzn-ErrorType`, v2's status); anything unexpected (logged by
`Exchange.respond`) -> 500 InternalServiceErrorException with no traceback to the client.
Every answer carries `x-amzn-RequestId`; one sent before the body was read carries
`Connection: close`.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

import postroom.interfaces.http.ses_v2_configuration_sets  # noqa: F401  registers its operations
import postroom.interfaces.http.ses_v2_identities  # noqa: F401  registers its operations
import postroom.interfaces.http.ses_v2_sending  # noqa: F401  registers its operations
import postroom.interfaces.http.ses_v2_templates  # noqa: F401  registers its operations
from postroom.errors import PostroomError
from postroom.interfaces.http import ses_v2_account  # noqa: F401  registers its operations
from postroom.interfaces.http.authentication import Answer, Authenticator, Exchange
from postroom.interfaces.http.request_body import SES_V2_CAP
from postroom.interfaces.http.ses_v1 import Context, not_supported
from postroom.interfaces.http.ses_v2 import HANDLERS
from postroom.services import Services
from postroom.wire.models import sesv2_model
from postroom.wire.restjson import RestResponse, parse_request, serialize_error, serialize_result


def _answer(response: RestResponse) -> Answer:
    return Answer(response.status, response.body, response.headers)


class SesV2Endpoint:
    def __init__(self, services: Services) -> None:
        self.services = services
        self.authenticator = Authenticator(services)
        self.model = sesv2_model()

    async def handle(self, request: Request) -> Response:
        exchange = Exchange(request)
        return await exchange.respond(self._handle(exchange), self._refusal)

    def _refusal(self, error: PostroomError, request_id: str) -> Answer:
        return _answer(serialize_error(error, self.model))

    async def _handle(self, exchange: Exchange) -> Answer:
        authenticated = await self.authenticator.authenticate(exchange, SES_V2_CAP)
        signed = authenticated.signed
        operation, params = parse_request(
            self.model, signed.method, signed.path, signed.query_string, signed.headers,
            signed.body,
        )  # fmt: skip
        handler = HANDLERS.get(operation)
        if handler is None:
            raise not_supported(operation)
        output = await handler(Context(self.services.core, authenticated.caller), params)
        return _answer(serialize_result(self.model, operation, output))
