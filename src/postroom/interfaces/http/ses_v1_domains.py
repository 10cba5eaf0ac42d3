"""SES v1 operations on a domain's sending setup: DKIM and custom MAIL FROM (issue 3)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from postroom.domain import dkim_service, identity_service, mail_from_service
from postroom.domain import identities as rules
from postroom.errors import InvalidParameterValue
from postroom.interfaces.http.ses_v1 import (
    Context,
    Output,
    identity_name,
    identity_names,
    operation,
)
from postroom.store import dkim as dkim_store
from postroom.store import identities as identity_store
from postroom.store import mail_from as mail_from_store


# -- DKIM (issue 3) ------------------------------------------------------------------------
@operation("VerifyDomainDkim")
async def verify_domain_dkim(ctx: Context, params: Mapping[str, Any]) -> Output:
    domain = rules.normalize_domain(params["Domain"])
    services, caller = ctx.services, ctx.caller
    tokens = await dkim_service.enable(
        services.db, services.box, caller.account_id, caller.region, domain, ctx.now
    )
    return {"DkimTokens": tokens}


@operation("GetIdentityDkimAttributes")
async def get_identity_dkim_attributes(ctx: Context, params: Mapping[str, Any]) -> Output:
    lookup = identity_names(list(params["Identities"]))
    result = {name: await _dkim_attributes(ctx, identity) for identity, name in lookup.items()}
    return {"DkimAttributes": result}


async def _dkim_attributes(ctx: Context, identity: str) -> dict[str, Any]:
    if "@" in identity:
        return dkim_service.attributes(None, [])
    caller, now, db = ctx.caller, ctx.now, ctx.services.db
    where = (caller.account_id, caller.region, identity)
    found = await db.read(lambda conn: dkim_store.get_domain(conn, *where))
    if found is not None and found.status != "Success" and _due(found.last_checked_at, now):
        status = await dkim_service.check(db, ctx.services.lookup_txt, found, now)
        found = replace(found, status=status)
    keys = await db.read(lambda conn: dkim_store.keys_of(conn, *where))
    return dkim_service.attributes(found, [key.selector for key, _ in keys])


def _due(last_checked_at: float | None, now: float) -> bool:
    return last_checked_at is None or now - last_checked_at >= identity_service.RECHECK_SECONDS


@operation("SetIdentityDkimEnabled")
async def set_identity_dkim_enabled(ctx: Context, params: Mapping[str, Any]) -> Output:
    identity = identity_name(params["Identity"])
    domain = identity.rpartition("@")[2]
    caller, on = ctx.caller, bool(params.get("DkimEnabled", False))

    def switch(conn: Any) -> bool:
        if dkim_store.get_domain(conn, caller.account_id, caller.region, domain) is None:
            return False
        dkim_store.set_enabled(conn, caller.account_id, caller.region, domain, on)
        return True

    if not await ctx.services.db.write(switch):
        raise InvalidParameterValue(f"Domain {domain} has no DKIM tokens: call VerifyDomainDkim.")
    return {}


# -- custom MAIL FROM (issue 3) ------------------------------------------------------------
@operation("SetIdentityMailFromDomain")
async def set_identity_mail_from_domain(ctx: Context, params: Mapping[str, Any]) -> Output:
    identity = identity_name(params["Identity"])
    behavior = params.get("BehaviorOnMXFailure") or "UseDefaultValue"
    caller, now = ctx.caller, ctx.now
    domain = params.get("MailFromDomain")
    checked = mail_from_service.check_domain(identity, domain) if domain else None

    def save(conn: Any) -> bool:
        if identity_store.get(conn, caller.account_id, caller.region, identity) is None:
            return False
        if checked is None:
            mail_from_store.clear(conn, caller.account_id, caller.region, identity)
        else:
            mail_from_store.put(
                conn, caller.account_id, caller.region, identity, checked, behavior, now
            )
        return True

    if not await ctx.services.db.write(save):
        raise InvalidParameterValue(f"Identity {params['Identity']} does not exist.")
    return {}


@operation("GetIdentityMailFromDomainAttributes")
async def get_identity_mail_from_domain_attributes(
    ctx: Context, params: Mapping[str, Any]
) -> Output:
    lookup = identity_names(list(params["Identities"]))
    caller, now, services = ctx.caller, ctx.now, ctx.services
    known = {
        i.identity
        for i in await services.db.read(
            lambda conn: identity_store.get_many(conn, caller.account_id, caller.region, lookup)
        )
    }
    settings = await services.db.read(
        lambda conn: mail_from_store.for_identities(conn, caller.account_id, caller.region, known)
    )
    result: dict[str, Any] = {}
    for identity in known:
        found = settings.get(identity)
        if found is not None and found.status != "Success" and _due(found.last_checked_at, now):
            status = await mail_from_service.check(
                services.db, services.lookup_mx, found, services.settings.feedback_host, now
            )
            found = replace(found, status=status)
        result[lookup[identity]] = mail_from_service.attributes(found)
    return {"MailFromDomainAttributes": result}
