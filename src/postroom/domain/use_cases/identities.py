"""Identities: verifying an email address (the mailed link) and a domain (its TXT record),
listing, describing and deleting them."""

from __future__ import annotations

import asyncio
import base64
import logging
from collections.abc import Callable
from dataclasses import replace

from postroom.domain import identities as rules
from postroom.domain import rate_limits as limits
from postroom.domain.admission import Admission
from postroom.domain.callers import Caller, authorize
from postroom.domain.core import Core, Repositories
from postroom.domain.ports import IdentityRepository, Tx
from postroom.domain.requests import IdentityPage, ListIdentities, VerificationAttributes
from postroom.domain.sending import Submission, internal_mail
from postroom.errors import InvalidParameterValue, Throttling
from postroom.wire import ids
from postroom.wire.addresses import parse_address

log = logging.getLogger(__name__)
RECHECK_SECONDS = 2.0  # at most one DNS look per identity this often, on demand
MAX_ASKED = 100  # identities per Get*Attributes call


# -- names ------------------------------------------------------------------------------------
def email_identity(text: str) -> str:
    address = parse_address(text)
    if address.display_name or address.raw.strip() != address.addr_spec:
        raise InvalidParameterValue(f"Invalid email address<{text}>.")
    return rules.normalize_email(address.local, address.domain)


def identity_name(text: str) -> str:
    return email_identity(text) if "@" in text else rules.normalize_domain(text)


def identity_names(names: list[str]) -> dict[str, str]:
    """Normalized identity -> the name as asked, for the Get*Attributes calls (<= 100;
    names that are not identities are left out of the answer, as SES does)."""
    if len(names) > MAX_ASKED:
        raise InvalidParameterValue("Too many identities: at most 100 are allowed.")
    found: dict[str, str] = {}
    for name in names:
        try:
            found[identity_name(name)] = name
        except InvalidParameterValue:
            continue
    return found


# -- use cases --------------------------------------------------------------------------------
async def verify_email_identity(core: Core, caller: Caller, email_address: str) -> None:
    """Pending + the verification link mailed (an internal message, queued like any other)."""
    authorize(caller, "verify_email_identity")
    await start_email_identity(core, caller, email_identity(email_address))


async def start_email_identity(
    core: Core, caller: Caller, identity: str, before: Callable[[Tx], None] | None = None
) -> None:
    """The verification flow of an address; `before` runs first in the same transaction
    (v2's CreateEmailIdentity: AlreadyExists, tags)."""
    settings, now = core.settings, core.now()

    def submission_for(token: str) -> Submission:
        link = f"{settings.effective_public_url}/verify/{token}"
        return verification_submission(caller, identity, settings.verification_sender, link, now)

    def start(conn: Tx) -> bool:
        if before is not None:
            before(conn)
        return start_email_verification(
            core.repos, core.admission, conn, caller, identity, submission_for, now
        )

    if await core.uow.write(start):
        core.wake()


def verification_submission(
    caller: Caller, address: str, sender: str, link: str, now: float
) -> Submission:
    """The verification email, an internal message queued like any other."""
    subject, body = rules.verification_mail(address, caller.region, link)
    return internal_mail(caller, "VerifyEmailIdentity", sender, address, subject, body, now)


def start_email_verification(
    repos: Repositories, admission: Admission, conn: Tx, caller: Caller, identity: str,
    submission_for: Callable[[str], Submission], now: float,
) -> bool:  # fmt: skip
    """An identity already verified stays as it is. At most one request a second per
    account (Throttling) and one mail to an address every 5 minutes: a request inside that
    window mails nothing, and the pending link already sent stays."""
    if not repos.rate_limits.take(conn, limits.VERIFY_REQUESTS, (caller.account_id,), now):
        raise Throttling(limits.RATE_EXCEEDED)
    found = repos.identities.upsert_pending(
        conn, caller.account_id, caller.region, identity, rules.EMAIL, ids.url_token(), now
    )
    if found.status == rules.SUCCESS:
        return False
    recipient = (caller.account_id, identity.lower())
    if not repos.rate_limits.take(conn, limits.VERIFY_MAIL, recipient, now):
        return False
    admission.admit(conn, submission_for(found.token))
    return True


async def verify_domain(core: Core, caller: Caller, domain: str) -> str:
    """VerifyDomainIdentity: the TXT token to publish at `_amazonses.<domain>`."""
    authorize(caller, "verify_domain")
    name, now = rules.normalize_domain(domain), core.now()
    found = await core.uow.write(
        lambda conn: core.repos.identities.upsert_pending(
            conn,
            caller.account_id,
            caller.region,
            name,
            rules.DOMAIN,
            ids.verification_token(),
            now,
        )  # fmt: skip
    )
    return found.token


