"""SES v1 operations on a domain's sending setup: DKIM and custom MAIL FROM (issue 3)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from postroom.domain.requests import SetMailFromDomain
from postroom.domain.use_cases import domains
from postroom.interfaces.http.ses_v1 import Context, Output, operation


# -- DKIM (issue 3) ------------------------------------------------------------------------
@operation("VerifyDomainDkim")
async def verify_domain_dkim(ctx: Context, params: Mapping[str, Any]) -> Output:
    tokens = await domains.verify_domain_dkim(ctx.core, ctx.caller, params["Domain"])
    return {"DkimTokens": tokens}


@operation("GetIdentityDkimAttributes")
async def get_identity_dkim_attributes(ctx: Context, params: Mapping[str, Any]) -> Output:
    found = await domains.dkim_attributes(ctx.core, ctx.caller, list(params["Identities"]))
    result: dict[str, Any] = {}
    for name, attributes in found.items():
        shown: dict[str, Any] = {
            "DkimEnabled": attributes.enabled,
            "DkimVerificationStatus": attributes.status,
        }
        if attributes.tokens is not None:
            shown["DkimTokens"] = attributes.tokens
        result[name] = shown
    return {"DkimAttributes": result}


@operation("SetIdentityDkimEnabled")
async def set_identity_dkim_enabled(ctx: Context, params: Mapping[str, Any]) -> Output:
    enabled = bool(params.get("DkimEnabled", False))
    await domains.set_dkim_enabled(ctx.core, ctx.caller, params["Identity"], enabled)
    return {}


# -- custom MAIL FROM (issue 3) ------------------------------------------------------------
@operation("SetIdentityMailFromDomain")
async def set_identity_mail_from_domain(ctx: Context, params: Mapping[str, Any]) -> Output:
    request = SetMailFromDomain(
        identity=params["Identity"],
        mail_from_domain=params.get("MailFromDomain") or None,
        behavior_on_mx_failure=params.get("BehaviorOnMXFailure") or "UseDefaultValue",
    )
    await domains.set_mail_from_domain(ctx.core, ctx.caller, request)
    return {}


@operation("GetIdentityMailFromDomainAttributes")
async def get_identity_mail_from_domain_attributes(
    ctx: Context, params: Mapping[str, Any]
) -> Output:
    found = await domains.mail_from_attributes(ctx.core, ctx.caller, list(params["Identities"]))
    result: dict[str, Any] = {}
    for name, attributes in found.items():
        shown: dict[str, Any] = {}
        if attributes.domain is not None:
            shown["MailFromDomain"] = attributes.domain
            shown["MailFromDomainStatus"] = attributes.status
        shown["BehaviorOnMXFailure"] = attributes.behavior_on_mx_failure
        result[name] = shown
    return {"MailFromDomainAttributes": result}
