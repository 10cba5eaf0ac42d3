"""SES v2 SendEmail (rest-json): the `sesv2` model's dicts -> the core's sending use cases.

One SendEmail, three kinds of content (ses-spec.md 4.1), each the same use case as v1's:

* `Content.Simple` -> `sending.send_email` (v1 SendEmail's builder, plus custom `Headers`
  and `Attachments`), 40 MB limit;
* `Content.Raw` -> `sending.send_raw_email` (v1 SendRawEmail's normaliser and rules;
  `Destination` is the envelope, as v1's `Destinations`), 40 MB limit after base64;
* `Content.Template` -> `send_template_content` (templates come with their own module;
  its `Headers` and `Attachments` are built as Simple content's), 40 MB limit.

`FeedbackForwardingEmailAddress` is v1's `ReturnPath` (the envelope sender, verified like
the From address), `EmailTags` v1's `Tags`; admission, sandbox, quotas, rate and pauses
are v1's, in the same group commit, so a v1 and a v2 send share the account's quota.
Errors are v1's, named for v2 by `wire/restjson_errors.V1_TO_V2`: `MessageRejected`,
`MailFromDomainNotVerifiedException`, `SendingPausedException`, `NotFoundException` for a
configuration set that does not exist, and `TooManyRequestsException` (429) for both the
rate ("Maximum sending rate exceeded.", as SES answers v2 clients:
pm-pmaas/etailors_amazon_ses#117) and the daily quota (SES's v2 answer to that one is not
documented; v1 answers both with the same Throttling code).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from postroom.domain.requests import Arns, SendEmail, SendRawEmail, Tag
from postroom.domain.use_cases import sending
from postroom.errors import InvalidParameterValue
from postroom.interfaces.http import ses_v2_content, ses_v2_templates
from postroom.interfaces.http.ses_v1 import Context, Output, not_supported
from postroom.interfaces.http.ses_v2 import operation
from postroom.wire.mime import MAX_MESSAGE_SIZE_V2, Content

_CONTENT_KINDS = ("Simple", "Raw", "Template")


@operation("SendEmail")
async def send_email(ctx: Context, params: Mapping[str, Any]) -> Output:
    content = params.get("Content") or {}
    kinds = [kind for kind in _CONTENT_KINDS if content.get(kind) is not None]
    if len(kinds) != 1:
        raise InvalidParameterValue("Content must contain exactly one of Simple, Raw or Template.")
    _refuse_unsupported(params)
    if kinds[0] == "Template":
        return await send_template_content(ctx, params, content["Template"])
    if kinds[0] == "Raw":
        request = raw_request(params, content["Raw"])
        return {"MessageId": await sending.send_raw_email(ctx.core, ctx.caller, request)}
    simple = simple_request(params, content["Simple"])
    return {"MessageId": await sending.send_email(ctx.core, ctx.caller, simple)}


async def send_template_content(
    ctx: Context, params: Mapping[str, Any], template: Mapping[str, Any]
) -> Output:
    """SendEmail with `Content.Template` (stored or inline templates)."""
    return await ses_v2_templates.send_template(ctx, params, template)


def _refuse_unsupported(params: Mapping[str, Any]) -> None:
    """Contact lists, tenants and multi-region endpoints do not exist in Postroom yet:
    refused rather than silently ignored."""
    for name in ("ListManagementOptions", "TenantName", "EndpointId"):
        if params.get(name):
            raise not_supported(f"SendEmail with {name}")


# -- wire dicts -> typed requests ----------------------------------------------------------
def _addresses(params: Mapping[str, Any]) -> tuple[list[str], list[str], list[str]]:
    destination = params.get("Destination") or {}
    return (
        list(destination.get("ToAddresses") or []),
        list(destination.get("CcAddresses") or []),
        list(destination.get("BccAddresses") or []),
    )


def _tags(params: Mapping[str, Any]) -> list[Tag]:
    return [Tag(t.get("Name", ""), t.get("Value", "")) for t in params.get("EmailTags") or []]


def _arns(params: Mapping[str, Any]) -> Arns:
    return Arns(
        source=params.get("FromEmailAddressIdentityArn") or None,
        return_path=params.get("FeedbackForwardingEmailAddressIdentityArn") or None,
    )


def _from_address(params: Mapping[str, Any]) -> str | None:
    """FromEmailAddress, else the address of an email identity named by its ARN."""
    given = params.get("FromEmailAddress")
    if given:
        return str(given)
    arn = str(params.get("FromEmailAddressIdentityArn") or "")
    identity = arn.partition(":identity/")[2]
    return identity if "@" in identity else None


def _content(part: Mapping[str, Any] | None) -> Content | None:
    if part is None:
        return None
    return Content(data=part.get("Data", ""), charset=part.get("Charset"))


def simple_request(params: Mapping[str, Any], simple: Mapping[str, Any]) -> SendEmail:
    source = _from_address(params)
    if source is None:
        raise InvalidParameterValue("Missing required parameter FromEmailAddress.")
    to, cc, bcc = _addresses(params)
    body = simple.get("Body") or {}
    return SendEmail(
        source=source,
        to=to,
        cc=cc,
        bcc=bcc,
        reply_to=list(params.get("ReplyToAddresses") or []),
        return_path=params.get("FeedbackForwardingEmailAddress") or None,
        subject=_content(simple.get("Subject")) or Content(data=""),
        text=_content(body.get("Text")),
        html=_content(body.get("Html")),
        tags=_tags(params),
        configuration_set=params.get("ConfigurationSetName") or None,
        arns=_arns(params),
        headers=ses_v2_content.headers(simple.get("Headers")),
        attachments=ses_v2_content.attachments(simple.get("Attachments")),
        max_size=MAX_MESSAGE_SIZE_V2,
    )


def raw_request(params: Mapping[str, Any], raw: Mapping[str, Any]) -> SendRawEmail:
    to, cc, bcc = _addresses(params)
    return SendRawEmail(
        data=bytes(raw.get("Data") or b""),
        source=_from_address(params),
        destinations=to + cc + bcc,
        tags=_tags(params),
        configuration_set=params.get("ConfigurationSetName") or None,
        arns=_arns(params),
        return_path=params.get("FeedbackForwardingEmailAddress") or None,
        operation="SendEmail",
        max_size=MAX_MESSAGE_SIZE_V2,
    )
