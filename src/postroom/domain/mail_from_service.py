"""Custom MAIL FROM domains (SES DG mail-from.md): a subdomain of the identity whose MX
points at Postroom's feedback host; once seen in DNS, mail from the identity uses it as the
domain of its VERP envelope sender, so bounces and SPF align with the sender's domain."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from postroom.delivery.dns import DnsLookupError
from postroom.domain import identities as rules
from postroom.errors import ClientError, InvalidParameterValue
from postroom.store import mail_from as store
from postroom.store.database import Database

log = logging.getLogger(__name__)
MxLookup = Callable[[str], Awaitable[list[str]]]
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


def most_specific(
    settings: Mapping[str, store.MailFrom], candidates: list[str]
) -> store.MailFrom | None:
    """The setting of the most specific identity (address, then domain, then parents)."""
    for identity in candidates:
        if identity in settings:
            return settings[identity]
    return None


def not_verified(found: store.MailFrom) -> ClientError:
    return ClientError(
        f"The MAIL FROM domain {found.domain} of {found.identity} is not verified: its MX "
        "record was not found.",
        code="MailFromDomainNotVerifiedException",
    )


async def check(
    db: Database, lookup: MxLookup, found: store.MailFrom, expected_mx: str, now: float
) -> str:
    """Success when the MAIL FROM domain's MX names Postroom's feedback host."""
    try:
        hosts = await lookup(found.domain)
        if expected_mx.lower().rstrip(".") in hosts:
            status = "Success"
        elif now - found.created_at > PENDING_SECONDS:
            status = "Failed"
        else:
            status = "Pending"
    except DnsLookupError as exc:
        log.info("MX lookup for %s failed: %s", found.domain, exc)
        status = "TemporaryFailure"
    await db.write(lambda conn: store.set_status(conn, found, status, now))
    return status


def attributes(found: store.MailFrom | None) -> dict[str, Any]:
    if found is None:  # no custom MAIL FROM: SES reports only the behaviour
        return {"BehaviorOnMXFailure": "UseDefaultValue"}
    return {
        "MailFromDomain": found.domain,
        "MailFromDomainStatus": found.status,
        "BehaviorOnMXFailure": found.behavior,
    }
