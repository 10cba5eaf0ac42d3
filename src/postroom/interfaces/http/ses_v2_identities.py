"""SES v2 operations on email identities (DKIM, MAIL FROM, feedback) and resource tags:
translation between the `sesv2` model's dicts and `use_cases.email_identities` / `tags`."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from postroom.domain.identities import DOMAIN
from postroom.domain.requests import ListIdentities, MailFromAttributes, SetMailFromDomain
from postroom.domain.use_cases import domains, tags
from postroom.domain.use_cases import email_identities as use_cases
from postroom.domain.use_cases.email_identities import (
    CreateEmailIdentity,
    EmailIdentity,
    IdentityDkim,
    SigningKey,
)
from postroom.interfaces.http.ses_v1 import Context, Output
from postroom.interfaces.http.ses_v2 import operation

STATUS = {  # v1 spelling -> v2's
    "Pending": "PENDING",
    "Success": "SUCCESS",
    "Failed": "FAILED",
    "TemporaryFailure": "TEMPORARY_FAILURE",
    "NotStarted": "NOT_STARTED",
}
BEHAVIOR = {"USE_DEFAULT_VALUE": "UseDefaultValue", "REJECT_MESSAGE": "RejectMessage"}
BEHAVIOR_V2 = {v1: v2 for v2, v1 in BEHAVIOR.items()}


def _kind(kind: str) -> str:
    return "DOMAIN" if kind == DOMAIN else "EMAIL_ADDRESS"


def _time(when: float) -> datetime:
    return datetime.fromtimestamp(when, UTC)


def _tags(found: list[tuple[str, str]]) -> list[dict[str, str]]:
    return [{"Key": key, "Value": value} for key, value in found]


def _tag_pairs(params: Mapping[str, Any]) -> list[tuple[str, str]]:
    return [(tag["Key"], tag.get("Value", "")) for tag in params.get("Tags") or []]


def _signing_key(attributes: Mapping[str, Any] | None) -> SigningKey | None:
    if not attributes or "DomainSigningPrivateKey" not in attributes:
        return None
    return SigningKey(
        attributes.get("DomainSigningSelector", ""), attributes["DomainSigningPrivateKey"]
    )


def dkim_output(found: IdentityDkim) -> dict[str, Any]:
    shown: dict[str, Any] = {
        "SigningEnabled": found.signing_enabled,
        "Status": STATUS.get(found.status, "PENDING"),
        "SigningAttributesOrigin": found.origin,
    }
    if found.tokens:
        shown["Tokens"] = found.tokens
    if found.key_length:
        shown["CurrentSigningKeyLength"] = found.key_length
        shown["NextSigningKeyLength"] = found.key_length
    if found.generated_at is not None:
        shown["LastKeyGenerationTimestamp"] = _time(found.generated_at)
    return shown


def _mail_from(found: MailFromAttributes) -> dict[str, Any]:
    shown: dict[str, Any] = {
        "BehaviorOnMxFailure": BEHAVIOR_V2.get(found.behavior_on_mx_failure, "USE_DEFAULT_VALUE")
    }
    if found.domain is not None:
        shown["MailFromDomain"] = found.domain
        shown["MailFromDomainStatus"] = STATUS.get(found.status or "Pending", "PENDING")
    return shown


# -- identities ----------------------------------------------------------------------------
@operation("CreateEmailIdentity")
async def create_email_identity(ctx: Context, params: Mapping[str, Any]) -> Output:
    request = CreateEmailIdentity(
        identity=params["EmailIdentity"],
        tags=_tag_pairs(params),
        signing_key=_signing_key(params.get("DkimSigningAttributes")),
    )
    found = await use_cases.create_email_identity(ctx.core, ctx.caller, request)
    return {
        "IdentityType": _kind(found.kind),
        "VerifiedForSendingStatus": found.verified_for_sending,
        "DkimAttributes": dkim_output(found.dkim),
    }


def identity_output(found: EmailIdentity) -> dict[str, Any]:
    info: dict[str, Any] = {}
    if found.last_checked_at is not None:
        info["LastCheckedTimestamp"] = _time(found.last_checked_at)
    if found.verified_at is not None:
        info["LastSuccessTimestamp"] = _time(found.verified_at)
    shown: dict[str, Any] = {
        "IdentityType": _kind(found.kind),
        "FeedbackForwardingStatus": found.feedback_forwarding,
        "VerifiedForSendingStatus": found.verified_for_sending,
        "DkimAttributes": dkim_output(found.dkim),
        "MailFromAttributes": _mail_from(found.mail_from),
        "Policies": {},
        "Tags": _tags(found.tags),
        "VerificationStatus": STATUS.get(found.status, "PENDING"),
        "VerificationInfo": info,
    }
    if found.configuration_set:
        shown["ConfigurationSetName"] = found.configuration_set
    return shown


@operation("GetEmailIdentity")
async def get_email_identity(ctx: Context, params: Mapping[str, Any]) -> Output:
    found = await use_cases.get_email_identity(ctx.core, ctx.caller, params["EmailIdentity"])
    return identity_output(found)


@operation("DeleteEmailIdentity")
async def delete_email_identity(ctx: Context, params: Mapping[str, Any]) -> Output:
    await use_cases.delete_email_identity(ctx.core, ctx.caller, params["EmailIdentity"])
    return {}


@operation("ListEmailIdentities")
async def list_email_identities(ctx: Context, params: Mapping[str, Any]) -> Output:
    request = ListIdentities(page_size=params.get("PageSize"), next_token=params.get("NextToken"))
    found, following = await use_cases.list_email_identities(ctx.core, ctx.caller, request)
    result: dict[str, Any] = {
        "EmailIdentities": [
            {
                "IdentityType": _kind(i.kind),
                "IdentityName": i.identity,
                "SendingEnabled": i.status == "Success",
                "VerificationStatus": STATUS.get(i.status, "PENDING"),
            }
            for i in found
        ]
    }
    if following is not None:
        result["NextToken"] = following
    return result


# -- DKIM, MAIL FROM, feedback ---------------------------------------------------------------
@operation("PutEmailIdentityDkimAttributes")
async def put_email_identity_dkim_attributes(ctx: Context, params: Mapping[str, Any]) -> Output:
    """v1's SetIdentityDkimEnabled, for an identity that exists (NotFound otherwise, as the
    other PutEmailIdentity* operations answer)."""
    identity = await use_cases.require_identity(ctx.core, ctx.caller, params["EmailIdentity"])
    enabled = bool(params.get("SigningEnabled", False))
    await domains.set_dkim_enabled(ctx.core, ctx.caller, identity, enabled)
    return {}


@operation("PutEmailIdentityDkimSigningAttributes")
async def put_email_identity_dkim_signing_attributes(
    ctx: Context, params: Mapping[str, Any]
) -> Output:
    found = await use_cases.put_dkim_signing_attributes(
        ctx.core, ctx.caller, params["EmailIdentity"], params["SigningAttributesOrigin"],
        _signing_key(params.get("SigningAttributes")),
    )  # fmt: skip
    result: dict[str, Any] = {"DkimStatus": STATUS.get(found.status, "PENDING")}
    if found.tokens:
        result["DkimTokens"] = found.tokens
    return result


@operation("PutEmailIdentityMailFromAttributes")
async def put_email_identity_mail_from_attributes(
    ctx: Context, params: Mapping[str, Any]
) -> Output:
    identity = await use_cases.require_identity(ctx.core, ctx.caller, params["EmailIdentity"])
    request = SetMailFromDomain(
        identity=identity,
        mail_from_domain=params.get("MailFromDomain") or None,
        behavior_on_mx_failure=BEHAVIOR.get(
            params.get("BehaviorOnMxFailure") or "", "UseDefaultValue"
        ),
    )
    await domains.set_mail_from_domain(ctx.core, ctx.caller, request)
    return {}


@operation("PutEmailIdentityFeedbackAttributes")
async def put_email_identity_feedback_attributes(ctx: Context, params: Mapping[str, Any]) -> Output:
    enabled = bool(params.get("EmailForwardingEnabled", False))
    await use_cases.put_feedback_attributes(ctx.core, ctx.caller, params["EmailIdentity"], enabled)
    return {}


# -- tags ------------------------------------------------------------------------------------
@operation("TagResource")
async def tag_resource(ctx: Context, params: Mapping[str, Any]) -> Output:
    await tags.tag_resource(ctx.core, ctx.caller, params["ResourceArn"], _tag_pairs(params))
    return {}


@operation("UntagResource")
async def untag_resource(ctx: Context, params: Mapping[str, Any]) -> Output:
    keys = list(params.get("TagKeys") or [])
    await tags.untag_resource(ctx.core, ctx.caller, params["ResourceArn"], keys)
    return {}


@operation("ListTagsForResource")
async def list_tags_for_resource(ctx: Context, params: Mapping[str, Any]) -> Output:
    found = await tags.list_tags(ctx.core, ctx.caller, params["ResourceArn"])
    return {"Tags": _tags(found)}
