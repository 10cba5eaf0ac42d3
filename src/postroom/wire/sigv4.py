"""AWS Signature Version 4 verification for incoming requests (ses-spec.md section 3).

Pure protocol code: a `SignedRequest` value in, a `ParsedAuth` value or an `AuthError` out.
The caller's flow, all but the last step from the headers alone (before any of the body is
read): `collect_headers(raw)` -> `parse_auth(req)` -> `check_host(req.headers, allowed)` ->
look up the access key (unknown -> raise `unknown_key_error()`) -> `check_time(auth, now)`
-> read the body -> `check_signature(req, auth, secret)` (the payload hash needs the body).
`verify_signature` is the last two checks at once, for callers that hold the whole request.

`parse_auth` rejects malformed or mis-scoped credentials, unsafe regions and any security
token (Postroom issues no temporary credentials) before any key lookup.
Secrets never appear in messages: AWS echoes only the Authorization header, the access key
id and dates, and so do we.
"""

from __future__ import annotations

import base64
import calendar
import hashlib
import hmac
import re
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from email.utils import parsedate_tz
from functools import lru_cache

from postroom.errors import AuthError
from postroom.wire.sigv4_canonical import canonical_query, canonical_uri, query_pairs

ALGORITHM = "AWS4-HMAC-SHA256"
TERMINATOR = "aws4_request"
SERVICES = ("ses", "email")  # signingName "ses"; "email" = endpointPrefix (hand-rolled clients)
MAX_SKEW = 300  # seconds, section 3: "skew ±5 min"
MAX_EXPIRES = 604800  # one week, the SigV4 presigned-URL ceiling

MISSING_TOKEN = "Request is missing Authentication Token"
BAD_SIGNATURE = (
    "The request signature we calculated does not match the signature you provided. "
    "Check your AWS Secret Access Key and signing method. "
    "Consult the service documentation for details."
)
UNKNOWN_KEY = "The security token included in the request is invalid."
BAD_REGION = "Credential should be scoped to a valid region."
SECURITY_TOKEN = "X-Amz-Security-Token"

# Headers botocore never signs (botocore.auth.SIGNED_HEADERS_BLACKLIST) plus the one it strips.
_UNSIGNABLE = frozenset(
    {
        "authorization", "connection", "expect", "keep-alive", "proxy-authenticate",
        "proxy-authorization", "te", "trailer", "transfer-encoding", "upgrade", "user-agent",
        "x-amzn-trace-id",
    }
)  # fmt: skip
_AMZ_DATE = re.compile(r"\d{8}T\d{6}Z")
# Region names as AWS writes them (us-east-1, eu-central-2, local): lower-case letters,
# digits and hyphens, at most 32 characters (the width the schema stores).
_REGION = re.compile(r"[a-z0-9-]{1,32}")
_QUERY_AUTH = ("X-Amz-Algorithm", "X-Amz-Credential", "X-Amz-Signature", "X-Amz-SignedHeaders")


@dataclass(frozen=True)
class SignedRequest:
    """An HTTP request as received. Decode non-ASCII path/header bytes as UTF-8 with
    `errors="surrogateescape"` so the canonical request hashes the bytes the client signed."""

    method: str
    path: str  # raw path as received, still percent-encoded
    query_string: str  # raw query string as received, no leading '?'
    headers: Mapping[str, str]  # lower-case names; repeated headers joined with ',' (see
    # collect_headers)
    body: bytes


@dataclass(frozen=True)
class ParsedAuth:
    access_key_id: str
    date: str  # YYYYMMDD from the credential scope
    region: str
    service: str
    signed_headers: tuple[str, ...]
    signature: str
    amz_date: str  # YYYYMMDDTHHMMSSZ
    presigned: bool
    expires: int | None


def _incomplete(message: str) -> AuthError:
    return AuthError(message, code="IncompleteSignature", status=400)


def _mismatch(message: str = BAD_SIGNATURE) -> AuthError:
    return AuthError(message, code="SignatureDoesNotMatch", status=403)


def unknown_key_error() -> AuthError:
    """The caller raises this when the access key id is not ours (section 3 table)."""
    return AuthError(UNKNOWN_KEY, code="InvalidClientTokenId", status=403)


def invalid_token_error() -> AuthError:
    """A security token: Postroom issues no temporary credentials, so none is valid."""
    return AuthError(UNKNOWN_KEY, code="InvalidClientTokenId", status=403)


# --------------------------------------------------------------------------- parsing


