"""Easy DKIM as SES does it, as pure building blocks: keys, tokens, signing, DNS status.

SES's Easy DKIM (SES DG send-email-authentication-dkim-easy.md; ses-spec.md section 6)
hands the domain owner three tokens and signs every message from the domain. Each Postroom
token is a DKIM selector (RFC 6376 section 3.1) with its own 2048-bit RSA key pair, and
the owner publishes the public key as `TXT <token>._domainkey.<domain>` (RFC 6376 section
3.6.2.1), since the owner's DNS cannot CNAME to amazonses.com as SES's records do.

Signing uses dkimpy for canonicalization, hashing and the RSA signature. The signed header
fields are SES's (see `SES_SIGNED_HEADERS`); the tags come in SES's order, without `i=`.

Rotation without a gap (issue 3, item 5): a new key is announced first, and
`signing_key` moves signing to it only once its record has been seen in DNS.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import re
import secrets
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

import dkim
import dkim.crypto
import dns.name
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import Prehashed

from postroom.clock import SystemClock

# Header fields SES signs, read from the DKIM-Signature headers of messages SES sent (all
# c=relaxed/simple). [D] = signature for the sender's domain (s=<token>; d=<domain>),
# [S] = SES's own d=amazonses.com signature, which also covers Feedback-ID:
#   [D] From:To:Cc:Subject:MIME-Version:Content-Type:Content-Transfer-Encoding:Message-ID:
#       Date  (d=linaro.org to linux-kselftest@vger.kernel.org, 2021-11-12)
#   [D] Date:From:To:Reply-To:Subject:MIME-Version:Content-Type:Sender:Message-ID
#       (d=perprice.com, 2018-12-12, pastebin.com/TiTCatPQ)
#   [D] From:Reply-To:To:Message-ID:Subject:MIME-Version:Content-Type:Date
#       (d=amazon.com, 2016-03-16, pastebin.com/EfbfAZnJ)
#   [D] In-Reply-To:From:To:Cc:Subject:Message-ID:Content-Transfer-Encoding:Date:
#       MIME-Version:Content-Type  (d=c127.dev to linux-stm32, 2026-07-06)
#   [S] From:To:Subject:MIME-Version:Content-Type:Content-Transfer-Encoding:Message-ID:Date:
#       Feedback-ID  (SendEmail, us-west-2, 2020: github.com/qianweicheng/hello-world
#       protocol/email/security/demo.md)
#   [S] From:To:Message-ID:In-Reply-To:References:Subject:MIME-Version:Content-Type:
#       Content-Transfer-Encoding:Date:Feedback-ID  (to git@vger.kernel.org, 2016, 2017)
#   [S] Sender:Message-ID:Date:Subject:From:Reply-To:To:MIME-Version:Content-Type:
#       List-Unsubscribe:Feedback-ID  (eu-central-1, 2021-2022)
# That is: the fields of this set that the message has, each once, in the message's own
# order (no over-signing of absent fields, RFC 6376 section 5.4.2). Feedback-ID is left
# to a signature of Postroom's own, as SES does. List-Unsubscribe-Post is our addition:
# RFC 8058 section 4 requires it signed for one-click unsubscribe.
SES_SIGNED_HEADERS: tuple[str, ...] = (
    "From",
    "Sender",
    "Reply-To",
    "To",
    "Cc",
    "Subject",
    "Date",
    "Message-ID",
    "In-Reply-To",
    "References",
    "MIME-Version",
    "Content-Type",
    "Content-Transfer-Encoding",
    "List-Unsubscribe",
    "List-Unsubscribe-Post",
)

# RFC 6376 section 3.4: relaxed header and body canonicalization survive the re-folding
# and trailing-whitespace changes relays make (SES itself sends c=relaxed/simple).
CANONICALIZATION = b"relaxed/relaxed"
DEFAULT_KEY_BITS = 2048  # SES NextSigningKeyLength default RSA_2048_BIT
TOKEN_COUNT = 3  # VerifyDomainDkim returns three tokens (SES API reference)

_TOKEN = re.compile(r"[a-z0-9]{32}")
_WSP = re.compile(r"\s+")


@dataclass(frozen=True)
class DkimKey:
    """One Easy DKIM token: the selector and its RSA key pair."""

    selector: str  # the SES-style DKIM token: 32 chars [a-z0-9]
    private_key_pem: bytes  # PKCS#8 PEM
    public_key_b64: str  # base64 DER SubjectPublicKeyInfo, the p= tag (RFC 6376 3.6.1)
    created_at: float


# --- keys and tokens ------------------------------------------------------------------------


def new_token() -> str:
    """32 characters from base32 (a-z, 2-7) of 160 random bits: the shape of SES's tokens
    (for example `gdwg2y3kokkkj5a55z2ilkup5wp5hhxx`), and a valid DNS label."""
    return base64.b32encode(secrets.token_bytes(20)).decode("ascii").lower()


def is_token(text: str) -> bool:
    return bool(_TOKEN.fullmatch(text))


def new_key(now: float, bits: int = DEFAULT_KEY_BITS) -> DkimKey:
    """A fresh RSA key (e = 65537) under a new random selector. RFC 8301 section 3.2:
    signers MUST use at least 1024 bits and SHOULD use 2048."""
    if bits < 1024:
        raise ValueError("RFC 8301 3.2: DKIM RSA keys must have at least 1024 bits")
    private = rsa.generate_private_key(public_exponent=65537, key_size=bits)
    pem = private.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    spki = private.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return DkimKey(new_token(), pem, base64.b64encode(spki).decode("ascii"), now)


def new_tokens(now: float, count: int = TOKEN_COUNT) -> list[DkimKey]:
    """The keys behind the tokens VerifyDomainDkim / CreateEmailIdentity return."""
    return [new_key(now) for _ in range(count)]


def txt_record_value(key: DkimKey) -> str:
    """The key record (RFC 6376 section 3.6.1) to publish at `<selector>._domainkey.<d>`."""
    return f"v=DKIM1; k=rsa; p={key.public_key_b64}"


def ascii_domain(domain: str) -> str:
    """Lower-case A-label form (RFC 5890) without the final dot: the form the key
    record is looked up under, so d= carries it too."""
    name = domain.strip().rstrip(".")
    if not name.isascii():
        name = dns.name.from_unicode(name).to_text(omit_final_dot=True)
    return name.lower()


def record_name(selector: str, domain: str) -> str:
    """`<selector>._domainkey.<domain>` (RFC 6376 section 3.6.2.1), lower case, no dot."""
    return f"{selector.lower()}._domainkey.{ascii_domain(domain)}"


# --- signing --------------------------------------------------------------------------------


def header_names_to_sign(
    headers: Iterable[tuple[bytes, bytes]], wanted: Sequence[str] = SES_SIGNED_HEADERS
) -> list[bytes]:
    """Names for the h= tag: each field of `wanted` the message has, in message order and
    spelled as SES spells it, once per occurrence (RFC 6376 section 5.4.2)."""
    spelling = {name.lower().encode("ascii"): name.encode("ascii") for name in wanted}
    names = []
    for name, _value in headers:
        canonical = spelling.get(name.strip().lower())
        if canonical is not None:
            names.append(canonical)
    return names


def sign_message(
    message: bytes,
    *,
    domain: str,
    key: DkimKey,
    now: float | None = None,
    headers: Sequence[str] = SES_SIGNED_HEADERS,
) -> bytes:
    """`message` with a DKIM-Signature header (rsa-sha256, relaxed/relaxed) prepended.

    The message bytes are not touched otherwise, so CRLF, 8-bit bodies and raw UTF-8
    headers (RFC 6532) stay exactly as they are. `now` is the t= tag (the caller's
    clock). Raises ValueError when the message has no From (RFC 6376 section 5.4: From
    MUST be signed), and dkim.DKIMException on a malformed message or key.

    dkimpy parses the message, canonicalizes, selects and hashes the header fields and
    makes the RSA signature. The tag list is written here rather than by dkimpy's
    DKIM.sign, which reads the system clock for t=, adds i= and may fold a long d= in
    the middle of the name; relaxed header canonicalization (RFC 6376 section 3.4.2)
    makes the folding ours to choose.
    """
    when = SystemClock().now() if now is None else now
    signer = dkim.DKIM(message, linesep=b"\r\n")
    names = header_names_to_sign(signer.headers, headers)
    lowered = tuple(name.lower() for name in names)
    if b"from" not in lowered:
        raise ValueError("RFC 6376 5.4: a message without From cannot be DKIM-signed")
    policy = dkim.CanonicalizationPolicy.from_c_value(CANONICALIZATION)
    body_hash = hashlib.sha256(policy.canonicalize_body(signer.body)).digest()
    tags = [  # SES's tag order, see SES_SIGNED_HEADERS
        (b"v", b"1"),
        (b"a", b"rsa-sha256"),
        (b"q", b"dns/txt"),
        (b"c", CANONICALIZATION),
        (b"s", key.selector.encode("ascii")),
        (b"d", ascii_domain(domain).encode("ascii")),
        (b"t", str(int(when)).encode("ascii")),
        (b"h", b":".join(names)),
        (b"bh", base64.b64encode(body_hash)),
    ]
    # RFC 6376 section 3.7: the signature covers its own header with an empty b= value.
    unsigned = _fold_tags([*tags, (b"b", b"")])
    header_hash = hashlib.sha256()
    dkim.hash_headers(
        header_hash,
        policy,
        policy.canonicalize_headers(signer.headers),
        lowered,
        (_SIGNATURE_FIELD, unsigned[len(_SIGNATURE_FIELD) + 1 :].rstrip(b"\r\n")),
        {},
    )
    # The RSA step is cryptography's (OpenSSL): dkimpy's own pure-Python RSA takes ~5 ms a
    # signature, 20 times as long, which capped signed delivery near 100 messages/s.
    signature = _private_key(key.private_key_pem).sign(
        header_hash.digest(), padding.PKCS1v15(), Prehashed(hashes.SHA256())
    )
    return _fold_tags([*tags, (b"b", base64.b64encode(signature))]) + message


@functools.lru_cache(maxsize=256)
def _private_key(pem: bytes) -> rsa.RSAPrivateKey:
    """Parsed once per key (parsing a PEM costs more than a signature)."""
    loaded = serialization.load_pem_private_key(pem, password=None)
    if not isinstance(loaded, rsa.RSAPrivateKey):
        raise ValueError("DKIM keys are RSA keys")
    return loaded


_SIGNATURE_FIELD = b"DKIM-Signature"
_FOLD_WIDTH = 76  # RFC 5322 section 2.1.1: lines SHOULD stay within 78 characters
_OWN_LINE = frozenset({b"h", b"bh", b"b"})


def _fold_tags(tags: Sequence[tuple[bytes, bytes]]) -> bytes:
    """The whole `DKIM-Signature:` field, CRLF-terminated, folded where RFC 6376 section
    3.5 allows FWS: between tags, after a `:` in h=, and inside the base64 of b=; h=,
    bh= and b= each start a line, as in SES's signatures."""
    lines: list[bytes] = []
    line = _SIGNATURE_FIELD + b":"
    for index, (name, value) in enumerate(tags):
        atoms = _tag_atoms(name, value)
        if index < len(tags) - 1:
            atoms[-1] += b";"
        separator = b" "
        for position, atom in enumerate(atoms):
            own_line = position == 0 and name in _OWN_LINE
            if own_line or len(line) + len(separator) + len(atom) > _FOLD_WIDTH:
                lines.append(line)
                line = b" " + atom  # the continuation's leading space is the FWS
            else:
                line += separator + atom
            separator = b""
    lines.append(line)
    return b"\r\n".join(lines) + b"\r\n"


