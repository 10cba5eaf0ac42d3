"""Bring your own DKIM key (SES v2 BYODKIM): the owner's selector and RSA private key.

SES v2 `DkimSigningAttributes` (API reference, CreateEmailIdentity): DomainSigningSelector
is a DNS label of at most 63 characters, DomainSigningPrivateKey the base64 body of the
PEM (that is, base64 DER), an RSA key of 1024 to 2048 bits (RFC 8301 section 3.2 sets
1024 as the floor). The owner publishes `TXT <selector>._domainkey.<domain>` with the
public key; signing starts once DNS shows it, as for Easy DKIM keys.
"""

from __future__ import annotations

import base64
import binascii
import re

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from postroom.domain.dkim import DkimKey
from postroom.errors import InvalidParameterValue

MAX_SELECTOR = 63  # one DNS label (the sesv2 model's Selector allows 63)
MAX_KEY_CHARS = 20480  # the sesv2 model's PrivateKey length
_LABEL = re.compile(r"[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?")
_BASE64 = re.compile(r"[A-Za-z0-9+/]+={0,2}")
BAD_KEY = "The DKIM private key is not a valid base64-encoded RSA key of 1024 to 2048 bits."


def check_selector(selector: str) -> str:
    if len(selector) > MAX_SELECTOR or not _LABEL.fullmatch(selector):
        raise InvalidParameterValue(
            f"Invalid DKIM selector: a DNS label of at most {MAX_SELECTOR} characters."
        )
    return selector.lower()


def load_private_key(encoded: str) -> rsa.RSAPrivateKey:
    """The RSA key from its base64 DER (PKCS#1 or PKCS#8), or a base64 full PEM."""
    if len(encoded) > MAX_KEY_CHARS or not _BASE64.fullmatch(encoded):
        raise InvalidParameterValue(BAD_KEY)
    try:
        raw = base64.b64decode(encoded, validate=True)
        if raw.lstrip().startswith(b"-----BEGIN"):
            key = serialization.load_pem_private_key(raw, password=None)
        else:
            key = serialization.load_der_private_key(raw, password=None)
    except (ValueError, TypeError, binascii.Error) as exc:
        raise InvalidParameterValue(BAD_KEY) from exc
    if not isinstance(key, rsa.RSAPrivateKey) or not 1024 <= key.key_size <= 2048:
        raise InvalidParameterValue(BAD_KEY)
    return key


def external_key(selector: str, encoded_key: str, now: float) -> DkimKey:
    """The owner's key as a DkimKey under the owner's selector."""
    key = load_private_key(encoded_key)
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    spki = key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return DkimKey(check_selector(selector), pem, base64.b64encode(spki).decode("ascii"), now)


def key_length(key: DkimKey) -> str:
    """SES's DkimSigningKeyLength of a key: RSA_1024_BIT or RSA_2048_BIT."""
    public = serialization.load_der_public_key(base64.b64decode(key.public_key_b64))
    bits = public.key_size if isinstance(public, rsa.RSAPublicKey) else 2048
    return "RSA_1024_BIT" if bits <= 1024 else "RSA_2048_BIT"
