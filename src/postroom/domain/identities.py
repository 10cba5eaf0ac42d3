"""Identity rules: what covers an address, when verification expires, how status is reported.

A verified domain covers every address in it and in its subdomains (case-insensitively);
an address identity is compared as given, and `user+label@` is covered by `user@`
(ses-spec.md sections 4.2 and 6). Everything is per region.
"""

from __future__ import annotations

from dataclasses import dataclass

from postroom.errors import InvalidParameterValue
from postroom.wire.hostnames import check_domain

EMAIL = "EmailAddress"
DOMAIN = "Domain"

PENDING = "Pending"
SUCCESS = "Success"
FAILED = "Failed"
TEMPORARY_FAILURE = "TemporaryFailure"

EMAIL_LINK_SECONDS = 24 * 3600  # verification link validity
DOMAIN_PENDING_SECONDS = 72 * 3600  # a domain not found in DNS for 72 h is Failed


@dataclass(frozen=True)
class Identity:
    account_id: str
    region: str
    identity: str
    kind: str
    status: str
    token: str
    created_at: float
    verified_at: float | None
    last_checked_at: float | None
    feedback_forwarding: bool = True  # SES v2 FeedbackForwardingStatus
    configuration_set: str | None = None  # the default configuration set (issue 10)


@dataclass(frozen=True)
class MailFrom:
    """A custom MAIL FROM domain of an identity (SetIdentityMailFromDomain)."""

    account_id: str
    region: str
    identity: str
    domain: str
    behavior: str
    status: str
    created_at: float
    last_checked_at: float | None


@dataclass(frozen=True)
class DkimDomain:
    """A domain's DKIM state: the signing switch and the status seen in DNS."""

    account_id: str
    region: str
    domain: str
    enabled: bool
    status: str
    last_checked_at: float | None
    signing_origin: str = "AWS_SES"  # AWS_SES (Easy DKIM) | EXTERNAL (BYODKIM)


def kind_of(identity: str) -> str:
    return EMAIL if "@" in identity else DOMAIN


def normalize_domain(domain: str) -> str:
    """Lower-case, IDN to punycode; raise InvalidParameterValue when it isn't a domain:
    the host-name rules of addresses (`wire/hostnames.check_domain`: no literal, no IP),
    with at least two labels and at most 253 octets (RFC 1035 2.3.4, without the root)."""
    try:
        ascii_domain = check_domain(domain.strip().rstrip(".")).lower()
    except InvalidParameterValue as exc:
        raise InvalidParameterValue(f"Invalid domain name {domain}.") from exc
    if "." not in ascii_domain or len(ascii_domain) > 253:
        raise InvalidParameterValue(f"Invalid domain name {domain}.")
    return ascii_domain


def normalize_email(local: str, domain: str) -> str:
    return f"{local}@{domain.lower()}"


def base_local(local: str) -> str:
    return local.split("+", 1)[0] if "+" in local else local


def covering_identities(local: str, domain: str) -> list[str]:
    """Every identity string that, when verified, covers local@domain."""
    domain = domain.lower()
    found = [normalize_email(local, domain)]
    base = base_local(local)
    if base != local and base:
        found.append(normalize_email(base, domain))
    labels = domain.split(".")
    found.extend(".".join(labels[i:]) for i in range(len(labels) - 1))
    return found


def effective_status(identity: Identity, now: float) -> str:
    """Pending identities fail when their window closes (24 h for a link, 72 h for DNS)."""
    if identity.status != PENDING:
        return identity.status
    window = EMAIL_LINK_SECONDS if identity.kind == EMAIL else DOMAIN_PENDING_SECONDS
    return FAILED if now - identity.created_at > window else PENDING


def verification_attributes(identity: Identity, now: float) -> dict[str, str]:
    attributes = {"VerificationStatus": effective_status(identity, now)}
    if identity.kind == DOMAIN:
        attributes["VerificationToken"] = identity.token
    return attributes


def region_title(region: str) -> str:
    names = {
        "us-east-1": "US East (N. Virginia)",
        "us-east-2": "US East (Ohio)",
        "us-west-2": "US West (Oregon)",
        "eu-west-1": "Europe (Ireland)",
        "eu-central-1": "Europe (Frankfurt)",
        "ap-northeast-2": "Asia Pacific (Seoul)",
        "ap-northeast-1": "Asia Pacific (Tokyo)",
        "ap-southeast-2": "Asia Pacific (Sydney)",
    }
    return names.get(region, region)


def verification_mail(address: str, region: str, link: str) -> tuple[str, str]:
    """Subject and text of the verification email (SES DG, verify-addresses-and-domains)."""
    subject = (
        "Amazon Web Services \u2013 Email Address Verification Request in region "
        f"{region_title(region)}"
    )
    body = (
        "Dear Postroom Customer,\n\n"
        "We have received a request to authorize this email address for use with Postroom "
        f"(Amazon SES compatible) in region {region_title(region)}. If you requested this "
        "verification, please go to the following URL to confirm that you are authorized "
        f"to use this email address:\n\n{link}\n\n"
        "Your request will not be processed unless you confirm the address using this URL. "
        "This link expires 24 hours after your original verification request.\n\n"
        "If you did NOT request to verify this email address, do not click on the link. "
        f"The address that asked is {address}.\n"
    )
    return subject, body
