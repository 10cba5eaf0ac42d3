"""Email templates (issue 9, section 3): create, read, update, delete, list, test-render,
and send with them. SES v1 and v2 are two views of this one state, per account and region.

Limits [DG quotas]: 10,000 templates per account (per region, as every SES quota), 500 KB
per template (`domain/templates.py`). At send time a missing template or TemplateData
that is not a JSON object fails the call; a rendering problem does not (see
`domain/template_sending.py`).
"""

from __future__ import annotations

import asyncio
import base64
import binascii
from collections.abc import Sequence
from dataclasses import dataclass, field

from postroom.domain import template_sending as ts
from postroom.domain.callers import Caller, authorize
from postroom.domain.core import Core
from postroom.domain.ports import Tx
from postroom.domain.requests import Tag
from postroom.domain.templates import (
    EmailTemplate,
    check_template,
    check_template_name,
    merge_template_data,
    parse_template_data,
    render_template_data,
)
from postroom.domain.use_cases import tags as resource_tags
from postroom.domain.use_cases.sending import submit_messages
from postroom.errors import ClientError, InvalidParameterValue, InvalidTemplateData
from postroom.wire.attachments import check_attachments
from postroom.wire.mime import check_extra_headers

MAX_TEMPLATES = 10_000
DEFAULT_PAGE = 10
MAX_PAGE = 100


@dataclass(frozen=True)
class StoredTemplate:
    template: EmailTemplate
    created_at: float
    tags: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class TemplatePage:
    templates: list[tuple[str, float]]  # (name, created at)
    next_token: str | None = None


def _already_exists(name: str) -> ClientError:
    return ClientError(f"Template {name} already exists.", code="AlreadyExists")


def _arn(caller: Caller, name: str) -> str:
    return resource_tags.resource_arn(caller, "template", name)


async def create_template(
    core: Core, caller: Caller, template: EmailTemplate, tags: Sequence[tuple[str, str]] = ()
) -> None:
    """`tags` (v2 CreateEmailTemplate) are kept as the template's resource tags."""
    authorize(caller, "create_template")
    check_template(template)
    wanted = resource_tags.check_tags(tags)
    now, repo, where = core.now(), core.repos.templates, (caller.account_id, caller.region)
    arn = _arn(caller, template.name)

    def save(conn: Tx) -> None:
        if repo.count(conn, *where) >= MAX_TEMPLATES:
            raise ClientError(
                f"You have reached the limit of {MAX_TEMPLATES} templates.", code="LimitExceeded"
            )
        if not repo.insert(conn, *where, template, now):
            raise _already_exists(template.name)
        if wanted:
            resource_tags.add_tags(core, conn, caller.account_id, arn, wanted)

    await core.uow.write(save)


async def get_template(core: Core, caller: Caller, name: str) -> StoredTemplate:
    """The template, its creation time and its tags."""
    authorize(caller, "get_template")
    stored = await _load(core, caller, name)
    arn = _arn(caller, name)
    found = await core.uow.read(lambda conn: core.repos.tags.tags_of(conn, caller.account_id, arn))
    return StoredTemplate(stored.template, stored.created_at, found)


async def _load(core: Core, caller: Caller, name: str) -> StoredTemplate:
    where = (caller.account_id, caller.region, name)
    found = await core.uow.read(lambda conn: core.repos.templates.get(conn, *where))
    if found is None:
        raise ts.template_does_not_exist(name)
    return StoredTemplate(*found)


async def update_template(core: Core, caller: Caller, template: EmailTemplate) -> None:
    authorize(caller, "update_template")
    check_template(template)
    now, where = core.now(), (caller.account_id, caller.region)
    changed = await core.uow.write(
        lambda conn: core.repos.templates.replace(conn, *where, template, now)
    )
    if not changed:
        raise ts.template_does_not_exist(template.name)


async def delete_template(core: Core, caller: Caller, name: str) -> bool:
    """False if there was no such template (v1 answers success, v2 NotFoundException)."""
    authorize(caller, "delete_template")
    where, arn = (caller.account_id, caller.region, name), _arn(caller, name)

    def remove(conn: Tx) -> bool:
        if not core.repos.templates.remove(conn, *where):
            return False
        core.repos.tags.remove_all(conn, caller.account_id, arn)  # a new one starts untagged
        return True

    return await core.uow.write(remove)


