"""One exception tree for Postroom; each error knows its AWS code, HTTP status and SMTP reply.

    PostroomError                      500 InternalFailure   (Receiver)
    +-- ServiceUnavailable             503 ServiceUnavailable
    +-- ClientError                    400                   (Sender)
        +-- AuthError                  403 (MissingAuthenticationToken, InvalidClientTokenId,
        |                                   SignatureDoesNotMatch, IncompleteSignature 400, ...)
        +-- AccessDenied               403 AccessDenied (e.g. lifting the operator's pause)
        +-- InvalidAction              400 InvalidAction / MissingAction / NotSupported ops
        +-- InvalidParameterValue      400 InvalidParameterValue
        +-- MissingParameter           400 MissingParameter
        +-- ValidationError            400 ValidationError
        +-- MessageRejected            400 MessageRejected
        +-- AccountSendingPaused       400 AccountSendingPausedException
        +-- Throttling                 400 Throttling
        +-- NotFound                   400/404 (e.g. identity or message unknown)
        +-- TemplateError              400 (carries `part`: subject, text or html)
            +-- InvalidTemplate            400 InvalidTemplate (not Handlebars, unknown partial)
            +-- RenderingFailure           400 (SES: a Rendering Failure event at send time)
                +-- MissingRenderingAttribute  400 MissingRenderingAttribute
                +-- InvalidRenderingParameter  400 InvalidRenderingParameter
        (InvalidTemplateData is an InvalidParameterValue: TemplateData not a JSON object)

Each boundary translates this tree once: the HTTP layer (`interfaces/http/errors.py`) into
`<ErrorResponse>` XML, the CLI into a message and exit code, SMTP into a reply.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class SmtpReply:
    """An SMTP reply as a value (RFC 5321 4.2, RFC 3463 enhanced codes)."""

    code: int
    enhanced: str
    text: str

    def __str__(self) -> str:
        return f"{self.code} {self.enhanced} {self.text}"


class PostroomError(Exception):
    """Base of every error Postroom raises on purpose."""

    code: str = "InternalFailure"
    status: int = 500
    default_message: str = "An internal error occurred."
    smtp_code: tuple[int, str] = (451, "4.3.0")

    def __init__(
        self, message: str | None = None, *, code: str | None = None, status: int | None = None
    ) -> None:
        self.message = message if message is not None else self.default_message
        if code is not None:
            self.code = code
        if status is not None:
            self.status = status
        super().__init__(self.message)

    @property
    def fault(self) -> str:
        """AWS error `Type`: Sender for 4xx, Receiver for 5xx."""
        return "Sender" if self.status < 500 else "Receiver"

    @property
    def smtp_reply(self) -> SmtpReply:
        return SmtpReply(self.smtp_code[0], self.smtp_code[1], self.message)


class ServiceUnavailable(PostroomError):
    code = "ServiceUnavailable"
    status = 503
    default_message = "Service is unavailable. Please try again."


class ClientError(PostroomError):
    code = "InvalidParameterValue"
    status = 400
    default_message = "The request is invalid."
    smtp_code = (554, "5.0.0")


class AuthError(ClientError):
    """SigV4 failures; `code` and `status` are set per case (ses-spec.md section 3)."""

    code = "SignatureDoesNotMatch"
    status = 403
    smtp_code = (535, "5.7.8")


class AccessDenied(ClientError):
    """An authenticated caller asked for what is not theirs to change."""

    code = "AccessDenied"
    status = 403
    smtp_code = (554, "5.7.1")


class InvalidAction(ClientError):
    code = "InvalidAction"
    default_message = (
        "The action or operation requested is invalid. Verify that the action is typed correctly."
    )


class InvalidParameterValue(ClientError):
    code = "InvalidParameterValue"


class MissingParameter(ClientError):
    code = "MissingParameter"


class ValidationError(ClientError):
    code = "ValidationError"


class MessageRejected(ClientError):
    code = "MessageRejected"
    smtp_code = (554, "5.7.1")


class AccountSendingPaused(ClientError):
    code = "AccountSendingPausedException"
    default_message = "Sending is paused for this account."
    smtp_code = (554, "5.7.1")


class AccountSuspended(AccountSendingPaused):
    """Sending paused by reputation (enforcement SHUTDOWN): v1 answers it as any pause,
    v2 as SES's AccountSuspendedException, bulk statuses as AccountSuspended."""

    v2_code = "AccountSuspendedException"
    default_message = (
        "Sending is paused for this account: it was suspended because of its bounce or "
        "complaint rate."
    )


class Throttling(ClientError):
    code = "Throttling"
    smtp_code = (454, "4.7.0")

    @property
    def smtp_reply(self) -> SmtpReply:
        return SmtpReply(454, "4.7.0", f"Throttling failure: {self.message}")


class Conflict(ClientError):
    """SES v2's ConflictException (409): what is asked for conflicts with a change under
    way (a production-access request already pending review)."""

    code = "ConflictException"
    status = 409


class NotFound(ClientError):
    code = "NotFound"
    status = 404


class InvalidTemplateData(InvalidParameterValue):
    """TemplateData is not a JSON object. Sends answer InvalidParameterValue (issue 9);
    TestRenderTemplate answers InvalidRenderingParameter: its caller passes `code=`."""


class TemplateError(ClientError):
    """A template problem; `part` names the template part (subject, text, html) if known."""

    def __init__(
        self,
        message: str | None = None,
        *,
        part: str | None = None,
        code: str | None = None,
        status: int | None = None,
    ) -> None:
        super().__init__(message, code=code, status=status)
        self.part = part


class InvalidTemplate(TemplateError):
    code = "InvalidTemplate"


class RenderingFailure(TemplateError):
    """The template could not be rendered with this data. At send time SES accepts the
    message and records a Rendering Failure instead of failing the call."""

    code = "InvalidRenderingParameter"


class MissingRenderingAttribute(RenderingFailure):
    code = "MissingRenderingAttribute"


class InvalidRenderingParameter(RenderingFailure):
    code = "InvalidRenderingParameter"
