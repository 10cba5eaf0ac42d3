"""The DNS records a domain owner publishes for a Postroom domain identity, as zone-file
lines (RFC 1035 section 5.1), for `postroom identities dns-records DOMAIN` (issue 3).

Groups, each preceded by a `;` comment:

* domain verification: `TXT _amazonses.<domain>` with the token (SES DG
  creating-identities.md, ses-spec.md section 6, VerifyDomainIdentity);
* Easy DKIM: one `TXT <token>._domainkey.<domain>` key record per token (RFC 6376
  section 3.6.2.1). SES asks for CNAMEs to amazonses.com; Postroom holds the keys itself,
  so the owner publishes the public keys;
* custom MAIL FROM: exactly one `MX 10 <mx>` and an SPF `TXT` on the MAIL FROM domain
  (SES DG mail-from.md, ses-spec.md section 6: `v=spf1 include:amazonses.com ~all`);
* a suggested DMARC policy `TXT _dmarc.<domain>` (RFC 7489 section 6.1), `p=none` so that
  publishing it changes nothing until the owner decides.

TXT data longer than 255 octets is split into several character-strings on one line
(RFC 1035 section 3.3.14; RFC 6376 section 3.6.2.2 has verifiers join them again).
"""

from __future__ import annotations

from collections.abc import Sequence

import dns.name

from postroom.domain.dkim import DkimKey, txt_record_value

DEFAULT_TTL = 1800  # 30 minutes: a mistake in a record is corrected quickly
MAIL_FROM_MX_PREFERENCE = 10  # SES's "MX 10 feedback-smtp.<region>.amazonses.com"
_MAX_STRING = 255  # RFC 1035 section 3.3: <character-string> is at most 255 octets


def zone_records(
    domain: str,
    *,
    verification_token: str | None,
    dkim_keys: Sequence[DkimKey],
    mail_from_domain: str | None,
    mail_from_mx: str,
    spf_include: str,
    dmarc_rua: str | None = None,
    ttl: int = DEFAULT_TTL,
) -> list[str]:
    """Every record the owner of `domain` publishes, as zone-file lines with absolute
    names. Groups whose input is missing (no token, no DKIM keys, no MAIL FROM domain)
    are left out; the DMARC suggestion is always there."""
    lines: list[str] = []
    if verification_token is not None:
        lines += [
            "; Domain verification (SES VerifyDomainIdentity)",
            _txt(f"_amazonses.{domain}", ttl, verification_token),
        ]
    if dkim_keys:
        lines.append("; Easy DKIM: one public key per token (RFC 6376 3.6.2.1)")
        lines += [
            _txt(f"{key.selector}._domainkey.{domain}", ttl, txt_record_value(key))
            for key in dkim_keys
        ]
    if mail_from_domain is not None:
        lines += [
            f"; Custom MAIL FROM {mail_from_domain}: bounces come back here; SPF (RFC 7208)",
            f"{fqdn(mail_from_domain)} {ttl} IN MX {MAIL_FROM_MX_PREFERENCE} {fqdn(mail_from_mx)}",
            _txt(mail_from_domain, ttl, f"v=spf1 include:{spf_include} ~all"),
        ]
    lines += [
        "; Suggested DMARC policy (RFC 7489): monitor only; tighten p= when reports are clean",
        _txt(f"_dmarc.{domain}", ttl, dmarc_value(dmarc_rua)),
    ]
    return lines


def dmarc_value(rua: str | None) -> str:
    """`v=DMARC1; p=none` plus aggregate reports to `rua` (RFC 7489 section 6.3)."""
    if rua is None:
        return "v=DMARC1; p=none"
    uri = rua if rua.lower().startswith("mailto:") else f"mailto:{rua}"
    return f"v=DMARC1; p=none; rua={uri}"


def fqdn(name: str) -> str:
    """Absolute name in zone-file text: A-labels for IDNs, special characters escaped."""
    return dns.name.from_unicode(name.strip().rstrip(".") + ".").to_text()


def txt_strings(data: str) -> list[str]:
    """`data` as quoted zone-file character-strings of at most 255 octets each.

    Bytes are split, not characters, so the limit holds for UTF-8 too; `"` and `\\` are
    escaped and bytes outside printable ASCII written as `\\DDD` (RFC 1035 section 5.1).
    """
    raw = data.encode("utf-8")
    chunks = [raw[i : i + _MAX_STRING] for i in range(0, len(raw), _MAX_STRING)] or [b""]
    return [f'"{_escape(chunk)}"' for chunk in chunks]


def _escape(chunk: bytes) -> str:
    out = []
    for byte in chunk:
        if byte in b'"\\':
            out.append("\\" + chr(byte))
        elif 0x20 <= byte < 0x7F:
            out.append(chr(byte))
        else:
            out.append(f"\\{byte:03d}")
    return "".join(out)


def _txt(name: str, ttl: int, data: str) -> str:
    return f"{fqdn(name)} {ttl} IN TXT {' '.join(txt_strings(data))}"


__all__ = ["DEFAULT_TTL", "dmarc_value", "fqdn", "txt_strings", "zone_records"]