async def list_templates(
    core: Core, caller: Caller, page_size: int | None, next_token: str | None
) -> TemplatePage:
    """By name; page size 1..100 (more is 100, none is 10: SES v1's ListTemplates)."""
    authorize(caller, "list_templates")
    if page_size is not None and page_size < 1:
        raise InvalidParameterValue("MaxItems must be at least 1.")
    size = min(page_size or DEFAULT_PAGE, MAX_PAGE)
    after = _decode_token(next_token) if next_token else None
    where = (caller.account_id, caller.region)
    rows = await core.uow.read(
        lambda conn: core.repos.templates.list_after(conn, *where, after, size + 1)
    )
    more = len(rows) > size
    rows = rows[:size]
    token = _encode_token(rows[-1][0]) if more else None
    return TemplatePage(rows, token)


def _encode_token(name: str) -> str:
    return base64.urlsafe_b64encode(name.encode()).decode()


def _decode_token(token: str) -> str:
    try:
        name = base64.urlsafe_b64decode(token.encode("ascii")).decode("ascii")
        check_template_name(name)
    except (ValueError, UnicodeError, binascii.Error, InvalidParameterValue):
        raise InvalidParameterValue("Invalid NextToken.") from None
    return name


async def test_render_template(core: Core, caller: Caller, name: str, data: str) -> str:
    """The complete MIME message the template and data would give (TestRenderTemplate).
    Data that is not a JSON object is InvalidRenderingParameter here, as on SES."""
    authorize(caller, "test_render_template")
    stored = await _load(core, caller, name)
    try:
        rendered = render_template_data(stored.template, data)
    except InvalidTemplateData as bad:
        raise InvalidTemplateData(bad.message, code="InvalidRenderingParameter") from None
    return ts.preview(rendered, caller.region, core.now())


async def _template_of(core: Core, caller: Caller, ref: ts.TemplateRef) -> EmailTemplate:
    if ref.inline is not None:
        check_template(ref.inline)
        return ref.inline
    return (await _load(core, caller, ts.template_name(caller, ref))).template


async def send_templated_email(core: Core, caller: Caller, request: ts.SendTemplated) -> str:
    """The MessageId; a rendering problem is recorded as a Rendering Failure, not raised."""
    authorize(caller, "send_templated_email")
    template = await _template_of(core, caller, request.template)
    data = parse_template_data(request.data)
    submission = ts.prepare_templated(caller, request, template, data, core.now())
    return await submit_messages(core, submission)


async def send_bulk_templated_email(
    core: Core, caller: Caller, request: ts.SendBulkTemplated
) -> list[str | ClientError]:
    """Each destination's MessageId or the error that refused it; the whole call fails
    only for a missing template, bad TemplateData, too many destinations or bad default
    headers or attachments.

    Where SES is silent: the default template's headers and attachments are part of the
    call, shared by every entry, so a bad one fails the call (400) rather than every entry
    alike; an entry's bad ReplacementHeaders fail that entry only (INVALID_PARAMETER, as
    an entry's bad address does)."""
    authorize(caller, "send_bulk_templated_email")
    if not request.destinations or len(request.destinations) > ts.MAX_BULK_DESTINATIONS:
        raise InvalidParameterValue(
            f"The number of destinations must be between 1 and {ts.MAX_BULK_DESTINATIONS}."
        )
    check_extra_headers(request.default_headers)
    check_attachments(request.attachments)
    template = await _template_of(core, caller, request.template)
    defaults = parse_template_data(request.default_data or "{}")
    singles = [
        (_single(request, d), merge_template_data(defaults, parse_template_data(d.data or "{}")))
        for d in request.destinations
    ]
    now = core.now()
    results: list[str | ClientError] = []
    pending = []
    for single, data in singles:
        try:
            submission = ts.prepare_templated(caller, single, template, data, now)
        except ClientError as refused:
            results.append(refused)
            continue
        results.append("")
        pending.append((len(results) - 1, submit_messages(core, submission)))
    answers = await asyncio.gather(*(job for _, job in pending), return_exceptions=True)
    for (index, _), answer in zip(pending, answers, strict=True):
        if isinstance(answer, BaseException) and not isinstance(answer, ClientError):
            raise answer
        results[index] = answer
    return results


def _single(request: ts.SendBulkTemplated, destination: ts.BulkDestination) -> ts.SendTemplated:
    return ts.SendTemplated(
        source=request.source,
        destination=destination.destination,
        template=request.template,
        data=None,
        reply_to=request.reply_to,
        return_path=request.return_path,
        tags=_merged_tags(request.default_tags, destination.tags),
        configuration_set=request.configuration_set,
        arns=request.arns,
        operation=request.operation,
        headers=ts.merged_headers(request.default_headers, destination.headers),
        attachments=request.attachments,
        max_size=request.max_size,
    )


def _merged_tags(defaults: list[Tag], replacements: list[Tag]) -> list[Tag]:
    """ReplacementTags replace the DefaultTags of the same name."""
    replaced = {tag.name for tag in replacements}
    return [tag for tag in defaults if tag.name not in replaced] + list(replacements)
