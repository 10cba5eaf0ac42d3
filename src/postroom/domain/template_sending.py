"""Templated sending (issue 9, section 3): the typed requests of SendTemplatedEmail,
SendBulkTemplatedEmail and v2's SendEmail/SendBulkEmail with `Content.Template`, and the
pure steps between a template and a `Submission`.

A rendering problem does not fail the call ([DG-EV], the AWS knowledge-center article
"ses-sendtemplatedemail-delivery-failure": SES accepts the message, then reports a
Rendering Failure event): the message is admitted like any other (verified sender,
sandbox, and the quota, which SES charges when it accepts the call, before rendering), but
it carries a Rendering Failure event instead of being queued for delivery, so it is never
delivered and never counts as a delivery attempt.

v2 `Template.Headers` and `Template.Attachments` go through v1 SendEmail's builder exactly as
Simple content's do (`wire/mime.check_extra_headers`, `wire/attachments`), copied into every
message as given: SES documents no rendering of template variables in them, and per-entry
values are what `BulkEmailEntry.ReplacementHeaders` is for (`merged_headers`).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from postroom.domain import events
from postroom.domain.callers import Caller
from postroom.domain.requests import Arns, SendEmail, Tag
from postroom.domain.sending import Submission, prepare_send_email
from postroom.domain.templates import EmailTemplate, RenderedTemplate, render_template
from postroom.errors import ClientError, RenderingFailure, TemplateError
from postroom.wire import ids
from postroom.wire.addresses import parse_address
from postroom.wire.attachments import Attachment
from postroom.wire.mime import MAX_MESSAGE_SIZE, Content, build_simple_message

MAX_BULK_DESTINATIONS = 50


def template_does_not_exist(name: str) -> ClientError:
    return ClientError(f"Template {name} does not exist.", code="TemplateDoesNotExist")


@dataclass(frozen=True)
class TemplateRef:
    """Which template: by name, by ARN (`arn:aws:ses:<region>:<account>:template/<name>`),
    or inline (v2 `TemplateContent`)."""

    name: str | None = None
    arn: str | None = None
    inline: EmailTemplate | None = None


@dataclass(frozen=True)
class Recipients:
    to: list[str] = field(default_factory=list)
    cc: list[str] = field(default_factory=list)
    bcc: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class SendTemplated:
    source: str
    destination: Recipients
    template: TemplateRef
    data: str | None
    reply_to: list[str] = field(default_factory=list)
    return_path: str | None = None
    tags: list[Tag] = field(default_factory=list)
    configuration_set: str | None = None
    arns: Arns = Arns()
    operation: str = "SendTemplatedEmail"
    # v2 Template content: custom headers, attachments and the v2 size limit
    headers: list[tuple[str, str]] = field(default_factory=list)
    attachments: list[Attachment] = field(default_factory=list)
    max_size: int = MAX_MESSAGE_SIZE


@dataclass(frozen=True)
class BulkDestination:
    destination: Recipients
    data: str | None = None  # ReplacementTemplateData
    tags: list[Tag] = field(default_factory=list)  # ReplacementTags
    headers: list[tuple[str, str]] = field(default_factory=list)  # v2 ReplacementHeaders


@dataclass(frozen=True)
class SendBulkTemplated:
    source: str
    template: TemplateRef
    default_data: str | None
    destinations: list[BulkDestination]
    reply_to: list[str] = field(default_factory=list)
    return_path: str | None = None
    default_tags: list[Tag] = field(default_factory=list)
    configuration_set: str | None = None
    arns: Arns = Arns()
    operation: str = "SendBulkTemplatedEmail"
    # v2 DefaultContent.Template: headers (per entry, merged with ReplacementHeaders),
    # attachments (the same for every entry) and the v2 size limit
    default_headers: list[tuple[str, str]] = field(default_factory=list)
    attachments: list[Attachment] = field(default_factory=list)
    max_size: int = MAX_MESSAGE_SIZE


def merged_headers(
    defaults: list[tuple[str, str]], replacements: list[tuple[str, str]]
) -> list[tuple[str, str]]:
    """A bulk entry's headers (SES API v2 BulkEmailEntry.ReplacementHeaders): a template
    header not named in the entry is kept; one that is takes the entry's value; an entry
    header the template lacks is added.

    Where SES is silent: names match case-insensitively (RFC 5322 section 1.2.2), the
    replaced header keeps the template's place, and an entry that repeats a name replaces
    all of the template's headers of that name with all of its own."""
    given: dict[str, list[tuple[str, str]]] = {}
    for name, value in replacements:
        given.setdefault(name.lower(), []).append((name, value))
    replaced = set(given)
    merged: list[tuple[str, str]] = []
    for name, value in defaults:
        if name.lower() not in replaced:
            merged.append((name, value))
        else:
            merged += given.pop(name.lower(), [])  # once, where the template had it first
    return merged + [header for added in given.values() for header in added]


