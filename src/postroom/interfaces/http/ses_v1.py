"""SES v1 operations (query protocol). Handlers take and return dicts of the model's shapes."""

from __future__ import annotations

import asyncio
import base64
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, replace
from typing import Any

from postroom.domain import identities as rules
from postroom.domain import identity_service, reputation_service
from postroom.domain.admission import admit_all
from postroom.domain.sending import (
    Caller,
    Submission,
    prepare_send_email,
    prepare_send_raw_email,
)
from postroom.errors import InvalidAction, InvalidParameterValue
from postroom.services import Services
from postroom.store import accounts as account_store
from postroom.store import identities as identity_store
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
    """Admit and durably queue (with the rest of the group commit), then wake the worker."""
    message_id = await ctx.services.db.write_batched(admit_all, submission)
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


def identity_name(text: str) -> str:
    return _email_identity(text) if "@" in text else rules.normalize_domain(text)


def identity_names(names: list[str]) -> dict[str, str]:
    """Normalized identity -> the name as asked, for the Get*Attributes calls (<= 100;
    names that are not identities are left out of the answer, as SES does)."""
    if len(names) > 100:
        raise InvalidParameterValue("Too many identities: at most 100 are allowed.")
    found: dict[str, str] = {}
    for name in names:
        try:
            found[identity_name(name)] = name
        except InvalidParameterValue:
            continue
    return found


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
    lookup = identity_names(list(params["Identities"]))
    caller, now = ctx.caller, ctx.now
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
        identity = identity_name(name)
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
    account_id, now = ctx.caller.account_id, ctx.now
    await ctx.services.db.write(
        lambda conn: reputation_service.tenant_sets_sending(conn, account_id, enabled, now)
    )
    return None
