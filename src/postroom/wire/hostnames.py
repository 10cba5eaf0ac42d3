"""The domain of a mail address: a host name, checked once for the API and for delivery.

`check_domain` is the domain half of `addresses.parse_address` (the one address validator)
and what the delivery router asks before it looks a recipient domain up. It keeps SES's
(JavaMail's `InternetAddress.checkAddress`) error texts, and is stricter in the ways that
matter to an MTA that delivers to whatever the domain names:

* Domain literals (`[127.0.0.1]`, `[IPv6:::1]`, RFC 5321 4.1.3) are refused with
  `Domain contains illegal character`: mail to them would connect straight to an address
  of the caller's choosing, the server's own network included. Amazon SES accepts no
  literal either; it sends only to domains (with MX or address records).
* The ASCII (Punycode, RFC 3492) form must be a host name (RFC 1123 2.1, RFC 1035 2.3.1):
  letters, digits and hyphens, no label starting or ending with a hyphen, and a top label
  that is not all digits (so `a@127.0.0.1` is no way around the first rule, RFC 3696 2).
* Lengths (RFC 5321 4.5.3.1.2, RFC 1035 2.3.4): at most 255 octets, labels at most 63;
  longer gives `Illegal address`, as an over-long address does.
"""

from __future__ import annotations

import functools
import re

from postroom.errors import InvalidParameterValue

MAX_DOMAIN = 255  # RFC 5321 4.5.3.1.2
MAX_LABEL = 63  # RFC 1035 2.3.4
_LABEL = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?")

ILLEGAL_CHARACTER = "Domain contains illegal character"
TOO_LONG = "Illegal address"


@functools.lru_cache(maxsize=4096)  # the same domains come back on every request
def check_domain(domain: str, *, allow_unicode: bool = True) -> str:
    """The ASCII form of an address's domain (case as given); `InvalidParameterValue`
    with SES's texts when it is not a host name (see the module docstring)."""
    _check_characters(domain)
    ascii_domain = _ascii_domain(domain, allow_unicode)
    labels = ascii_domain.split(".")
    if len(ascii_domain) > MAX_DOMAIN or any(len(label) > MAX_LABEL for label in labels):
        raise InvalidParameterValue(TOO_LONG)
    if not all(_LABEL.fullmatch(label) for label in labels) or labels[-1].isdigit():
        raise InvalidParameterValue(ILLEGAL_CHARACTER)
    return ascii_domain


def _check_characters(domain: str) -> None:
    """JavaMail's domain checks, in its order and with its texts; '[' is illegal anywhere
    (JavaMail would read a literal)."""
    if not domain:
        raise InvalidParameterValue("Missing domain")
    if domain[0] == ".":
        raise InvalidParameterValue("Domain starts with dot")
    last = ""
    for c in domain:
        if ord(c) <= 0x20 or c == "\x7f":
            raise InvalidParameterValue("Domain contains control or whitespace")
        # RFC 1034 section 3.5 letters, digits, hyphen (JavaMail: isLetterOrDigit).
        if not (c.isalnum() or c in "-."):
            raise InvalidParameterValue(ILLEGAL_CHARACTER)
        if c == "." and last == ".":
            raise InvalidParameterValue("Domain contains dot-dot")
        last = c
    if last == ".":
        raise InvalidParameterValue("Domain ends with dot")


def _ascii_domain(domain: str, allow_unicode: bool) -> str:
    """IDN -> Punycode (RFC 3490 ToASCII via the stdlib codec); ASCII labels keep their case."""
    if domain.isascii():
        return domain
    if not allow_unicode:
        raise InvalidParameterValue(ILLEGAL_CHARACTER)
    try:
        return domain.encode("idna").decode("ascii")
    except UnicodeError:
        raise InvalidParameterValue(ILLEGAL_CHARACTER) from None
