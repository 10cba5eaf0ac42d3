"""SES v1 operations (query protocol): each handler translates the model's dicts into a
use case of the core (`domain/use_cases/`) and its typed result back."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any

from postroom.domain.callers import Caller
from postroom.domain.core import Core
from postroom.domain.requests import SendQuota
from postroom.domain.use_cases import account, identities, sending
from postroom.errors import InvalidAction
from postroom.interfaces.http import ses_v1_requests as requests

Output = dict[str, Any] | None


@dataclass(frozen=True)
class Context:
    core: Core
    caller: Caller


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
@operation("SendEmail")
async def send_email(ctx: Context, params: Mapping[str, Any]) -> Output:
    return {
        "MessageId": await sending.send_email(ctx.core, ctx.caller, requests.send_email(params))
    }


@operation("SendRawEmail")
async def send_raw_email(ctx: Context, params: Mapping[str, Any]) -> Output:
    request = requests.send_raw_email(params)
    return {"MessageId": await sending.send_raw_email(ctx.core, ctx.caller, request)}


# -- identities --------------------------------------------------------------------------
@operation("VerifyEmailIdentity")
async def verify_email_identity(ctx: Context, params: Mapping[str, Any]) -> Output:
    await identities.verify_email_identity(ctx.core, ctx.caller, params["EmailAddress"])
    return {}


@operation("VerifyEmailAddress")
async def verify_email_address(ctx: Context, params: Mapping[str, Any]) -> Output:
    await identities.verify_email_identity(ctx.core, ctx.caller, params["EmailAddress"])
    return None


@operation("VerifyDomainIdentity")
async def verify_domain_identity(ctx: Context, params: Mapping[str, Any]) -> Output:
    token = await identities.verify_domain(ctx.core, ctx.caller, params["Domain"])
    return {"VerificationToken": token}


@operation("ListIdentities")
async def list_identities(ctx: Context, params: Mapping[str, Any]) -> Output:
    page = await identities.list_identities(ctx.core, ctx.caller, requests.list_identities(params))
    result: dict[str, Any] = {"Identities": page.identities}
    if page.next_token is not None:
        result["NextToken"] = page.next_token
    return result


@operation("ListVerifiedEmailAddresses")
async def list_verified_email_addresses(ctx: Context, params: Mapping[str, Any]) -> Output:
    found = await identities.list_verified_email_addresses(ctx.core, ctx.caller)
    return {"VerifiedEmailAddresses": found}


@operation("GetIdentityVerificationAttributes")
async def get_identity_verification_attributes(ctx: Context, params: Mapping[str, Any]) -> Output:
    found = await identities.identity_verification_attributes(
        ctx.core, ctx.caller, list(params["Identities"])
    )
    attributes: dict[str, Any] = {}
    for name, found_attributes in found.items():
        shown = {"VerificationStatus": found_attributes.status}
        if found_attributes.token is not None:
            shown["VerificationToken"] = found_attributes.token
        attributes[name] = shown
    return {"VerificationAttributes": attributes}


@operation("DeleteIdentity")
async def delete_identity(ctx: Context, params: Mapping[str, Any]) -> Output:
    await identities.delete_identity(ctx.core, ctx.caller, params["Identity"])
    return {}


@operation("DeleteVerifiedEmailAddress")
async def delete_verified_email_address(ctx: Context, params: Mapping[str, Any]) -> Output:
    await identities.delete_identity(ctx.core, ctx.caller, params["EmailAddress"])
    return None


# -- account -----------------------------------------------------------------------------
def send_quota_output(quota: SendQuota) -> dict[str, float]:
    """The quota as SES shows it: v1's GetSendQuota, v2's GetAccount `SendQuota`."""
    return {
        "Max24HourSend": quota.max_24h,
        "MaxSendRate": quota.max_rate,
        "SentLast24Hours": quota.sent_last_24h,
    }


@operation("GetSendQuota")
async def get_send_quota(ctx: Context, params: Mapping[str, Any]) -> Output:
    return send_quota_output(await account.send_quota(ctx.core, ctx.caller))


@operation("GetSendStatistics")
async def get_send_statistics(ctx: Context, params: Mapping[str, Any]) -> Output:
    points = await account.send_statistics(ctx.core, ctx.caller)
    return {
        "SendDataPoints": [
            {
                "Timestamp": p.timestamp,
                "DeliveryAttempts": p.delivery_attempts,
                "Bounces": p.bounces,
                "Complaints": p.complaints,
                "Rejects": p.rejects,
            }
            for p in points
        ]
    }


@operation("GetAccountSendingEnabled")
async def get_account_sending_enabled(ctx: Context, params: Mapping[str, Any]) -> Output:
    return {"Enabled": await account.account_sending_enabled(ctx.core, ctx.caller)}


@operation("UpdateAccountSendingEnabled")
async def update_account_sending_enabled(ctx: Context, params: Mapping[str, Any]) -> Output:
    enabled = bool(params.get("Enabled", False))
    await account.set_account_sending(ctx.core, ctx.caller, enabled)
    return None
