"""SES v1 query arguments (dicts of the botocore model's shapes) -> the core's typed
requests. The only place that reads `params["RawMessage"]["Data"]` and the like."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from postroom.domain.requests import Arns, ListIdentities, SendEmail, SendRawEmail, Tag
from postroom.wire.mime import Content


def _content(part: Mapping[str, Any] | None) -> Content | None:
    if part is None:
        return None
    return Content(data=part.get("Data", ""), charset=part.get("Charset"))


def _tags(params: Mapping[str, Any]) -> list[Tag]:
    return [Tag(t.get("Name", ""), t.get("Value", "")) for t in params.get("Tags") or []]


def _arns(params: Mapping[str, Any]) -> Arns:
    return Arns(params.get("SourceArn"), params.get("FromArn"), params.get("ReturnPathArn"))


def send_email(params: Mapping[str, Any]) -> SendEmail:
    destination = params.get("Destination") or {}
    message = params["Message"]
    body = message.get("Body") or {}
    return SendEmail(
        source=params["Source"],
        to=list(destination.get("ToAddresses") or []),
        cc=list(destination.get("CcAddresses") or []),
        bcc=list(destination.get("BccAddresses") or []),
        reply_to=list(params.get("ReplyToAddresses") or []),
        return_path=params.get("ReturnPath") or None,
        subject=_content(message.get("Subject")) or Content(data=""),
        text=_content(body.get("Text")),
        html=_content(body.get("Html")),
        tags=_tags(params),
        configuration_set=params.get("ConfigurationSetName") or None,
        arns=_arns(params),
    )


def send_raw_email(params: Mapping[str, Any]) -> SendRawEmail:
    return SendRawEmail(
        data=params["RawMessage"]["Data"],
        source=params.get("Source") or None,
        destinations=list(params.get("Destinations") or []),
        tags=_tags(params),
        configuration_set=params.get("ConfigurationSetName") or None,
        arns=_arns(params),
    )


def list_identities(params: Mapping[str, Any]) -> ListIdentities:
    size = params.get("MaxItems")
    return ListIdentities(
        identity_type=params.get("IdentityType") or None,
        page_size=None if size is None else int(size),
        next_token=params.get("NextToken") or None,
    )
