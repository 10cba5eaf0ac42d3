"""`GET /verify/TOKEN`: the link in verification mail, as SES's own links work (GET verifies).

The pages are static text: a policy that allows no script, frame, form or fetch, no framing
(clickjacking), no caching (the URL is a secret) and no Referer leaking the token onwards.
A token that cannot be one we issued (`ids.url_token`: 43 URL-safe characters) is not
looked up at all.
"""

from __future__ import annotations

import html
import re
from collections.abc import Awaitable, Callable

from starlette.requests import Request
from starlette.responses import HTMLResponse, Response

from postroom.domain.core import Core
from postroom.domain.use_cases.identities import confirm_verification_link

SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'; "
        "base-uri 'none'; form-action 'none'"
    ),
    "X-Frame-Options": "DENY",
    "Cache-Control": "no-store",
    "Referrer-Policy": "no-referrer",
    "X-Content-Type-Options": "nosniff",
}
_TOKEN = re.compile(r"[A-Za-z0-9_-]{1,128}")


def _page(title: str, text: str, status: int = 200) -> HTMLResponse:
    title, text = html.escape(title), html.escape(text)
    body = (
        f"<!doctype html><html><head><meta charset='utf-8'><title>{title}</title></head>"
        f"<body><h1>{title}</h1><p>{text}</p></body></html>"
    )
    return HTMLResponse(body, status_code=status, headers=SECURITY_HEADERS)


def verify_endpoint(core: Core) -> Callable[[Request], Awaitable[Response]]:
    async def verify(request: Request) -> Response:
        token = request.path_params["token"]
        found = None
        if _TOKEN.fullmatch(token):
            found = await confirm_verification_link(core, token)
        if found is None:
            return _page("Verification failed", "This link is not valid.", 404)
        if found.status == "Success":
            return _page(
                "Email address verified",
                f"Congratulations! You have successfully verified an email address "
                f"({found.identity}). You can now start sending email from this address.",
            )
        return _page(
            "Verification failed", "This verification link has expired. Ask for a new one.", 410
        )

    return verify