def _tag_atoms(name: bytes, value: bytes) -> list[bytes]:
    """A tag cut into the pieces that may be separated by a line break."""
    if name == b"h":
        names = value.split(b":")
        return [b"h=" + names[0] + b":" * (len(names) > 1)] + [
            part + b":" * (i < len(names) - 2) for i, part in enumerate(names[1:])
        ]
    if name == b"b" and value:
        return [b"b=" + value[:64]] + [value[i : i + 70] for i in range(64, len(value), 70)]
    return [name + b"=" + value]


# --- DNS status and rotation ----------------------------------------------------------------


def record_public_key(txt: str) -> str | None:
    """The p= value of a DKIM key record (RFC 6376 section 3.6.1), whitespace removed;
    None when the text is not a DKIM1 RSA key record."""
    tags: dict[str, str] = {}
    for part in txt.split(";"):
        name, sep, value = part.partition("=")
        if sep:
            tags.setdefault(name.strip(), _WSP.sub("", value))
    if tags.get("v", "DKIM1") != "DKIM1" or tags.get("k", "rsa") != "rsa":
        return None
    return tags.get("p") or None


def seen_selectors(
    published: Mapping[str, Sequence[str]],
    keys: Sequence[DkimKey],
    *,
    domain: str | None = None,
) -> set[str]:
    """Selectors whose key record in `published` carries the key's public key.

    `published` maps DNS names (any case, trailing dot or not) to the TXT records found
    there, each with its character-strings already joined (RFC 6376 section 3.6.2.2); a
    list of the strings of a single record is accepted too. Without `domain`, any name
    `<selector>._domainkey.*` counts.
    """
    found: set[str] = set()
    names = {name.lower().rstrip("."): texts for name, texts in published.items()}
    for key in keys:
        prefix = f"{key.selector}._domainkey.".lower()
        for name, texts in names.items():
            if domain is not None and name != record_name(key.selector, domain):
                continue
            if domain is None and not name.startswith(prefix):
                continue
            candidates = [*texts, "".join(texts)]
            if any(record_public_key(text) == key.public_key_b64 for text in candidates):
                found.add(key.selector)
    return found


