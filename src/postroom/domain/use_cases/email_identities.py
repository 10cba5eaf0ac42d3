"""SES v2 email identities (CreateEmailIdentity, GetEmailIdentity, DeleteEmailIdentity,
ListEmailIdentities, PutEmailIdentity{DkimSigning,Feedback,MailFrom}Attributes): one state
with v1's identities (`identities.py`) and domains' DKIM and MAIL FROM (`domains.py`).

An address starts v1's verification flow (the mailed link, its rate limits); a domain is a
Pending identity with Easy DKIM keys, or with the owner's key (BYODKIM, `dkim_external`),
and is verified once its DKIM records are found (v1's `_amazonses` TXT record works too).
Unlike v1, creating what exists is AlreadyExists and a missing identity is NotFound
(ses-spec.md 6; SES answers "Email identity <name> already exist." / "does not exist.").
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace

from postroom.domain import dkim, dkim_external
from postroom.domain import identities as rules
from postroom.domain.callers import Caller, authorize
from postroom.domain.core import Core
from postroom.domain.identities import DkimDomain, Identity
from postroom.domain.ports import Tx
from postroom.domain.requests import IdentityPage, ListIdentities, MailFromAttributes
from postroom.domain.use_cases import domains, tags
from postroom.domain.use_cases.identities import (
    _page,
    check_domain_identity,
    due_for_check,
    identity_name,
    start_email_identity,
)
from postroom.errors import ClientError, InvalidParameterValue, NotFound
from postroom.wire import ids

EXTERNAL, AWS_SES = "EXTERNAL", "AWS_SES"


@dataclass(frozen=True)
class SigningKey:
    """BYODKIM: DkimSigningAttributes' selector and base64 private key."""

    selector: str
    private_key: str


@dataclass(frozen=True)
class CreateEmailIdentity:
    identity: str
    tags: Sequence[tuple[str, str]] = ()
    signing_key: SigningKey | None = None


@dataclass(frozen=True)
class IdentityDkim:
    signing_enabled: bool
    status: str  # v1 spelling: NotStarted | Pending | Success | Failed | TemporaryFailure
    tokens: list[str] | None
    origin: str  # AWS_SES | EXTERNAL
    key_length: str | None = None
    generated_at: float | None = None


@dataclass(frozen=True)
class EmailIdentity:
    name: str
    kind: str  # EmailAddress | Domain
    status: str  # v1 spelling, as effective now
    verified_for_sending: bool
    feedback_forwarding: bool
    dkim: IdentityDkim
    mail_from: MailFromAttributes
    tags: list[tuple[str, str]]
    last_checked_at: float | None = None
    verified_at: float | None = None
    configuration_set: str | None = None  # the default configuration set (issue 10)


def _not_found(name: str) -> NotFound:
    shown = "".join(c if c.isprintable() else "?" for c in name[:320])
    return NotFound(f"Email identity {shown} does not exist.")


def _name(text: str) -> str:
    try:
        return identity_name(text)
    except InvalidParameterValue as exc:
        raise _not_found(text) from exc


def _arn(caller: Caller, identity: str) -> str:
    return tags.resource_arn(caller, "identity", identity)


# -- create -----------------------------------------------------------------------------------
async def create_email_identity(
    core: Core, caller: Caller, request: CreateEmailIdentity
) -> EmailIdentity:
    authorize(caller, "create_email_identity")
    name = identity_name(request.identity)
    wanted = tags.check_tags(request.tags)
    if "@" in name and request.signing_key is not None:
        raise InvalidParameterValue("DkimSigningAttributes apply to domain identities only.")

    def claim(conn: Tx) -> None:
        if core.repos.identities.get(conn, caller.account_id, caller.region, name) is not None:
            raise ClientError(f"Email identity {name} already exist.", code="AlreadyExists")
        core.repos.tags.remove_all(conn, caller.account_id, _arn(caller, name))
        tags.add_tags(core, conn, caller.account_id, _arn(caller, name), wanted)

    if "@" in name:
        await start_email_identity(core, caller, name, claim)
    else:
        await _create_domain(core, caller, name, request.signing_key, claim)
    return await _details(core, caller, name, check=False)


async def _create_domain(
    core: Core, caller: Caller, name: str, key: SigningKey | None, claim: Callable[[Tx], None]
) -> None:
    now, repos = core.now(), core.repos
    where = (caller.account_id, caller.region, name)
    if key is not None:
        keys, origin = [dkim_external.external_key(key.selector, key.private_key, now)], EXTERNAL
    else:
        keys, origin = await asyncio.to_thread(dkim.new_tokens, now), AWS_SES

    def save(conn: Tx) -> None:
        claim(conn)
        repos.identities.upsert_pending(conn, *where, rules.DOMAIN, ids.verification_token(), now)
        found = repos.dkim.get_domain(conn, *where)
        if found is None or origin == EXTERNAL or found.signing_origin == EXTERNAL:
            repos.dkim.replace_keys(conn, *where, keys, core.box, origin, now)

    await core.uow.write(save)


# -- read -------------------------------------------------------------------------------------
async def get_email_identity(core: Core, caller: Caller, name: str) -> EmailIdentity:
    """A pending domain's DKIM and TXT records are looked up first (at most every
    RECHECK_SECONDS), as v1's Get*Attributes do."""
    authorize(caller, "get_email_identity")
    return await _details(core, caller, _name(name), check=True, asked=name)


