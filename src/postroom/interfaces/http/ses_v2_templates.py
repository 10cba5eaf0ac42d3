"""SES v2 email templates (issue 9, section 3): CRUD, TestRenderEmailTemplate and
SendBulkEmail with `DefaultContent.Template` (its `Headers` merged with each entry's
`ReplacementHeaders`, its `Attachments` in every message); SendEmail's `Content.Template`
comes here from `ses_v2_sending.send_template_content`. The same use cases and state as v1's
(`ses_v1_templates.py`): a template made with one API is read with the other."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from postroom.domain import template_sending as ts
from postroom.domain.requests import Arns, Tag
from postroom.domain.templates import EmailTemplate
from postroom.domain.use_cases import templates
from postroom.errors import ClientError, InvalidParameterValue
from postroom.interfaces.http import ses_v2_content
from postroom.interfaces.http.ses_v1 import Context, Output, not_supported
from postroom.interfaces.http.ses_v1_templates import bulk_status, recipients, timestamp
from postroom.interfaces.http.ses_v2 import operation
from postroom.wire.mime import MAX_MESSAGE_SIZE_V2


def _content(name: str, content: Mapping[str, Any] | None) -> EmailTemplate:
    found = content or {}
    return EmailTemplate(name, found.get("Subject"), found.get("Text"), found.get("Html"))


@operation("CreateEmailTemplate")
async def create_email_template(ctx: Context, params: Mapping[str, Any]) -> Output:
    template = _content(params["TemplateName"], params.get("TemplateContent"))
    tags = [(t.get("Key", ""), t.get("Value", "")) for t in params.get("Tags") or []]
    await templates.create_template(ctx.core, ctx.caller, template, tags)
    return {}


@operation("GetEmailTemplate")
async def get_email_template(ctx: Context, params: Mapping[str, Any]) -> Output:
    stored = await templates.get_template(ctx.core, ctx.caller, params["TemplateName"])
    found = stored.template
    content = {"Subject": found.subject, "Text": found.text, "Html": found.html}
    return {
        "TemplateName": found.name,
        "TemplateContent": {k: v for k, v in content.items() if v is not None},
        "Tags": [{"Key": key, "Value": value} for key, value in stored.tags.items()],
    }


@operation("UpdateEmailTemplate")
async def update_email_template(ctx: Context, params: Mapping[str, Any]) -> Output:
    template = _content(params["TemplateName"], params.get("TemplateContent"))
    await templates.update_template(ctx.core, ctx.caller, template)
    return {}


@operation("DeleteEmailTemplate")
async def delete_email_template(ctx: Context, params: Mapping[str, Any]) -> Output:
    name = params["TemplateName"]
    if not await templates.delete_template(ctx.core, ctx.caller, name):
        raise ts.template_does_not_exist(name)
    return {}


@operation("ListEmailTemplates")
async def list_email_templates(ctx: Context, params: Mapping[str, Any]) -> Output:
    page = await templates.list_templates(
        ctx.core, ctx.caller, params.get("PageSize"), params.get("NextToken")
    )
    result: dict[str, Any] = {
        "TemplatesMetadata": [
            {"TemplateName": name, "CreatedTimestamp": timestamp(at)}
            for name, at in page.templates
        ]
    }
    if page.next_token:
        result["NextToken"] = page.next_token
    return result


@operation("TestRenderEmailTemplate")
async def test_render_email_template(ctx: Context, params: Mapping[str, Any]) -> Output:
    rendered = await templates.test_render_template(
        ctx.core, ctx.caller, params["TemplateName"], params["TemplateData"]
    )
    return {"RenderedTemplate": rendered}


# -- sending ------------------------------------------------------------------------------
def _ref(template: Mapping[str, Any]) -> ts.TemplateRef:
    inline = template.get("TemplateContent")
    if inline is not None:
        if template.get("TemplateName") or template.get("TemplateArn"):
            raise InvalidParameterValue(
                "Template must contain only one of TemplateName, TemplateArn or TemplateContent."
            )
        return ts.TemplateRef(inline=_content("inline", inline))
    return ts.TemplateRef(name=template.get("TemplateName"), arn=template.get("TemplateArn"))


def _source(params: Mapping[str, Any]) -> str:
    given = params.get("FromEmailAddress")
    if given:
        return str(given)
    identity = str(params.get("FromEmailAddressIdentityArn") or "").partition(":identity/")[2]
    if "@" not in identity:
        raise InvalidParameterValue("Missing required parameter FromEmailAddress.")
    return identity


def _tags(shapes: list[Mapping[str, Any]] | None) -> list[Tag]:
    return [Tag(t.get("Name", ""), t.get("Value", "")) for t in shapes or []]


def _arns(params: Mapping[str, Any]) -> Arns:
    return Arns(
        source=params.get("FromEmailAddressIdentityArn") or None,
        return_path=params.get("FeedbackForwardingEmailAddressIdentityArn") or None,
    )


async def send_template(
    ctx: Context, params: Mapping[str, Any], template: Mapping[str, Any]
) -> Output:
    """SendEmail with `Content.Template`: a stored template (name or ARN) or an inline one."""
    request = ts.SendTemplated(
        source=_source(params),
        destination=recipients(params.get("Destination")),
        template=_ref(template),
        data=template.get("TemplateData"),
        reply_to=list(params.get("ReplyToAddresses") or []),
        return_path=params.get("FeedbackForwardingEmailAddress") or None,
        tags=_tags(params.get("EmailTags")),
        configuration_set=params.get("ConfigurationSetName") or None,
        arns=_arns(params),
        operation="SendEmail",
        headers=ses_v2_content.headers(template.get("Headers")),
        attachments=ses_v2_content.attachments(template.get("Attachments")),
        max_size=MAX_MESSAGE_SIZE_V2,
    )
    return {"MessageId": await templates.send_templated_email(ctx.core, ctx.caller, request)}


@operation("SendBulkEmail")
async def send_bulk_email(ctx: Context, params: Mapping[str, Any]) -> Output:
    for name in ("TenantName", "EndpointId"):
        if params.get(name):
            raise not_supported(f"SendBulkEmail with {name}")
    default = (params.get("DefaultContent") or {}).get("Template")
    if default is None:
        raise InvalidParameterValue("DefaultContent must contain a Template.")
    request = ts.SendBulkTemplated(
        source=_source(params),
        template=_ref(default),
        default_data=default.get("TemplateData"),
        destinations=[_entry(entry) for entry in params.get("BulkEmailEntries") or []],
        reply_to=list(params.get("ReplyToAddresses") or []),
        return_path=params.get("FeedbackForwardingEmailAddress") or None,
        default_tags=_tags(params.get("DefaultEmailTags")),
        configuration_set=params.get("ConfigurationSetName") or None,
        arns=_arns(params),
        operation="SendBulkEmail",
        default_headers=ses_v2_content.headers(default.get("Headers")),
        attachments=ses_v2_content.attachments(default.get("Attachments")),
        max_size=MAX_MESSAGE_SIZE_V2,
    )
    results = await templates.send_bulk_templated_email(ctx.core, ctx.caller, request)
    return {"BulkEmailEntryResults": [_result(result) for result in results]}


def _entry(entry: Mapping[str, Any]) -> ts.BulkDestination:
    replacement = (entry.get("ReplacementEmailContent") or {}).get("ReplacementTemplate") or {}
    return ts.BulkDestination(
        destination=recipients(entry.get("Destination")),
        data=replacement.get("ReplacementTemplateData"),
        tags=_tags(entry.get("ReplacementTags")),
        headers=ses_v2_content.headers(entry.get("ReplacementHeaders")),
    )


def _result(result: str | ClientError) -> dict[str, str]:
    if isinstance(result, ClientError):
        return {"Status": _V2_STATUS.get(bulk_status(result), "FAILED"), "Error": result.message}
    return {"Status": "SUCCESS", "MessageId": result}


_V2_STATUS = {
    "MessageRejected": "MESSAGE_REJECTED",
    "MailFromDomainNotVerified": "MAIL_FROM_DOMAIN_NOT_VERIFIED",
    "ConfigurationSetDoesNotExist": "CONFIGURATION_SET_NOT_FOUND",
    "TemplateDoesNotExist": "TEMPLATE_NOT_FOUND",
    "AccountThrottled": "ACCOUNT_THROTTLED",
    "AccountDailyQuotaExceeded": "ACCOUNT_DAILY_QUOTA_EXCEEDED",
    "AccountSendingPaused": "ACCOUNT_SENDING_PAUSED",
    "AccountSuspended": "ACCOUNT_SUSPENDED",
    "ConfigurationSetSendingPaused": "CONFIGURATION_SET_SENDING_PAUSED",
    "InvalidParameterValue": "INVALID_PARAMETER",
}