async def list_identities(core: Core, caller: Caller, request: ListIdentities) -> IdentityPage:
    authorize(caller, "list_identities")
    found = await core.uow.read(
        lambda conn: core.repos.identities.list_for(
            conn, caller.account_id, caller.region, request.identity_type
        )
    )
    return _page([i.identity for i in found], request)


def _page(items: list[str], request: ListIdentities) -> IdentityPage:
    start = 0
    if request.next_token:
        try:
            start = int(base64.b64decode(request.next_token).decode())
        except (ValueError, UnicodeDecodeError) as exc:
            raise InvalidParameterValue("Invalid NextToken.") from exc
    size = int(request.page_size or 1000)
    if not 1 <= size <= 1000:
        raise InvalidParameterValue("MaxItems must be between 1 and 1000.")
    following = None
    if start + size < len(items):
        following = base64.b64encode(str(start + size).encode()).decode()
    return IdentityPage(items[start : start + size], following)


async def list_verified_email_addresses(core: Core, caller: Caller) -> list[str]:
    authorize(caller, "list_identities")
    now = core.now()
    found = await core.uow.read(
        lambda conn: core.repos.identities.list_for(
            conn, caller.account_id, caller.region, rules.EMAIL
        )
    )
    return [i.identity for i in found if rules.effective_status(i, now) == rules.SUCCESS]


async def identity_verification_attributes(
    core: Core, caller: Caller, names: list[str]
) -> dict[str, VerificationAttributes]:
    """By the name as asked; pending domains are looked up in DNS first (at most every
    RECHECK_SECONDS each)."""
    authorize(caller, "get_identity_verification_attributes")
    lookup, now = identity_names(names), core.now()
    found = await core.uow.read(
        lambda conn: core.repos.identities.get_many(conn, caller.account_id, caller.region, lookup)
    )
    due = [i for i in found if i.kind == rules.DOMAIN and due_for_check(i, now)]
    statuses = await asyncio.gather(*(check_domain_identity(core, i, now) for i in due))
    checked = {i.identity: status for i, status in zip(due, statuses, strict=True)}
    result: dict[str, VerificationAttributes] = {}
    for identity in found:
        if identity.identity in checked:
            identity = replace(identity, status=checked[identity.identity])
        status = rules.effective_status(identity, now)
        token = identity.token if identity.kind == rules.DOMAIN else None
        result[lookup[identity.identity]] = VerificationAttributes(status, token)
    return result


async def delete_identity(core: Core, caller: Caller, name: str) -> None:
    """Deleting what does not exist succeeds, as in SES."""
    authorize(caller, "delete_identity")
    try:
        identity = identity_name(name)
    except InvalidParameterValue:
        return
    await core.uow.write(
        lambda conn: core.repos.identities.remove(conn, caller.account_id, caller.region, identity)
    )


async def confirm_verification_link(core: Core, token: str) -> rules.Identity | None:
    """Opening the link verifies the address while the link is valid (24 h). The token is
    the credential: no caller."""
    now = core.now()
    return await core.uow.write(lambda conn: confirm_link(core.repos.identities, conn, token, now))


def confirm_link(
    identities: IdentityRepository, conn: Tx, token: str, now: float
) -> rules.Identity | None:
    found = identities.by_token(conn, token)
    if found is None or found.kind != rules.EMAIL:
        return None
    status = rules.effective_status(found, now)
    if status == rules.PENDING:
        identities.set_status(conn, found, rules.SUCCESS, now, verified=True)
    elif status == rules.FAILED and found.status != rules.FAILED:
        identities.set_status(conn, found, rules.FAILED, now)
    return identities.by_token(conn, token)


async def check_domain_identity(core: Core, identity: rules.Identity, now: float) -> str:
    """Success when TXT _amazonses.<domain> holds the token; Failed after 72 h."""
    try:
        found = await core.dns.lookup_txt(f"_amazonses.{identity.identity}")
    except Exception as exc:  # resolver failure: try again later, keep Pending
        log.info("TXT lookup for %s failed: %s", identity.identity, exc)
        found = []
    if identity.token in (value.strip() for value in found):
        status, verified = rules.SUCCESS, True
    else:
        status, verified = rules.effective_status(identity, now), False
    await core.uow.write(
        lambda conn: core.repos.identities.set_status(
            conn, identity, status, now, verified=verified
        )
    )
    return status


def due_for_check(identity: rules.Identity, now: float) -> bool:
    return identity.status == rules.PENDING and (
        identity.last_checked_at is None or now - identity.last_checked_at >= RECHECK_SECONDS
    )