async def _details(
    core: Core, caller: Caller, name: str, *, check: bool, asked: str | None = None
) -> EmailIdentity:
    repos, now = core.repos, core.now()
    where = (caller.account_id, caller.region, name)
    found = await core.uow.read(lambda conn: repos.identities.get(conn, *where))
    if found is None:
        raise _not_found(asked or name)
    dkim_state = await _dkim(core, found, check=check)
    found = await core.uow.read(lambda conn: repos.identities.get(conn, *where)) or found
    if check and found.kind == rules.DOMAIN and due_for_check(found, now):
        found = replace(found, status=await check_domain_identity(core, found, now))
    status = rules.effective_status(found, now)
    mail_from = await domains.mail_from_state(core, caller, name) if check else None

    def read_rest(conn: Tx) -> tuple[bool, list[tuple[str, str]]]:
        local, _, domain = name.rpartition("@")
        covering = rules.covering_identities(local, domain) if local else [name]
        verified = bool(repos.identities.verified_among(conn, *where[:2], covering))
        found_tags = repos.tags.tags_of(conn, caller.account_id, _arn(caller, name))
        return verified, list(found_tags.items())

    verified, tag_list = await core.uow.read(read_rest)
    return EmailIdentity(
        name, found.kind, status, verified, found.feedback_forwarding, dkim_state,
        mail_from or MailFromAttributes("UseDefaultValue"), tag_list,
        found.last_checked_at, found.verified_at, found.configuration_set,
    )  # fmt: skip


async def _dkim(core: Core, identity: Identity, *, check: bool) -> IdentityDkim:
    if identity.kind != rules.DOMAIN:
        return IdentityDkim(False, "NotStarted", None, AWS_SES)
    where = (identity.account_id, identity.region, identity.identity)
    repos, now = core.repos, core.now()
    found: DkimDomain | None = await core.uow.read(lambda c: repos.dkim.get_domain(c, *where))
    if found is None:
        return IdentityDkim(False, "NotStarted", None, AWS_SES)
    if check and found.status != "Success" and domains.due(found.last_checked_at, now):
        found = replace(found, status=await domains.check_dkim(core, found, now))
    keys = [key for key, _ in await core.uow.read(lambda c: repos.dkim.keys_of(c, *where))]
    newest = keys[-1] if keys else None
    return IdentityDkim(
        found.enabled, found.status, [key.selector for key in keys], found.signing_origin,
        dkim_external.key_length(newest) if newest else None,
        newest.created_at if newest else None,
    )  # fmt: skip


async def list_email_identities(
    core: Core, caller: Caller, request: ListIdentities
) -> tuple[list[Identity], str | None]:
    """A page of identities (v1's paging: NextToken is an offset), each as effective now."""
    authorize(caller, "list_email_identities")
    now = core.now()
    found = await core.uow.read(
        lambda conn: core.repos.identities.list_for(conn, caller.account_id, caller.region)
    )
    page: IdentityPage = _page([i.identity for i in found], request)
    shown = set(page.identities)
    listed = [
        replace(i, status=rules.effective_status(i, now)) for i in found if i.identity in shown
    ]
    return listed, page.next_token


# -- change -----------------------------------------------------------------------------------
async def delete_email_identity(core: Core, caller: Caller, name: str) -> None:
    authorize(caller, "delete_email_identity")
    identity = _name(name)
    where = (caller.account_id, caller.region, identity)

    def remove(conn: Tx) -> None:
        if core.repos.identities.get(conn, *where) is None:
            raise _not_found(name)
        core.repos.identities.remove(conn, *where)
        core.repos.tags.remove_all(conn, caller.account_id, _arn(caller, identity))

    await core.uow.write(remove)


async def put_feedback_attributes(core: Core, caller: Caller, name: str, enabled: bool) -> None:
    authorize(caller, "put_email_identity_feedback_attributes")
    where = (caller.account_id, caller.region, _name(name))

    def save(conn: Tx) -> None:
        if core.repos.identities.get(conn, *where) is None:
            raise _not_found(name)
        core.repos.identities.set_feedback_forwarding(conn, *where, enabled)

    await core.uow.write(save)


async def require_identity(core: Core, caller: Caller, name: str) -> str:
    """The identity's name when it exists, else NotFound (v2's answer)."""
    where = (caller.account_id, caller.region, _name(name))
    if await core.uow.read(lambda conn: core.repos.identities.get(conn, *where)) is None:
        raise _not_found(name)
    return where[2]


async def put_dkim_signing_attributes(
    core: Core, caller: Caller, name: str, origin: str, key: SigningKey | None
) -> IdentityDkim:
    """Switch a domain between Easy DKIM (new tokens unless it has them) and BYODKIM."""
    authorize(caller, "put_email_identity_dkim_signing_attributes")
    domain = await require_identity(core, caller, name)
    if "@" in domain:
        raise InvalidParameterValue("DKIM signing attributes apply to domain identities only.")
    now, where = core.now(), (caller.account_id, caller.region, domain)
    if origin == EXTERNAL:
        if key is None:
            raise InvalidParameterValue("SigningAttributes are required for EXTERNAL signing.")
        keys = [dkim_external.external_key(key.selector, key.private_key, now)]
    else:
        origin, keys = AWS_SES, await asyncio.to_thread(dkim.new_tokens, now)

    def save(conn: Tx) -> None:
        found = core.repos.dkim.get_domain(conn, *where)
        if origin == EXTERNAL or found is None or found.signing_origin == EXTERNAL:
            core.repos.dkim.replace_keys(conn, *where, keys, core.box, origin, now)

    await core.uow.write(save)
    found = await core.uow.read(lambda conn: core.repos.identities.get(conn, *where))
    assert found is not None
    return await _dkim(core, found, check=False)
