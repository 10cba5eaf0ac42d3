"""A domain's sending setup: DKIM (tokens, status from DNS, rotation) and custom MAIL FROM.

SES's Easy DKIM returns three tokens; the owner publishes one record per token. Postroom's
tokens are selectors of its own key pairs, published as `TXT <token>._domainkey.<domain>`
(the owner's DNS cannot CNAME to amazonses.com). Once all three are seen the DKIM status
is Success and, as on SES, the domain identity counts as verified too.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import replace

from postroom.domain import dkim, dns_records, mail_from_rules
from postroom.domain import identities as rules
from postroom.domain.callers import Caller, authorize
from postroom.domain.core import Core
from postroom.domain.identities import DkimDomain, MailFrom
from postroom.domain.ports import DnsLookupError, Tx
from postroom.domain.requests import DkimAttributes, MailFromAttributes, SetMailFromDomain
from postroom.domain.use_cases.identities import (
    RECHECK_SECONDS,
    check_domain_identity,
    identity_name,
    identity_names,
)
from postroom.errors import InvalidParameterValue, NotFound
from postroom.wire import ids

log = logging.getLogger(__name__)


# -- DKIM -------------------------------------------------------------------------------------
async def verify_domain_dkim(core: Core, caller: Caller, domain: str) -> list[str]:
    """VerifyDomainDkim: the domain's tokens, made (three 2048-bit keys) on first call; the
    domain identity is created too when it does not exist yet."""
    authorize(caller, "verify_domain_dkim")
    name, now, repos = rules.normalize_domain(domain), core.now(), core.repos
    where = (caller.account_id, caller.region, name)
    existing = await core.uow.read(lambda conn: repos.dkim.keys_of(conn, *where))
    if existing:
        return [key.selector for key, _seen in existing]
    keys = await asyncio.to_thread(dkim.new_tokens, now)  # RSA generation: off the loop

    def save(conn: Tx) -> list[str]:
        if repos.dkim.get_domain(conn, *where) is None:
            repos.dkim.add_domain(conn, *where, keys, core.box, now)
        repos.identities.upsert_pending(conn, *where, rules.DOMAIN, ids.verification_token(), now)
        return [key.selector for key, _seen in repos.dkim.keys_of(conn, *where)]

    return await core.uow.write(save)


async def dkim_attributes(
    core: Core, caller: Caller, names: list[str]
) -> dict[str, DkimAttributes]:
    """By the name as asked; a pending domain is looked up in DNS first."""
    authorize(caller, "get_identity_dkim_attributes")
    lookup = identity_names(names)
    return {name: await _dkim_attributes(core, caller, i) for i, name in lookup.items()}


async def _dkim_attributes(core: Core, caller: Caller, identity: str) -> DkimAttributes:
    if "@" in identity:
        return DkimAttributes(False, "NotStarted")
    now, repos = core.now(), core.repos
    where = (caller.account_id, caller.region, identity)
    found = await core.uow.read(lambda conn: repos.dkim.get_domain(conn, *where))
    if found is None:
        return DkimAttributes(False, "NotStarted")
    if found.status != "Success" and due(found.last_checked_at, now):
        found = replace(found, status=await check_dkim(core, found, now))
    keys = await core.uow.read(lambda conn: repos.dkim.keys_of(conn, *where))
    return DkimAttributes(found.enabled, found.status, [key.selector for key, _ in keys])


def due(last_checked_at: float | None, now: float) -> bool:
    return last_checked_at is None or now - last_checked_at >= RECHECK_SECONDS


async def set_dkim_enabled(core: Core, caller: Caller, identity: str, enabled: bool) -> None:
    authorize(caller, "set_identity_dkim_enabled")
    domain = identity_name(identity).rpartition("@")[2]
    where = (caller.account_id, caller.region, domain)

    def switch(conn: Tx) -> bool:
        if core.repos.dkim.get_domain(conn, *where) is None:
            return False
        core.repos.dkim.set_enabled(conn, *where, enabled)
        return True

    if not await core.uow.write(switch):
        raise InvalidParameterValue(f"Domain {domain} has no DKIM tokens: call VerifyDomainDkim.")


async def check_dkim(core: Core, found: DkimDomain, now: float) -> str:
    """Look up every token's record; Success when all carry their keys."""
    repos = core.repos
    where = (found.account_id, found.region, found.domain)
    keys = [key for key, _seen in await core.uow.read(lambda c: repos.dkim.keys_of(c, *where))]
    names = [dkim.record_name(key.selector, found.domain) for key in keys]
    answers = await asyncio.gather(
        *(core.dns.lookup_txt(name) for name in names), return_exceptions=True
    )
    published = {
        name: answer
        for name, answer in zip(names, answers, strict=True)
        if isinstance(answer, list)
    }
    status = dkim.dkim_status(published, keys, domain=found.domain)
    seen = dkim.seen_selectors(published, keys, domain=found.domain)

    def save(conn: Tx) -> None:
        repos.dkim.record_check(conn, found, status, seen, now)
        identity = repos.identities.get(conn, *where)
        if status == "Success" and identity is not None and identity.status != rules.SUCCESS:
            repos.identities.set_status(conn, identity, rules.SUCCESS, now, verified=True)

    await core.uow.write(save)
    return status


