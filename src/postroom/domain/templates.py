"""Email templates with SES's limits and SES's Handlebars semantics (issue 9, section 3).

Pure: no storage, no protocol. The engine (dotpromptz-handlebars) is wrapped in
`postroom.domain.handlebars`; this module holds the SES rules.

Sources: [DG-API] Developer Guide "Using templates to send personalized email with the SES
API"; [DG-ADV] "Advanced email personalization"; [DG-EV] the Rendering Failure event example
("Attribute 'attributeName' is not present in the rendering data."); [M] botocore's `ses`
and `sesv2` models; [HB] handlebarsjs.com, which [DG-ADV] points to for everything else.

Limits
- Template size: 500 KB "including both the text and HTML parts" [DG-API]; we count the
  UTF-8 bytes of subject, text and HTML against 500 * 1024.
- TemplateData: at most 262,144 characters [M TemplateData], a JSON object.
- A template needs a text or an HTML part (ses-spec.md 9); the subject may be absent [M].
- Template name: the models say only "at least 1 character" [M EmailTemplateName]. We also
  take SES's console rule for names (letters, digits, `_`, `-`, at most 64), unverified
  against the API: a name that fails it is refused with InvalidParameterValue.
- Rendered message: at most 10 MB (SES v1's message size, ses-spec.md 4.2). Rendering stops
  as soon as the parts would pass it, and after `MAX_RENDER_STEPS` nodes and loop
  iterations, so a hostile template or data set cannot exhaust memory or CPU.

Semantics, construct by construct
- `{{x}}`, `{{a.b.c}}`, `{{this}}`, `{{../x}}`, `{{@root.x}}`: a path missing from the data
  is `MissingRenderingAttribute` "Attribute 'a.b.c' is not present in the rendering data."
  [DG-EV]; a present `null` renders as empty text, as in Handlebars.js strict mode [HB].
- No HTML escaping: `{{x}}` renders like `{{{x}}}` [DG-ADV note "SES doesn't escape HTML
  content"]. `{{{x}}}` and `{{&x}}` work too.
- `{{#if x}}`/`{{else}}`/`{{else if y}}`, `{{#unless x}}`: a missing `x` is falsy, not an
  error (SES's own `Preferences2` example [DG-ADV] relies on `{{#if subscription}}` for
  recipients without subscriptions). Falsy: missing, null, false, "", 0, [] [HB].
- `{{#each list}}` with `this`, `@index`, `@first`, `@last`; over an object with `@key`;
  `{{else}}` when empty or missing [DG-ADV, HB]. A scalar renders the `{{else}}` branch,
  as in Handlebars.js.
- `{{#with obj}}`: enters the object; missing or empty renders `{{else}}` [HB].
- Inline partials `{{#* inline "name"}}...{{/inline}}` and `{{> name}}`, defined per part
  [DG-ADV]; one line break right after `{{/inline}}` is not rendered [DG-ADV]. A partial
  used but defined nowhere in its part is `InvalidTemplate` [M InvalidTemplateException:
  "a template refers to a partial that does not exist"].
- Comments `{{! }}`/`{{!-- --}}`, whitespace control `~`, `\\{{` escapes, `lookup`, and a
  silent `log` [HB].
- An unknown helper (`{{#IF x}}`, `{{shout x}}`) is `MissingRenderingAttribute` naming it:
  SES reports a template with `{{#IF}}` as "Attribute 'IF' is not present in the rendering
  data." (quoted in public issue trackers of SES users).
- A helper used wrongly (`{{#if}}` without an argument, `{{#each a b}}`, a block `lookup`),
  partials recursing deeper than the nesting limit, or output past the limits:
  `InvalidRenderingParameter`.
- Values print as Handlebars.js prints them: true/false, 1.0 as 1, lists joined by commas,
  objects as `[object Object]` [HB].
- Bulk sends: DefaultTemplateData is merged under each destination's
  ReplacementTemplateData, top-level keys of the replacement winning (so a destination's
  `{}` falls back to the defaults entirely, ses-spec.md 9).
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from postroom.domain.handlebars import Program, RenderLimits, compile_part, render_part
from postroom.errors import InvalidParameterValue, InvalidRenderingParameter, InvalidTemplateData

MAX_TEMPLATE_BYTES = 500 * 1024
MAX_TEMPLATE_DATA_CHARS = 262_144
MAX_RENDERED_BYTES = 10 * 1024 * 1024
MAX_RENDER_STEPS = 1_000_000
MAX_TEMPLATE_NAME_LENGTH = 64
_TEMPLATE_NAME = re.compile(r"[A-Za-z0-9_-]+")

PART_NAMES = ("subject", "text", "html")


@dataclass(frozen=True)
class EmailTemplate:
    """A stored template: v1 `Template{TemplateName, SubjectPart, TextPart, HtmlPart}`,
    v2 `TemplateContent{Subject, Text, Html}` with its `TemplateName`."""

    name: str
    subject: str | None
    text: str | None
    html: str | None

    def parts(self) -> dict[str, str | None]:
        return {"subject": self.subject, "text": self.text, "html": self.html}


@dataclass(frozen=True)
class RenderedTemplate:
    """The rendered parts; a part absent from the template stays None (subject: "")."""

    subject: str
    text: str | None
    html: str | None


def check_template_name(name: str) -> None:
    if not name:
        raise InvalidParameterValue("Template name must not be empty.")
    if len(name) > MAX_TEMPLATE_NAME_LENGTH or not _TEMPLATE_NAME.fullmatch(name):
        raise InvalidParameterValue(
            f"Invalid template name <{name}>: use at most {MAX_TEMPLATE_NAME_LENGTH} "
            "alphanumeric ASCII characters, '_' and '-'."
        )


def new_template(
    name: str, subject: str | None, text: str | None, html: str | None
) -> EmailTemplate:
    """Build a template as CreateTemplate/UpdateTemplate accept it, or raise why not."""
    template = EmailTemplate(name=name, subject=subject, text=text, html=html)
    check_template(template)
    return template


def check_template(template: EmailTemplate) -> None:
    """Name, parts, size and syntax: InvalidParameterValue or InvalidTemplate."""
    check_template_name(template.name)
    if not template.text and not template.html:
        raise InvalidParameterValue("The template must contain a TextPart or an HtmlPart.")
    size = sum(len(part.encode("utf-8", "surrogatepass")) for part in _present(template))
    if size > MAX_TEMPLATE_BYTES:
        raise InvalidParameterValue(
            f"Template size {size} bytes exceeds the limit of {MAX_TEMPLATE_BYTES} bytes."
        )
    _compile(template)


def parse_template_data(raw: str | None) -> dict[str, Any]:
    """TemplateData (a JSON object string) as a dict, or `InvalidTemplateData`."""
    if raw is None:
        raise InvalidTemplateData("The template data is invalid: it is missing.")
    if len(raw) > MAX_TEMPLATE_DATA_CHARS:
        raise InvalidTemplateData(
            f"The template data is longer than {MAX_TEMPLATE_DATA_CHARS} characters."
        )
    try:
        data = json.loads(raw)
    except (ValueError, RecursionError) as exc:
        # ValueError: not JSON (or an integer past Python's digit limit);
        # RecursionError: arrays nested tens of thousands deep.
        raise InvalidTemplateData(f"The template data is invalid: {exc}") from None
    if not isinstance(data, dict):
        raise InvalidTemplateData("The template data is invalid: it must be a JSON object.")
    return data


def merge_template_data(
    default: Mapping[str, Any] | None, replacement: Mapping[str, Any] | None
) -> dict[str, Any]:
    """A bulk destination's data: DefaultTemplateData under ReplacementTemplateData,
    shallow (a replacement key replaces the default's whole value)."""
    return {**(default or {}), **(replacement or {})}


def render_template(
    template: EmailTemplate,
    data: Mapping[str, Any],
    *,
    max_bytes: int = MAX_RENDERED_BYTES,
    max_steps: int = MAX_RENDER_STEPS,
) -> RenderedTemplate:
    """Render subject, text and HTML; errors carry the failing part in `.part`.

    Raises InvalidTemplate, MissingRenderingAttribute or InvalidRenderingParameter.
    """
    programs = _compile(template)
    limits = RenderLimits(max_chars=max_bytes, max_steps=max_steps)
    rendered: dict[str, str | None] = {}
    total = 0
    for part, program in programs.items():
        if program is None:
            rendered[part] = None
            continue
        text = render_part(program, data, part, limits)
        total += len(text.encode("utf-8", "surrogatepass"))
        if total > max_bytes:
            raise InvalidRenderingParameter(
                f"The rendered message would be longer than {max_bytes} bytes.", part=part
            )
        rendered[part] = text
    return RenderedTemplate(
        subject=rendered["subject"] or "", text=rendered["text"], html=rendered["html"]
    )


def render_template_data(
    template: EmailTemplate, raw_data: str, *, max_bytes: int = MAX_RENDERED_BYTES
) -> RenderedTemplate:
    """TestRenderTemplate's core: parse the data string, then render."""
    return render_template(template, parse_template_data(raw_data), max_bytes=max_bytes)


def _present(template: EmailTemplate) -> list[str]:
    return [part for part in template.parts().values() if part is not None]


def _compile(template: EmailTemplate) -> dict[str, Program | None]:
    return {
        part: None if source is None else compile_part(source, part)
        for part, source in template.parts().items()
    }
