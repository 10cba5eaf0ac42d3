"""SES v1 operations (query protocol). Handlers take and return dicts of the model's shapes."""

from __future__ import annotations

import asyncio
import base64
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, replace
from typing import Any

from postroom.domain import dkim_service, identity_service, mail_from_service
from postroom.domain import identities as rules
from postroom.domain.sending import (
    Caller,
    Submission,
    admit,
    prepare_send_email,
    prepare_send_raw_email,
)
from postroom.errors import InvalidAction, InvalidParameterValue
from postroom.services import Services
from postroom.store import accounts as account_store
from postroom.store import dkim as dkim_store
from postroom.store import identities as identity_store
from postroom.store import mail_from as mail_from_store
from postroom.store import usage as usage_store
from postroom.wire import ids
from postroom.wire.addresses import parse_address

Output = dict[str, Any] | None


@dataclass(frozen=True)
class Context:
    services: Services
    caller: Caller
    wake_delivery: Callable[[], None]

    @property
    def now(self) -> float:
        return self.services.clock.now()


Handler = Callable[[Context, Mapping[str, Any]], Awaitable[Output]]
HANDLERS: dict[str, Handler] = {}


def operation(name: str) -> Callable[[Handler], Handler]:
    def register(handler: Handler) -> Handler:
        HANDLERS[name] = handler
        return handler

    return register


def not_supported(name: str) -> InvalidAction:
    return InvalidAction(f"The operation {name} is not supported by Postroom yet.")


# -- sending -----------------------------------------------------------------------------
async def _submit(ctx: Context, submission: Submission) -> Output:
    """Admit and durably queue (group commit), then let the worker know."""
    message_id = await ctx.services.db.write(lambda conn: admit(conn, submission))
    ctx.wake_delivery()
    return {"MessageId": message_id}


@operation("SendEmail")
async def send_email(ctx: Context, params: Mapping[str, Any]) -> Output:
    return await _submit(ctx, prepare_send_email(ctx.caller, params, ctx.now))


@operation("SendRawEmail")
async def send_raw_email(ctx: Context, params: Mapping[str, Any]) -> Output:
    return await _submit(ctx, prepare_send_raw_email(ctx.caller, params, ctx.now))


# -- identities --------------------------------------------------------------------------
def _email_identity(text: str) -> str:
    address = parse_address(text)
    if address.display_name or address.raw.strip() != address.addr_spec:
        raise InvalidParameterValue(f"Invalid email address<{text}>.")
    return rules.normalize_email(address.local, address.domain)


def _identity_name(text: str) -> str:
    return _email_identity(text) if "@" in text else rules.normalize_domain(text)


async def _verify_email(ctx: Context, address: str) -> None:
    identity = _email_identity(address)
    settings = ctx.services.settings
    now = ctx.now

    def submission_for(token: str) -> Submission:
        link = f"{settings.effective_public_url}/verify/{token}"
        return identity_service.verification_submission(
            ctx.caller, identity, settings.verification_sender, link, now
        )

    mailed = await ctx.services.db.write(
        lambda conn: identity_service.start_email_verification(
            conn, ctx.caller, identity, submission_for, now
        )
    )
    if mailed:
        ctx.wake_delivery()


@operation("VerifyEmailIdentity")
async def verify_email_identity(ctx: Context, params: Mapping[str, Any]) -> Output:
    await _verify_email(ctx, params["EmailAddress"])
    return {}


@operation("VerifyEmailAddress")
async def verify_email_address(ctx: Context, params: Mapping[str, Any]) -> Output:
    await _verify_email(ctx, params["EmailAddress"])
    return None


@operation("VerifyDomainIdentity")
async def verify_domain_identity(ctx: Context, params: Mapping[str, Any]) -> Output:
    domain = rules.normalize_domain(params["Domain"])
    caller, now = ctx.caller, ctx.now
    found = await ctx.services.db.write(
        lambda conn: identity_store.upsert_pending(
            conn,
            caller.account_id,
            caller.region,
            domain,
            rules.DOMAIN,
            ids.verification_token(),
            now,
        )
    )
    return {"VerificationToken": found.token}


def _page(items: list[str], params: Mapping[str, Any]) -> dict[str, Any]:
    start = 0
    if params.get("NextToken"):
        try:
            start = int(base64.b64decode(params["NextToken"]).decode())
        except (ValueError, UnicodeDecodeError) as exc:
            raise InvalidParameterValue("Invalid NextToken.") from exc
    size = int(params.get("MaxItems") or 1000)
    if not 1 <= size <= 1000:
        raise InvalidParameterValue("MaxItems must be between 1 and 1000.")
    result: dict[str, Any] = {"Identities": items[start : start + size]}
    if start + size < len(items):
        result["NextToken"] = base64.b64encode(str(start + size).encode()).decode()
    return result


@operation("ListIdentities")
async def list_identities(ctx: Context, params: Mapping[str, Any]) -> Output:
    kind = params.get("IdentityType")
    caller = ctx.caller
    found = await ctx.services.db.read(
        lambda conn: identity_store.list_for(conn, caller.account_id, caller.region, kind)
    )
    return _page([i.identity for i in found], params)