async def rotate_dkim(core: Core, caller: Caller, account_name: str, domain: str) -> str:
    """Announce a new key: its record is published next to the old ones, and signing moves
    to it only once DNS shows it (`dkim.signing_key`), so there is never a gap."""
    authorize(caller, "rotate_dkim", operator_only=True)
    name, now, repos = rules.normalize_domain(domain), core.now(), core.repos

    def find(conn: Tx) -> DkimDomain | None:
        owner = repos.accounts.find_account(conn, account_name)
        return repos.dkim.get_domain(conn, owner.id, caller.region, name)

    found = await core.uow.read(find)
    if found is None:
        raise NotFound(f"{name} has no DKIM keys yet: call VerifyDomainDkim first")
    key = await asyncio.to_thread(dkim.new_key, now)

    def save(conn: Tx) -> None:
        repos.dkim.add_keys(conn, found.account_id, found.region, name, [key], core.box)
        repos.dkim.record_check(conn, found, "Pending", set(), now)

    await core.uow.write(save)
    return key.selector


async def dns_records_of(
    core: Core, caller: Caller, account_name: str, domain: str
) -> list[str] | None:
    """Every record the domain's owner must publish, as zone-file lines (None: not an
    identity of the account in the caller's region)."""
    authorize(caller, "dns_records", operator_only=True)
    name, repos, settings = domain.strip().rstrip(".").lower(), core.repos, core.settings

    def read(conn: Tx) -> list[str] | None:
        owner = repos.accounts.find_account(conn, account_name)
        where = (owner.id, caller.region, name)
        identity = repos.identities.get(conn, *where)
        keys = [k for k, _ in repos.dkim.keys_of(conn, *where)]
        if identity is None and not keys:
            return None
        custom = repos.mail_from.for_identities(conn, owner.id, caller.region, [name])
        return dns_records.zone_records(
            name,
            verification_token=identity.token if identity else None,
            dkim_keys=keys,
            mail_from_domain=custom[name].domain if name in custom else None,
            mail_from_mx=settings.feedback_host,
            spf_include=settings.feedback_host,
        )

    return await core.uow.read(read)


# -- custom MAIL FROM -------------------------------------------------------------------------
async def set_mail_from_domain(core: Core, caller: Caller, request: SetMailFromDomain) -> None:
    authorize(caller, "set_identity_mail_from_domain")
    identity = identity_name(request.identity)
    behavior, now, repos = request.behavior_on_mx_failure, core.now(), core.repos
    domain = request.mail_from_domain
    checked = mail_from_rules.check_domain(identity, domain) if domain else None
    where = (caller.account_id, caller.region, identity)

    def save(conn: Tx) -> bool:
        if repos.identities.get(conn, *where) is None:
            return False
        if checked is None:
            repos.mail_from.clear(conn, *where)
        else:
            repos.mail_from.put(conn, *where, checked, behavior, now)
        return True

    if not await core.uow.write(save):
        raise InvalidParameterValue(f"Identity {request.identity} does not exist.")


async def mail_from_attributes(
    core: Core, caller: Caller, names: list[str]
) -> dict[str, MailFromAttributes]:
    authorize(caller, "get_identity_mail_from_domain_attributes")
    lookup, now, repos = identity_names(names), core.now(), core.repos
    where = (caller.account_id, caller.region)
    found = await core.uow.read(lambda conn: repos.identities.get_many(conn, *where, lookup))
    known = {i.identity for i in found}
    settings = await core.uow.read(lambda conn: repos.mail_from.for_identities(conn, *where, known))
    return {lookup[i]: await _mail_from(core, settings.get(i), now) for i in known}


async def mail_from_state(core: Core, caller: Caller, identity: str) -> MailFromAttributes:
    """One identity's MAIL FROM attributes (for v2's GetEmailIdentity, authorized there)."""
    where, now = (caller.account_id, caller.region), core.now()
    found = await core.uow.read(
        lambda conn: core.repos.mail_from.for_identities(conn, *where, [identity])
    )
    return await _mail_from(core, found.get(identity), now)


async def _mail_from(core: Core, setting: MailFrom | None, now: float) -> MailFromAttributes:
    """The attributes, the MX looked up first when the setting is pending and due."""
    if setting is not None and setting.status != "Success" and due(setting.last_checked_at, now):
        setting = replace(setting, status=await check_mail_from(core, setting, now))
    return mail_from_rules.attributes(setting)


async def check_mail_from(core: Core, found: MailFrom, now: float) -> str:
    """Success when the MAIL FROM domain's MX names Postroom's feedback host."""
    try:
        hosts = await core.dns.lookup_mx(found.domain)
        status = mail_from_rules.status_from_mx(found, hosts, core.settings.feedback_host, now)
    except DnsLookupError as exc:
        log.info("MX lookup for %s failed: %s", found.domain, exc)
        status = "TemporaryFailure"
    await core.uow.write(lambda conn: core.repos.mail_from.set_status(conn, found, status, now))
    return status


async def check_pending_domains(core: Core) -> None:
    """Look for the verification, DKIM and MAIL FROM records of every pending domain
    (periodic, run by the worker role)."""
    repos = core.repos
    for identity in await core.uow.read(repos.identities.pending_domains):
        await check_domain_identity(core, identity, core.now())
    for found in await core.uow.read(repos.dkim.pending_domains):
        await check_dkim(core, found, core.now())
    for setting in await core.uow.read(repos.mail_from.pending):
        await check_mail_from(core, setting, core.now())