def dkim_status(
    published: Mapping[str, Sequence[str]],
    keys: Sequence[DkimKey],
    *,
    domain: str | None = None,
) -> str:
    """SES DkimVerificationStatus from what DNS answered: `Success` when every token's
    record carries its public key, `Pending` otherwise, `NotStarted` without tokens.
    `Failed` (72 hours without success) and `TemporaryFailure` (DNS errors) are for the
    caller to decide, as they depend on time and on how the lookups failed."""
    if not keys:
        return "NotStarted"
    seen = seen_selectors(published, keys, domain=domain)
    return "Success" if all(key.selector in seen for key in keys) else "Pending"


def signing_key(keys: Sequence[DkimKey], seen_in_dns: set[str]) -> DkimKey | None:
    """The newest key whose selector has been seen in DNS, or None (do not sign).

    A new key is announced before it is used: until its record is seen, signing stays
    on the previous one, so receivers can always fetch the key (RFC 6376 section 3.6.2
    does not let a verifier succeed without it). Ties go to the later key in `keys`.
    """
    best: DkimKey | None = None
    for key in keys:
        if key.selector in seen_in_dns and (best is None or key.created_at >= best.created_at):
            best = key
    return best


__all__ = [
    "CANONICALIZATION",
    "SES_SIGNED_HEADERS",
    "DkimKey",
    "ascii_domain",
    "dkim_status",
    "header_names_to_sign",
    "is_token",
    "new_key",
    "new_token",
    "new_tokens",
    "record_name",
    "record_public_key",
    "seen_selectors",
    "sign_message",
    "signing_key",
    "txt_record_value",
]
