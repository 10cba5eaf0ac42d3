"""Request bodies, read after authentication and never beyond the API's cap.

SES caps the message, not the HTTP body: 10 MB in v1 (after base64; SendRawEmail's
RawMessage.Data, or the MIME message SendEmail builds), 40 MB in v2 and SMTP. The body
carries that message in a form (v1) or JSON (v2) encoding, which can grow it up to three
times: every byte of non-ASCII text, and every '+', '/' and '=' of base64, is percent-encoded
as `%XX` (JSON's `\\uXXXX` escapes, at most 12 characters for a 4-byte character, stay
within three times too). So a body of `3 * limit` plus room for the other parameters
accepts every request SES accepts, and any body beyond it carries more than `limit` bytes of
decoded content, which is what SES's own refusal says.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import NoReturn

from starlette.requests import ClientDisconnect, Request

from postroom.errors import ClientError
from postroom.wire.mime import MAX_MESSAGE_SIZE, check_message_size

_OTHER_PARAMETERS = 1024 * 1024  # 50 recipients, tags, reply-to, ... percent-encoded


@dataclass(frozen=True)
class BodyCap:
    """The most an API reads of a body, from its message limit."""

    message_limit: int

    @property
    def body_bytes(self) -> int:
        return 3 * self.message_limit + _OTHER_PARAMETERS

    def refuse(self, received: int) -> NoReturn:
        """SES's code and text, with the limit and what the client sent (or announced)."""
        check_message_size(received, self.message_limit)  # raises: received > body_bytes
        raise AssertionError(f"{received} is within {self.message_limit}")


SES_V1_CAP = BodyCap(MAX_MESSAGE_SIZE)  # 10485760: 31 MiB of body
SES_V2_CAP = BodyCap(40 * 1024 * 1024)  # SES v2: 121 MiB of body


def announces_body(request: Request) -> bool:
    """True when body bytes may follow the headers (so an early answer must close)."""
    headers = request.headers
    return "transfer-encoding" in headers or headers.get("content-length", "0") != "0"


async def read_body(request: Request, cap: BodyCap) -> bytes:
    """The whole body, or an SES error as soon as it is known to be over `cap`.

    With a Content-Length within the cap the body is read at once, as before; without one
    (chunked) it is gathered while streaming and refused the moment it passes the cap.
    """
    limit = cap.body_bytes
    declared = request.headers.get("content-length")
    try:
        if declared is not None and declared.isdigit():
            if int(declared) > limit:
                cap.refuse(int(declared))
            return await request.body()
        body = bytearray()
        async for chunk in request.stream():
            body += chunk
            if len(body) > limit:
                cap.refuse(len(body))
        return bytes(body)
    except ClientDisconnect:
        raise ClientError("The request body was not received in full.") from None
