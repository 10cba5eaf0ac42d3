"""SES v2 account operations (rest-json): GetAccount, PutAccountDetails (production access),
the sending switch, the account-level suppression list and its reasons. Translation only:
the rules are the core's (`domain/use_cases/account.py`, `production_access.py`,
`suppression.py`), shared with v1 and the CLI."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from postroom.domain.production_access import AccessRequest, AccountDetails
from postroom.domain.use_cases import account, production_access, suppression
from postroom.errors import InvalidParameterValue
from postroom.interfaces.http.ses_v1 import Context, Output, send_quota_output
from postroom.interfaces.http.ses_v2 import operation


def _time(at: float) -> datetime:
    return datetime.fromtimestamp(at, tz=UTC)


def _seconds(at: datetime | None) -> float | None:
    return None if at is None else at.timestamp()


# -- the account -------------------------------------------------------------------------
@operation("GetAccount")
async def get_account(ctx: Context, params: Mapping[str, Any]) -> Output:
    """ses-spec.md 5, in the caller's region: the quota as v1's GetSendQuota reports it,
    the sending switch, the sandbox (ProductionAccessEnabled), the reputation enforcement
    status, the suppression list's reasons and, once PutAccountDetails was called, the
    details with the last production-access request's review."""
    status = await account.account_status(ctx.core, ctx.caller)
    output: dict[str, Any] = {
        "SendQuota": send_quota_output(status.quota),
        "SendingEnabled": status.sending_enabled,
        "ProductionAccessEnabled": status.production_access,
        "EnforcementStatus": status.enforcement,
        "SuppressionAttributes": {"SuppressedReasons": status.suppressed_reasons},
        "DedicatedIpAutoWarmupEnabled": False,
    }
    if status.details is not None:
        output["Details"] = _details_output(status.details, status.review)
    return output


def _details_output(details: AccountDetails, review: AccessRequest | None) -> dict[str, Any]:
    shown: dict[str, Any] = {"MailType": details.mail_type, "WebsiteURL": details.website_url}
    if details.contact_language:
        shown["ContactLanguage"] = details.contact_language
    if details.use_case is not None:
        shown["UseCaseDescription"] = details.use_case
    if details.additional_contacts:
        shown["AdditionalContactEmailAddresses"] = details.additional_contacts
    if review is not None:
        shown["ReviewDetails"] = {"Status": review.status, "CaseId": review.case_id}
    return shown


@operation("PutAccountDetails")
async def put_account_details(ctx: Context, params: Mapping[str, Any]) -> Output:
    """The account's details in the caller's region; ProductionAccessEnabled true files a
    production-access request for the operator's review (ConflictException while one is
    pending, TooManyRequestsException for a second within a day)."""
    details = AccountDetails(
        mail_type=params["MailType"],
        website_url=params["WebsiteURL"],
        use_case=params.get("UseCaseDescription"),
        contact_language=params.get("ContactLanguage"),
        additional_contacts=list(params.get("AdditionalContactEmailAddresses", [])),
    )
    wanted = bool(params.get("ProductionAccessEnabled", False))
    await production_access.put_account_details(ctx.core, ctx.caller, details, wanted)
    return {}


@operation("PutAccountSendingAttributes")
async def put_account_sending_attributes(ctx: Context, params: Mapping[str, Any]) -> Output:
    """v1's UpdateAccountSendingEnabled: the tenant's own pause (AccessDeniedException
    while the operator's or reputation's pause holds)."""
    enabled = bool(params.get("SendingEnabled", False))
    await account.set_account_sending(ctx.core, ctx.caller, enabled)
    return {}


@operation("PutAccountSuppressionAttributes")
async def put_account_suppression_attributes(ctx: Context, params: Mapping[str, Any]) -> Output:
    if "ValidationAttributes" in params:
        raise InvalidParameterValue("ValidationAttributes is not supported by Postroom yet.")
    reasons = params.get("SuppressedReasons", [])
    await suppression.set_suppressed_reasons(ctx.core, ctx.caller, reasons)
    return {}


# -- the suppression list ----------------------------------------------------------------
@operation("PutSuppressedDestination")
async def put_suppressed_destination(ctx: Context, params: Mapping[str, Any]) -> Output:
    address, reason = params["EmailAddress"], params["Reason"]
    await suppression.put_suppressed_destination(ctx.core, ctx.caller, address, reason)
    return {}


@operation("GetSuppressedDestination")
async def get_suppressed_destination(ctx: Context, params: Mapping[str, Any]) -> Output:
    found = await suppression.get_suppressed_destination(
        ctx.core, ctx.caller, params["EmailAddress"]
    )
    attributes = {"MessageId": found.message_id} if found.message_id else {}
    return {
        "SuppressedDestination": {
            "EmailAddress": found.address,
            "Reason": found.reason,
            "LastUpdateTime": _time(found.last_update),
            "Attributes": attributes,
        }
    }


@operation("DeleteSuppressedDestination")
async def delete_suppressed_destination(ctx: Context, params: Mapping[str, Any]) -> Output:
    await suppression.delete_suppressed_destination(ctx.core, ctx.caller, params["EmailAddress"])
    return {}


@operation("ListSuppressedDestinations")
async def list_suppressed_destinations(ctx: Context, params: Mapping[str, Any]) -> Output:
    request = suppression.ListSuppressed(
        reasons=tuple(params.get("Reasons", ())),
        start=_seconds(params.get("StartDate")),
        end=_seconds(params.get("EndDate")),
        next_token=params.get("NextToken"),
        page_size=params.get("PageSize"),
    )
    page = await suppression.list_suppressed_destinations(ctx.core, ctx.caller, request)
    result: dict[str, Any] = {
        "SuppressedDestinationSummaries": [
            {"EmailAddress": e.address, "Reason": e.reason, "LastUpdateTime": _time(e.last_update)}
            for e in page.entries
        ]
    }
    if page.next_token is not None:
        result["NextToken"] = page.next_token
    return result
