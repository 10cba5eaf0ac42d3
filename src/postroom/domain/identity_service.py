"""Identity verification flows: the email link and the domain's TXT record."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

from sqlalchemy.engine import Connection

from postroom.domain import identities as rules
from postroom.domain import rate_limits as limits
from postroom.domain.admission import admit
from postroom.domain.sending import Caller, Submission, internal_mail
from postroom.errors import Throttling
from postroom.store import identities as store
from postroom.store import rate_limits as rate_store
from postroom.store.database import Database
from postroom.wire import ids

log = logging.getLogger(__name__)
TxtLookup = Callable[[str], Awaitable[list[str]]]
RECHECK_SECONDS = 2.0  # at most one DNS look per identity this often, on demand


def verification_submission(
    caller: Caller, address: str, sender: str, link: str, now: float
) -> Submission:
    """The verification email, an internal message queued like any other."""
    subject, body = rules.verification_mail(address, caller.region, link)
    return internal_mail(caller, "VerifyEmailIdentity", sender, address, subject, body, now)


def start_email_verification(
    conn: Connection,
    caller: Caller,
    identity: str,
    submission_for: Callable[[str], Submission],
    now: float,
) -> bool:
    """Pending + the link mailed; an identity already verified stays as it is. At most one
    request a second per account (Throttling) and one mail to an address every 5 minutes:
    a request inside that window mails nothing, and the pending link already sent stays."""
    if not rate_store.take(conn, limits.VERIFY_REQUESTS, (caller.account_id,), now):
        raise Throttling(limits.RATE_EXCEEDED)
    token = ids.url_token()
    found = store.upsert_pending(
        conn, caller.account_id, caller.region, identity, rules.EMAIL, token, now
    )
    if found.status == rules.SUCCESS:
        return False
    recipient = (caller.account_id, identity.lower())
    if not rate_store.take(conn, limits.VERIFY_MAIL, recipient, now):
        return False
    admit(conn, submission_for(found.token))
    return True


def confirm_link(conn: Connection, token: str, now: float) -> rules.Identity | None:
    """Opening the link verifies the address while the link is valid (24 h)."""
    found = store.by_token(conn, token)
    if found is None or found.kind != rules.EMAIL:
        return None
    status = rules.effective_status(found, now)
    if status == rules.PENDING:
        store.set_status(conn, found, rules.SUCCESS, now, verified=True)
    elif status == rules.FAILED and found.status != rules.FAILED:
        store.set_status(conn, found, rules.FAILED, now)
    return store.by_token(conn, token)


async def check_domain(
    db: Database, lookup: TxtLookup, identity: rules.Identity, now: float
) -> str:
    """Success when TXT _amazonses.<domain> holds the token; Failed after 72 h."""
    try:
        found = await lookup(f"_amazonses.{identity.identity}")
    except Exception as exc:  # resolver failure: try again later, keep Pending
        log.info("TXT lookup for %s failed: %s", identity.identity, exc)
        found = []
    if identity.token in (value.strip() for value in found):
        status, verified = rules.SUCCESS, True
    else:
        status, verified = rules.effective_status(identity, now), False
    await db.write(lambda conn: store.set_status(conn, identity, status, now, verified=verified))
    return status


def due_for_check(identity: rules.Identity, now: float) -> bool:
    return identity.status == rules.PENDING and (
        identity.last_checked_at is None or now - identity.last_checked_at >= RECHECK_SECONDS
    )
