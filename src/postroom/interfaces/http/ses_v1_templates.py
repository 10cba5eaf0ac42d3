"""SES v1 email templates (issue 9, section 3): CRUD, TestRenderTemplate, and templated
sending. Translation only: the rules are in `domain/use_cases/templates.py`."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from postroom.domain import template_sending as ts
from postroom.domain.requests import Arns, Tag
from postroom.domain.templates import EmailTemplate
from postroom.domain.use_cases import templates
from postroom.errors import AccountSuspended, ClientError
from postroom.interfaces.http.ses_v1 import Context, Output, operation


def _template(params: Mapping[str, Any]) -> EmailTemplate:
    shape = params["Template"]
    return EmailTemplate(
        name=shape.get("TemplateName", ""),
        subject=shape.get("SubjectPart"),
        text=shape.get("TextPart"),
        html=shape.get("HtmlPart"),
    )


def timestamp(when: float) -> datetime:
    return datetime.fromtimestamp(when, UTC)


@operation("CreateTemplate")
async def create_template(ctx: Context, params: Mapping[str, Any]) -> Output:
    await templates.create_template(ctx.core, ctx.caller, _template(params))
    return {}


@operation("UpdateTemplate")
async def update_template(ctx: Context, params: Mapping[str, Any]) -> Output:
    await templates.update_template(ctx.core, ctx.caller, _template(params))
    return {}


@operation("GetTemplate")
async def get_template(ctx: Context, params: Mapping[str, Any]) -> Output:
    found = await templates.get_template(ctx.core, ctx.caller, params["TemplateName"])
    template = found.template
    shown = {"TemplateName": template.name, "SubjectPart": template.subject,
             "TextPart": template.text, "HtmlPart": template.html}  # fmt: skip
    return {"Template": {k: v for k, v in shown.items() if v is not None}}


@operation("DeleteTemplate")
async def delete_template(ctx: Context, params: Mapping[str, Any]) -> Output:
    await templates.delete_template(ctx.core, ctx.caller, params["TemplateName"])
    return {}  # SES v1 answers success for a template that does not exist


@operation("ListTemplates")
async def list_templates(ctx: Context, params: Mapping[str, Any]) -> Output:
    page = await templates.list_templates(
        ctx.core, ctx.caller, params.get("MaxItems"), params.get("NextToken")
    )
    result: dict[str, Any] = {
        "TemplatesMetadata": [
            {"Name": name, "CreatedTimestamp": timestamp(at)} for name, at in page.templates
        ]
    }
    if page.next_token:
        result["NextToken"] = page.next_token
    return result


@operation("TestRenderTemplate")
async def test_render_template(ctx: Context, params: Mapping[str, Any]) -> Output:
    rendered = await templates.test_render_template(
        ctx.core, ctx.caller, params["TemplateName"], params["TemplateData"]
    )
    return {"RenderedTemplate": rendered}


def tags(shapes: list[Mapping[str, Any]] | None) -> list[Tag]:
    return [Tag(t.get("Name", ""), t.get("Value", "")) for t in shapes or []]


def recipients(destination: Mapping[str, Any] | None) -> ts.Recipients:
    found = destination or {}
    return ts.Recipients(
        to=list(found.get("ToAddresses") or []),
        cc=list(found.get("CcAddresses") or []),
        bcc=list(found.get("BccAddresses") or []),
    )


def _arns(params: Mapping[str, Any]) -> Arns:
    return Arns(source=params.get("SourceArn"), return_path=params.get("ReturnPathArn"))


def _ref(params: Mapping[str, Any]) -> ts.TemplateRef:
    return ts.TemplateRef(name=params.get("Template"), arn=params.get("TemplateArn"))


@operation("SendTemplatedEmail")
async def send_templated_email(ctx: Context, params: Mapping[str, Any]) -> Output:
    request = ts.SendTemplated(
        source=params["Source"],
        destination=recipients(params.get("Destination")),
        template=_ref(params),
        data=params.get("TemplateData"),
        reply_to=list(params.get("ReplyToAddresses") or []),
        return_path=params.get("ReturnPath") or None,
        tags=tags(params.get("Tags")),
        configuration_set=params.get("ConfigurationSetName") or None,
        arns=_arns(params),
    )
    message_id = await templates.send_templated_email(ctx.core, ctx.caller, request)
    return {"MessageId": message_id}


@operation("SendBulkTemplatedEmail")
async def send_bulk_templated_email(ctx: Context, params: Mapping[str, Any]) -> Output:
    destinations = [
        ts.BulkDestination(
            destination=recipients(d.get("Destination")),
            data=d.get("ReplacementTemplateData"),
            tags=tags(d.get("ReplacementTags")),
        )
        for d in params.get("Destinations") or []
    ]
    request = ts.SendBulkTemplated(
        source=params["Source"],
        template=_ref(params),
        default_data=params.get("DefaultTemplateData"),
        destinations=destinations,
        reply_to=list(params.get("ReplyToAddresses") or []),
        return_path=params.get("ReturnPath") or None,
        default_tags=tags(params.get("DefaultTags")),
        configuration_set=params.get("ConfigurationSetName") or None,
        arns=_arns(params),
    )
    results = await templates.send_bulk_templated_email(ctx.core, ctx.caller, request)
    return {"Status": [_status(result) for result in results]}


def _status(result: str | ClientError) -> dict[str, str]:
    if isinstance(result, ClientError):
        return {"Status": bulk_status(result), "Error": result.message}
    return {"Status": "Success", "MessageId": result}


def bulk_status(error: ClientError | None) -> str:
    """BulkEmailDestinationStatus.Status of an accepted (None) or refused destination."""
    if error is None:
        return "Success"
    if isinstance(error, AccountSuspended):
        return "AccountSuspended"
    if error.code == "Throttling":
        return "AccountDailyQuotaExceeded" if "Daily" in error.message else "AccountThrottled"
    return _STATUS.get(error.code, "Failed")


_STATUS = {
    "MessageRejected": "MessageRejected",
    "MailFromDomainNotVerifiedException": "MailFromDomainNotVerified",
    "ConfigurationSetDoesNotExist": "ConfigurationSetDoesNotExist",
    "TemplateDoesNotExist": "TemplateDoesNotExist",
    "AccountSendingPausedException": "AccountSendingPaused",
    "ConfigurationSetSendingPausedException": "ConfigurationSetSendingPaused",
    "InvalidParameterValue": "InvalidParameterValue",
}
