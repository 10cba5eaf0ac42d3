"""Identifiers in SES's formats: MessageIds, request ids, access keys (ses-spec.md 2.2)."""

from __future__ import annotations

import secrets
import string
import uuid

# Four-hex region codes seen in real MessageIds; other regions get a stable code of our own.
_REGION_CODES = {
    "us-east-1": "0100",
    "us-west-2": "0101",
    "eu-west-1": "0102",
    "ap-southeast-2": "0108",
}


def region_code(region: str) -> str:
    if region in _REGION_CODES:
        return _REGION_CODES[region]
    return f"{0x0110 + (sum(region.encode()) % 0xEF):04x}"


def message_id(region: str, epoch: float) -> str:
    """`<4-hex region><12-hex unix ms>-<uuid4>-000000`."""
    millis = int(epoch * 1000)
    return f"{region_code(region)}{millis:012x}-{uuid.uuid4()}-000000"


def request_id() -> str:
    return str(uuid.uuid4())


def mail_domain(region: str) -> str:
    """Domain of the Message-ID header SES writes: email.amazonses.com in us-east-1."""
    return "email.amazonses.com" if region == "us-east-1" else f"{region}.amazonses.com"


def access_key_id() -> str:
    alphabet = string.ascii_uppercase + "234567"
    return "AKIA" + "".join(secrets.choice(alphabet) for _ in range(16))


def secret_access_key() -> str:
    alphabet = string.ascii_letters + string.digits + "+/"
    return "".join(secrets.choice(alphabet) for _ in range(40))


def account_id() -> str:
    return f"{secrets.randbelow(9 * 10**11) + 10**11:012d}"


def verification_token() -> str:
    """44-character base64 token, like SES's VerificationToken."""
    import base64

    return base64.b64encode(secrets.token_bytes(33)).decode()


def url_token() -> str:
    return secrets.token_urlsafe(32)