def collect_headers(raw: Iterable[tuple[bytes, bytes]]) -> dict[str, str]:
    """ASGI header pairs -> lower-case names, repeated ones joined with ',' (RFC 9110 5.3).

    A repeated Authorization header cannot be joined that way (its value holds commas): it
    is refused with IncompleteSignature rather than letting one of the two win.
    """
    headers: dict[str, str] = {}
    for raw_name, raw_value in raw:
        name, value = raw_name.decode("latin-1").lower(), raw_value.decode("latin-1")
        if name in headers:
            if name == "authorization":
                raise _incomplete("The request must contain exactly one Authorization header.")
            value = f"{headers[name]},{value}"
        headers[name] = value
    return headers


def parse_auth(req: SignedRequest) -> ParsedAuth:
    """Read the Authorization header, or else the X-Amz-* query parameters (presigned)."""
    params = (
        dict(query_pairs(req.query_string))
        if "X-Amz-" in req.query_string or "x-amz-" in req.query_string
        else {}
    )
    if "x-amz-security-token" in req.headers or SECURITY_TOKEN in params:
        raise invalid_token_error()
    header = req.headers.get("authorization", "").strip()
    if header:
        return _parse_header_auth(req, header)
    if any(name in params for name in _QUERY_AUTH):
        return _parse_query_auth(params)
    raise AuthError(MISSING_TOKEN, code="MissingAuthenticationToken", status=403)


def check_host(headers: Mapping[str, str], allowed_hosts: tuple[str, ...]) -> None:
    """With `allowed_hosts` set, the (signed) Host must name one of them.

    The host part is compared, case-insensitively, without the port: a port mapping or a
    proxy changes the port a client dials, not the name it signs. Refused with
    SignatureDoesNotMatch (403): the signature is valid only for another endpoint, which is
    how a request captured at (or meant for) another server looks, and SDKs treat it as the
    authentication failure it is rather than as a malformed request to retry or report.
    """
    if not allowed_hosts:
        return
    host = headers.get("host", "").strip()
    if host.startswith("["):  # [IPv6]:port
        name = host[: host.find("]") + 1]
    else:
        name = host.rpartition(":")[0] if ":" in host else host
    if name.lower().rstrip(".") not in allowed_hosts:
        raise _mismatch(
            "The request was signed for a host this endpoint does not answer to. "
            "Sign it for the endpoint's host name."
        )


def _parse_header_auth(req: SignedRequest, header: str) -> ParsedAuth:
    # `AWS4-HMAC-SHA256 Credential=..., SignedHeaders=a;b, Signature=<hex>` (section 3).
    algorithm, _, rest = header.partition(" ")
    fields: dict[str, str] = {}
    for part in rest.split(","):
        part = part.strip()
        if not part:
            continue
        name, eq, value = part.partition("=")
        if not eq:
            # AWS hashes the header here rather than echo a possible bearer secret.
            digest = base64.b64encode(hashlib.sha256(_utf8(header)).digest()).decode()
            raise _incomplete(
                "Invalid key=value pair (missing equal-sign) in Authorization header "
                f"(hashed with SHA-256 and encoded with Base64): '{digest}'."
            )
        fields[name.strip()] = value.strip()
    amz_date = _header_date(req.headers)
    problems = [
        f"Authorization header requires '{name}' parameter."
        for name in ("Credential", "Signature", "SignedHeaders")
        if not fields.get(name)
    ]
    if amz_date is None:
        problems.append(
            "Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header."
        )
    if problems:
        raise _incomplete(" ".join(problems) + f" Authorization={header}")
    if algorithm != ALGORITHM:
        raise _incomplete(f"Unsupported AWS 'algorithm': '{algorithm}'.")
    assert amz_date is not None
    return _build(fields, amz_date, None)


def _header_date(headers: Mapping[str, str]) -> str | None:
    """X-Amz-Date, or else the HTTP Date header converted to the basic ISO-8601 form."""
    amz_date = headers.get("x-amz-date")
    if amz_date:
        return amz_date.strip()
    http_date = headers.get("date")
    parsed = parsedate_tz(http_date) if http_date else None
    if parsed is None:
        return None
    epoch = calendar.timegm(parsed[:6]) - (parsed[9] or 0)
    return _format_amz(epoch)