@operation("ListVerifiedEmailAddresses")
async def list_verified_email_addresses(ctx: Context, params: Mapping[str, Any]) -> Output:
    caller, now = ctx.caller, ctx.now
    found = await ctx.services.db.read(
        lambda conn: identity_store.list_for(conn, caller.account_id, caller.region, rules.EMAIL)
    )
    verified = [i.identity for i in found if rules.effective_status(i, now) == rules.SUCCESS]
    return {"VerifiedEmailAddresses": verified}


@operation("GetIdentityVerificationAttributes")
async def get_identity_verification_attributes(ctx: Context, params: Mapping[str, Any]) -> Output:
    names = list(params["Identities"])
    if len(names) > 100:
        raise InvalidParameterValue("Too many identities: at most 100 are allowed.")
    caller, now = ctx.caller, ctx.now
    lookup = {}
    for name in names:
        try:
            lookup[_identity_name(name)] = name
        except InvalidParameterValue:
            continue  # SES leaves identities it does not know out of the map
    found = await ctx.services.db.read(
        lambda conn: identity_store.get_many(conn, caller.account_id, caller.region, lookup)
    )
    due = [i for i in found if i.kind == rules.DOMAIN and identity_service.due_for_check(i, now)]
    statuses = await asyncio.gather(
        *(
            identity_service.check_domain(ctx.services.db, ctx.services.lookup_txt, i, now)
            for i in due
        )
    )
    checked = {i.identity: status for i, status in zip(due, statuses, strict=True)}
    attributes: dict[str, Any] = {}
    for identity in found:
        if identity.identity in checked:
            identity = replace(identity, status=checked[identity.identity])
        attributes[lookup[identity.identity]] = rules.verification_attributes(identity, now)
    return {"VerificationAttributes": attributes}


async def _delete_identity(ctx: Context, name: str) -> None:
    try:
        identity = _identity_name(name)
    except InvalidParameterValue:
        return  # deleting what does not exist succeeds, as in SES
    caller = ctx.caller
    await ctx.services.db.write(
        lambda conn: identity_store.remove(conn, caller.account_id, caller.region, identity)
    )


@operation("DeleteIdentity")
async def delete_identity(ctx: Context, params: Mapping[str, Any]) -> Output:
    await _delete_identity(ctx, params["Identity"])
    return {}


@operation("DeleteVerifiedEmailAddress")
async def delete_verified_email_address(ctx: Context, params: Mapping[str, Any]) -> Output:
    await _delete_identity(ctx, params["EmailAddress"])
    return None


# -- account -----------------------------------------------------------------------------
@operation("GetSendQuota")
async def get_send_quota(ctx: Context, params: Mapping[str, Any]) -> Output:
    account_id, now = ctx.caller.account_id, ctx.now

    def read(conn: Any) -> dict[str, float]:
        account = account_store.get_account(conn, account_id)
        sent = usage_store.sent_last_24h(conn, account_id, now)
        return {
            "Max24HourSend": account.max_24h,
            "MaxSendRate": account.max_rate,
            "SentLast24Hours": float(sent),
        }

    return await ctx.services.db.read(read)


@operation("GetSendStatistics")
async def get_send_statistics(ctx: Context, params: Mapping[str, Any]) -> Output:
    account_id, now = ctx.caller.account_id, ctx.now
    points = await ctx.services.db.read(
        lambda conn: usage_store.send_statistics(conn, account_id, now)
    )
    return {"SendDataPoints": points}


@operation("GetAccountSendingEnabled")
async def get_account_sending_enabled(ctx: Context, params: Mapping[str, Any]) -> Output:
    account_id = ctx.caller.account_id
    account = await ctx.services.db.read(lambda conn: account_store.get_account(conn, account_id))
    return {"Enabled": account.sending_enabled}


@operation("UpdateAccountSendingEnabled")
async def update_account_sending_enabled(ctx: Context, params: Mapping[str, Any]) -> Output:
    enabled = bool(params.get("Enabled", False))
    account_id = ctx.caller.account_id
    await ctx.services.db.write(
        lambda conn: account_store.set_sending_enabled(conn, account_id, enabled)
    )
    return None


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
    names = list(params["Identities"])
    if len(names) > 100:
        raise InvalidParameterValue("Too many identities: at most 100 are allowed.")
    result: dict[str, Any] = {}
    for name in names:
        try:
            identity = _identity_name(name)
        except InvalidParameterValue:
            continue  # SES leaves identities it does not know out of the map
        result[name] = await _dkim_attributes(ctx, identity)
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
    identity = _identity_name(params["Identity"])
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
    identity = _identity_name(params["Identity"])
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
    names = list(params["Identities"])
    if len(names) > 100:
        raise InvalidParameterValue("Too many identities: at most 100 are allowed.")
    lookup: dict[str, str] = {}
    for name in names:
        try:
            lookup[_identity_name(name)] = name
        except InvalidParameterValue:
            continue
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
