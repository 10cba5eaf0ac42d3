"""From Postroom's exception tree to SES v2's error codes and statuses: the one table
(ses-spec.md 2.5 for the modeled codes, section 3 for authentication).

The use cases raise the tree of `postroom.errors`, whose codes are SES v1's
(`InvalidParameterValue`, `TemplateDoesNotExist`, `Throttling`...). v2 clients know other
names: boto3 `sesv2` raises `client.exceptions.NotFoundException` only when the
`x-amzn-ErrorType` header says `NotFoundException` (botocore `RestJSONParser`), and JS v3
builds its error class from the same name. `v2_error` translates:

1. a code in `V1_TO_V2` -> that v2 code;
2. the status is the model's for its error shapes (sesv2 declares 13, with 400, 404, 409,
   429 and 500), else `UNMODELED_STATUSES` (authentication and common errors), else the
   error's own status;
3. any other code goes by its status: 403 keeps its code, 404 -> NotFoundException,
   409 -> ConflictException, 429 -> TooManyRequestsException, other 4xx ->
   BadRequestException, 503 -> ServiceUnavailable, other 5xx ->
   InternalServiceErrorException. The message is kept in every case.

Authentication errors take the names AWS's JSON services use (ses-spec.md 3, "v2 JSON
equivalents": UnrecognizedClientException, InvalidSignatureException,
MissingAuthenticationTokenException, AccessDeniedException), keeping the statuses.
"""

from __future__ import annotations

from typing import NamedTuple

from botocore.model import ServiceModel

from postroom.errors import PostroomError
from postroom.wire.restjson_plan import rest_plans

V1_TO_V2: dict[str, str] = {
    # invalid input
    "InvalidParameterValue": "BadRequestException",
    "MissingParameter": "BadRequestException",
    "ValidationError": "BadRequestException",
    "InvalidAction": "BadRequestException",  # "The operation X is not supported by Postroom yet."
    "MissingAction": "BadRequestException",
    "InvalidTemplate": "BadRequestException",
    "InvalidRenderingParameter": "BadRequestException",
    "MissingRenderingAttribute": "BadRequestException",
    "CannotDelete": "BadRequestException",
    "InvalidConfigurationSet": "BadRequestException",
    "InvalidPolicy": "BadRequestException",
    "InvalidDeliveryOptions": "BadRequestException",
    "InvalidTrackingOptions": "BadRequestException",
    "InvalidSNSDestination": "BadRequestException",
    "InvalidCloudWatchDestination": "BadRequestException",
    "InvalidFirehoseDestination": "BadRequestException",
    "CustomVerificationEmailInvalidContent": "BadRequestException",
    "FromEmailAddressNotVerified": "BadRequestException",
    "ProductionAccessNotGranted": "BadRequestException",
    # sending
    "MessageRejected": "MessageRejected",
    "MailFromDomainNotVerifiedException": "MailFromDomainNotVerifiedException",
    "AccountSendingPausedException": "SendingPausedException",
    "ConfigurationSetSendingPausedException": "SendingPausedException",
    "Throttling": "TooManyRequestsException",
    # existence
    "AlreadyExists": "AlreadyExistsException",
    "ConfigurationSetAlreadyExists": "AlreadyExistsException",
    "EventDestinationAlreadyExists": "AlreadyExistsException",
    "CustomVerificationEmailTemplateAlreadyExists": "AlreadyExistsException",
    "TrackingOptionsAlreadyExistsException": "AlreadyExistsException",
    "NotFound": "NotFoundException",
    "TemplateDoesNotExist": "NotFoundException",
    "ConfigurationSetDoesNotExist": "NotFoundException",
    "EventDestinationDoesNotExist": "NotFoundException",
    "CustomVerificationEmailTemplateDoesNotExist": "NotFoundException",
    "TrackingOptionsDoesNotExistException": "NotFoundException",
    "RuleDoesNotExist": "NotFoundException",
    "RuleSetDoesNotExist": "NotFoundException",
    "LimitExceeded": "LimitExceededException",
    # authentication and authorisation (ses-spec.md 3)
    "MissingAuthenticationToken": "MissingAuthenticationTokenException",
    "InvalidClientTokenId": "UnrecognizedClientException",
    "SignatureDoesNotMatch": "InvalidSignatureException",
    "IncompleteSignature": "IncompleteSignatureException",
    "AccessDenied": "AccessDeniedException",
    # the server itself
    "InternalFailure": "InternalServiceErrorException",
}

# Codes the sesv2 model does not declare, with their statuses.
UNMODELED_STATUSES: dict[str, int] = {
    "UnknownOperationException": 404,
    "MissingAuthenticationTokenException": 403,
    "UnrecognizedClientException": 403,
    "InvalidSignatureException": 403,
    "IncompleteSignatureException": 400,
    "AccessDeniedException": 403,
    "RequestExpired": 400,
    "ServiceUnavailable": 503,
}


_BY_STATUS = {404: "NotFoundException", 409: "ConflictException", 429: "TooManyRequestsException"}


class V2Error(NamedTuple):
    code: str
    status: int
    message: str


def v2_error(error: PostroomError, model: ServiceModel) -> V2Error:
    """The code, status and message a v2 client is answered with for `error`."""
    code = getattr(error, "v2_code", None) or V1_TO_V2.get(error.code, error.code)
    known = rest_plans(model).error_statuses
    status = known.get(code) or UNMODELED_STATUSES.get(code)
    if status is None:
        code, status = _fallback(code, error.status)
    return V2Error(code, status, error.message)


def _fallback(code: str, status: int) -> tuple[str, int]:
    if status == 403:
        return code, 403  # an authorisation refusal keeps its name
    if status in _BY_STATUS:
        return _BY_STATUS[status], status
    if status == 503:
        return "ServiceUnavailable", 503
    if status >= 500:
        return "InternalServiceErrorException", 500
    return "BadRequestException", 400