def _parse_query_auth(params: Mapping[str, str]) -> ParsedAuth:
    # Query form (section 3): X-Amz-Algorithm, -Credential, -Date, -SignedHeaders, -Signature,
    # optional -Expires and -Security-Token.
    missing = [name for name in (*_QUERY_AUTH, "X-Amz-Date") if not params.get(name)]
    if missing:
        raise _incomplete(
            " ".join(f"AWS query-string parameters must include '{name}'." for name in missing)
            + " Re-examine the query-string parameters."
        )
    if params["X-Amz-Algorithm"] != ALGORITHM:
        raise _incomplete(f"Unsupported AWS 'algorithm': '{params['X-Amz-Algorithm']}'.")
    fields = {
        name: params[f"X-Amz-{name}"] for name in ("Credential", "SignedHeaders", "Signature")
    }
    expires = _parse_expires(params.get("X-Amz-Expires"))
    return _build(fields, params["X-Amz-Date"], expires, presigned=True)


def _parse_expires(raw: str | None) -> int | None:
    if raw is None:
        return None
    try:
        expires = int(raw)
    except ValueError:
        raise _incomplete("X-Amz-Expires should be a number") from None
    if expires < 0:
        raise _incomplete("X-Amz-Expires must be non-negative")
    if expires > MAX_EXPIRES:
        raise _incomplete(
            f"X-Amz-Expires must be less than a week (in seconds) that is {MAX_EXPIRES}"
        )
    return expires


def _build(
    fields: Mapping[str, str],
    amz_date: str,
    expires: int | None,
    presigned: bool = False,
) -> ParsedAuth:
    """Validate the credential scope `<AKID>/<YYYYMMDD>/<region>/ses/aws4_request`.

    `fields` holds Credential, SignedHeaders and Signature from either form.
    """
    credential = fields["Credential"]
    parts = credential.split("/")
    if len(parts) != 5:
        raise _incomplete(
            "Credential must have exactly 5 slash-delimited elements, "
            f"e.g. keyid/date/region/service/term, got '{credential}'"
        )
    access_key_id, date, region, service, terminator = parts
    if not _AMZ_DATE.fullmatch(amz_date):
        raise _incomplete(
            f"Date must be in ISO-8601 'basic format'. Got '{amz_date}'. "
            "See http://en.wikipedia.org/wiki/ISO_8601"
        )
    if terminator != TERMINATOR:
        raise _incomplete(
            f"Credential should be scoped with a valid terminator: '{TERMINATOR}', "
            f"not '{terminator}'."
        )
    if not region:
        raise _mismatch("Credential should be scoped to a valid region, not ''. ")
    if not _REGION.fullmatch(region):  # a space, ';', non-ASCII or too long for the schema
        raise _mismatch(BAD_REGION)
    if service not in SERVICES:
        raise _mismatch("Credential should be scoped to correct service: 'ses'. ")
    if date != amz_date[:8]:
        raise _mismatch(
            "Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date "
            f"from HTTP: '{date}' != '{amz_date[:8]}', from '{amz_date}'."
        )
    names = tuple(name.strip().lower() for name in fields["SignedHeaders"].split(";"))
    if "host" not in names:
        raise _incomplete(
            "'Host' or ':authority' must be a 'SignedHeader' in the AWS Authorization."
        )
    signature = fields["Signature"]
    return ParsedAuth(
        access_key_id, date, region, service, names, signature, amz_date, presigned, expires
    )


# --------------------------------------------------------------------------- verifying


def verify_signature(
    req: SignedRequest, auth: ParsedAuth, secret_access_key: str, now: float
) -> None:
    """Check the time window, then the signature; `now` comes from the injected clock."""
    check_time(auth, now)
    check_signature(req, auth, secret_access_key)


def check_signature(req: SignedRequest, auth: ParsedAuth, secret_access_key: str) -> None:
    """Compare the signature with ours over the request, body included."""
    canonical = canonical_request(req, auth.signed_headers, presigned=auth.presigned)
    expected = _signature(secret_access_key, auth, canonical)
    given = auth.signature
    if not (given.isascii() and hmac.compare_digest(expected, given)):
        raise _mismatch()


def check_time(auth: ParsedAuth, now: float) -> None:
    """The signing time within 5 minutes of `now` (or a presigned URL not yet expired)."""
    signed_at = _parse_amz(auth.amz_date)
    if signed_at > now + MAX_SKEW:
        raise _mismatch(
            f"Signature not yet current: {auth.amz_date} is still later than "
            f"{_format_amz(now + MAX_SKEW)} ({_format_amz(now)} + 5 min.)"
        )
    if auth.expires is not None:
        # Presigned URL past X-Amz-Expires. S3 answers 403 AccessDenied "Request has expired",
        # but SES is a Query (coral) service: its Common Errors page documents RequestExpired
        # (400) for a request received after "the request expiration date (such as for
        # pre-signed URLs)", and coral services word it "Request has expired." (as EC2 does).
        if now > signed_at + auth.expires:
            raise AuthError("Request has expired.", code="RequestExpired", status=400)
        return
    if signed_at < now - MAX_SKEW:
        raise _mismatch(
            f"Signature expired: {auth.amz_date} is now earlier than "
            f"{_format_amz(now - MAX_SKEW)} ({_format_amz(now)} - 5 min.)"
        )


