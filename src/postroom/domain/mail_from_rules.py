"""Custom MAIL FROM domains (SES DG mail-from.md): a subdomain of the identity whose MX
points at Postroom's feedback host; once seen in DNS, mail from the identity uses it as the
domain of its VERP envelope sender, so bounces and SPF align with the sender's domain.
The rules, pure; the use cases are in `use_cases/domains.py`."""

from __future__ import annotations

from collections.abc import Mapping

from postroom.domain import identities as rules
from postroom.domain.identities import MailFrom
from postroom.domain.requests import MailFromAttributes
from postroom.errors import ClientError, InvalidParameterValue

BEHAVIORS = ("UseDefaultValue", "RejectMessage")
PENDING_SECONDS = 72 * 3600  # as for domain verification


def check_domain(identity: str, mail_from_domain: str) -> str:
    """The MAIL FROM domain must be a subdomain of the identity's domain (SES rule)."""
    domain = rules.normalize_domain(mail_from_domain)
    parent = identity.rpartition("@")[2].lower()
    if not domain.endswith("." + parent):
        raise InvalidParameterValue(
            f"Custom MAIL FROM domain {mail_from_domain} must be a subdomain of {parent}."
        )
    return domain


def most_specific(settings: Mapping[str, MailFrom], candidates: list[str]) -> MailFrom | None:
    """The setting of the most specific identity (address, then domain, then parents)."""
    for identity in candidates:
        if identity in settings:
            return settings[identity]
    return None


def not_verified(found: MailFrom) -> ClientError:
    return ClientError(
        f"The MAIL FROM domain {found.domain} of {found.identity} is not verified: its MX "
        "record was not found.",
        code="MailFromDomainNotVerifiedException",
    )


def status_from_mx(found: MailFrom, hosts: list[str], expected_mx: str, now: float) -> str:
    """Success when the MAIL FROM domain's MX names Postroom's feedback host."""
    if expected_mx.lower().rstrip(".") in hosts:
        return "Success"
    if now - found.created_at > PENDING_SECONDS:
        return "Failed"
    return "Pending"


def attributes(found: MailFrom | None) -> MailFromAttributes:
    if found is None:  # no custom MAIL FROM: SES reports only the behaviour
        return MailFromAttributes("UseDefaultValue")
    return MailFromAttributes(found.behavior, found.domain, found.status)