def template_name(caller: Caller, ref: TemplateRef) -> str:
    """The stored template's name; an ARN of another account or region names a template
    this caller cannot see."""
    if ref.arn:
        parts = ref.arn.split(":", 5)
        if len(parts) != 6 or parts[:3] != ["arn", "aws", "ses"] or not parts[5].startswith(
            "template/"
        ):
            raise ClientError(f"Invalid template ARN: {ref.arn}", code="InvalidParameterValue")
        name = parts[5].removeprefix("template/")
        if (parts[3], parts[4]) != (caller.region, caller.account_id):
            raise template_does_not_exist(name)
        if ref.name and ref.name != name:
            raise ClientError("TemplateName and TemplateArn disagree.")
        return name
    if not ref.name:
        raise ClientError("Template name must be specified.", code="MissingParameter")
    return ref.name


def prepare_templated(
    caller: Caller,
    request: SendTemplated,
    template: EmailTemplate,
    data: Mapping[str, Any],
    now: float,
) -> Submission:
    """Render and build the message; a rendering problem gives a message with a Rendering
    Failure event (admitted, never delivered)."""
    try:
        rendered = render_template(template, data)
    except RenderingFailure as failure:
        return _failed(caller, request, template, failure, now)
    return _submission(caller, request, rendered, now)


def _send_email(request: SendTemplated, rendered: RenderedTemplate) -> SendEmail:
    def content(text: str | None) -> Content | None:
        return None if text is None else Content(text, "UTF-8")

    return SendEmail(
        source=request.source,
        to=request.destination.to,
        cc=request.destination.cc,
        bcc=request.destination.bcc,
        subject=Content(rendered.subject, "UTF-8"),
        text=content(rendered.text),
        html=content(rendered.html),
        reply_to=request.reply_to,
        return_path=request.return_path,
        tags=request.tags,
        configuration_set=request.configuration_set,
        arns=request.arns,
        headers=request.headers,
        attachments=request.attachments,
        max_size=request.max_size,
    )


def _submission(
    caller: Caller, request: SendTemplated, rendered: RenderedTemplate, now: float
) -> Submission:
    submission = prepare_send_email(caller, _send_email(request, rendered), now)
    tags = {**submission.tags, "ses:operation": [request.operation]}
    return dataclasses.replace(submission, operation=request.operation, tags=tags)


def _failed(
    caller: Caller,
    request: SendTemplated,
    template: EmailTemplate,
    failure: TemplateError,
    now: float,
) -> Submission:
    """The message as far as it exists (headers, no body) with its Rendering Failure."""
    shell = _submission(caller, request, RenderedTemplate("", "", None), now)
    detail = {"errorMessage": failure.message, "templateName": template.name}
    recipients = [a.addr_spec for a in shell.recipients]
    event = events.Event(events.RENDERING_FAILURE, recipients, now, detail)
    return dataclasses.replace(shell, failure=event)


def preview(rendered: RenderedTemplate, region: str, now: float) -> str:
    """TestRenderTemplate's RenderedTemplate: the complete MIME message as it would be sent,
    without the envelope's addresses (SES's preview has no From or To)."""
    raw = build_simple_message(
        source=parse_address("preview@localhost"),
        to=[],
        cc=[],
        reply_to=[],
        subject=Content(rendered.subject, "UTF-8"),
        text=None if rendered.text is None else Content(rendered.text, "UTF-8"),
        html=None if rendered.html is None else Content(rendered.html, "UTF-8"),
        message_id=ids.message_id(region, now),
        mail_domain=ids.mail_domain(region),
        date=now,
    )
    head, _, rest = raw.partition(b"\r\n")  # From is always the first header
    assert head.startswith(b"From: ")
    return rest.decode("ascii")