def _parse_amz(amz_date: str) -> int:
    # Slicing beats strptime by ~20x; the format was validated in parse_auth.
    d = amz_date
    return calendar.timegm(
        (int(d[0:4]), int(d[4:6]), int(d[6:8]), int(d[9:11]), int(d[11:13]), int(d[13:15]))
    )


def _format_amz(epoch: float) -> str:
    return time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(int(epoch)))


@lru_cache(maxsize=1024)
def _signing_key(secret: str, date: str, region: str, service: str) -> bytes:
    # kDate = HMAC("AWS4"+secret, date), kRegion, kService, kSigning (section 3).
    key = hmac.digest(_utf8("AWS4" + secret), _utf8(date), "sha256")
    for part in (region, service, TERMINATOR):
        key = hmac.digest(key, _utf8(part), "sha256")
    return key


def _signature(secret: str, auth: ParsedAuth, canonical: str) -> str:
    scope = f"{auth.date}/{auth.region}/{auth.service}/{TERMINATOR}"
    digest = hashlib.sha256(_utf8(canonical)).hexdigest()
    string_to_sign = f"{ALGORITHM}\n{auth.amz_date}\n{scope}\n{digest}"
    key = _signing_key(secret, auth.date, auth.region, auth.service)
    return hmac.new(key, _utf8(string_to_sign), hashlib.sha256).hexdigest()


def _utf8(text: str) -> bytes:
    # surrogateescape restores raw bytes the HTTP layer decoded with it (see SignedRequest).
    return text.encode("utf-8", "surrogateescape")


# --------------------------------------------------------------------------- canonical form


def canonical_request(
    req: SignedRequest, signed_headers: tuple[str, ...], *, presigned: bool = False
) -> str:
    """`METHOD\\nURI\\nQUERY\\nHEADERS\\n\\nSIGNEDHEADERS\\nPAYLOADHASH` (section 3)."""
    lines = []
    for name in signed_headers:
        value = req.headers.get(name)
        if value is None:  # signed but not sent: the client signed a different request
            raise _mismatch()
        lines.append(f"{name}:{' '.join(value.split())}\n")
    # The payload hash is always computed from the body received: a client's
    # x-amz-content-sha256 header must agree with it, or a captured request could be
    # replayed with another body (the header, not the body, would be what is signed).
    payload = hashlib.sha256(req.body).hexdigest()
    claimed = req.headers.get("x-amz-content-sha256")
    if claimed is not None and claimed.strip().lower() != payload:
        raise _mismatch()
    return (
        f"{req.method.upper()}\n{canonical_uri(req.path)}\n"
        f"{canonical_query(req.query_string, presigned=presigned)}\n"
        f"{''.join(lines)}\n{';'.join(signed_headers)}\n{payload}"
    )


# --------------------------------------------------------------------------- signing


def sign_request(
    req: SignedRequest,
    access_key_id: str,
    secret_access_key: str,
    region: str,
    amz_date: str,
    service: str = "ses",
) -> dict[str, str]:
    """Headers to add (`authorization`, `x-amz-date`) so `req` verifies; same as botocore.

    Signs every header botocore would (all but its blacklist), plus `host`, which must be
    present in `req.headers` because we have no URL to derive it from.
    """
    if "host" not in req.headers:
        raise ValueError("sign_request needs a 'host' header")
    headers = {k: v for k, v in req.headers.items() if k not in _UNSIGNABLE}
    headers["x-amz-date"] = amz_date
    names = tuple(sorted(headers))
    signing = SignedRequest(req.method, req.path, req.query_string, headers, req.body)
    auth = ParsedAuth(
        access_key_id, amz_date[:8], region, service, names, "", amz_date, False, None
    )
    signature = _signature(secret_access_key, auth, canonical_request(signing, names))
    credential = f"{access_key_id}/{amz_date[:8]}/{region}/{service}/{TERMINATOR}"
    return {
        "authorization": f"{ALGORITHM} Credential={credential}, "
        f"SignedHeaders={';'.join(names)}, Signature={signature}",
        "x-amz-date": amz_date,
    }
