"""Handlebars as SES renders it: dotpromptz-handlebars, configured, bounded and translated.

The engine is `dotpromptz-handlebars` (pure Python, Handlebars.js 4.7 semantics), pinned to
an exact version in pyproject.toml because this module hooks three of its private render
functions to enforce a budget (see `_install_budget_hooks`). SES's behaviour and where each
rule comes from are described in `postroom.domain.templates`; this module only knows the
engine:

- `compile_part(source, part)` parses one template part, raising `InvalidTemplate`.
- `render_part(program, data, part, limits)` renders it, raising `MissingRenderingAttribute`
  or `InvalidRenderingParameter`.

Nothing else in Postroom imports `dotpromptz_handlebars`.
"""

from __future__ import annotations

import contextvars
import re
from collections.abc import Callable, Mapping, Sized
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import dotpromptz_handlebars as engine
from dotpromptz_handlebars import _render as engine_internals

from postroom.errors import InvalidRenderingParameter, InvalidTemplate, MissingRenderingAttribute

# Nesting of blocks and partials the engine accepts (its own default). Deeper templates
# are refused when parsed (InvalidTemplate), deeper partial recursion when rendered.
MAX_NESTING = 100

Program = list[Any]


@dataclass(frozen=True)
class RenderLimits:
    """Work and output bounds for one rendering (all parts of one message share them)."""

    max_chars: int
    max_steps: int


class _BudgetExceeded(Exception):
    def __init__(self, what: str) -> None:
        super().__init__(what)
        self.what = what


class _Budget:
    """What one rendering may still spend; the hooks charge it, nothing else reads it."""

    def __init__(self, limits: RenderLimits) -> None:
        self.limits = limits
        self.chars = 0
        self.steps = 0

    def spend_steps(self, count: int) -> None:
        self.steps += count
        if self.steps > self.limits.max_steps:
            raise _BudgetExceeded("steps")

    def spend_chars(self, count: int) -> None:
        self.chars += count
        if self.chars > self.limits.max_chars:
            raise _BudgetExceeded("chars")


_BUDGET: contextvars.ContextVar[_Budget | None] = contextvars.ContextVar(
    "postroom_template_budget", default=None
)


def _install_budget_hooks() -> None:
    """Charge every rendered node, every loop iteration and every partial indent.

    The engine renders recursively and builds strings as it goes, so a template such as
    nested `{{#each}}` over a large array, or partials calling partials ten times per
    level, would exhaust memory before any check on the result. The engine calls these
    three module functions through module globals, so wrapping them meters all of its
    work. Outside `render_part` (no budget set) the wrappers only pass through.
    """
    render_one = engine_internals._render_one
    iterate = engine_internals._iterate
    apply_indent = engine_internals._apply_indent

    def metered_render_one(node: Any, **env: Any) -> str:
        budget = _BUDGET.get()
        if budget is None:
            return render_one(node, **env)
        budget.spend_steps(1)
        text = render_one(node, **env)
        # Text and {{value}} are where output is born; blocks and partials join them.
        if isinstance(node, (engine.Text, engine.Mustache)):
            budget.spend_chars(len(text))
        return text

    def metered_iterate(items: Any, body: Any, inverse: Any, params: Any, env: Any) -> str:
        budget = _BUDGET.get()
        if budget is not None and isinstance(items, Sized):
            budget.spend_steps(len(items))
        return iterate(items, body, inverse, params, env)

    def metered_apply_indent(text: str, indent: str) -> str:
        budget = _BUDGET.get()
        if budget is not None and indent:
            budget.spend_chars(text.count("\n") * len(indent))
        return apply_indent(text, indent)

    engine_internals._render_one = metered_render_one
    engine_internals._iterate = metered_iterate
    engine_internals._apply_indent = metered_apply_indent


_install_budget_hooks()


def _lookup(args: list[Any], options: engine.HelperOptions) -> Any:
    """Handlebars' `lookup`, refused as a block: its value would escape the budget."""
    if options.is_block:
        raise ValueError("lookup is not a block helper")
    collection, key = (args + [None, None])[:2]
    name = _property_name(key)
    if name is None:
        return None
    if isinstance(collection, Mapping):
        return collection.get(name)
    if isinstance(collection, list) and name.isdigit():
        index = int(name)
        return collection[index] if index < len(collection) else None
    return None


def _property_name(key: Any) -> str | None:
    """`key` as JavaScript turns it into a property name (`obj[key]`); None: no such key."""
    if isinstance(key, str):
        return key
    if isinstance(key, bool):
        return "true" if key else "false"
    if isinstance(key, int):
        return str(key)
    if isinstance(key, float) and key.is_integer() and abs(key) < 1e21:
        return str(int(key))
    return None


def _log(args: list[Any], options: engine.HelperOptions) -> str:
    # Handlebars.js logs to the console; a mail server prints nothing on a tenant's behalf.
    return ""


# The engine's built-ins (if, unless, each, with) plus Handlebars.js's two helpers.
_HELPERS: dict[str, Callable[..., Any]] = {"lookup": _lookup, "log": _log}

# SES's own examples write `{{#* inline "name"}}` (a space after `*`), which Handlebars.js
# accepts and the engine does not: close the gap before parsing.
_SPACED_INLINE = re.compile(r"\{\{(~?)#\*\s+inline(?=[\s~}])")
_PARSE_ERRORS = (ValueError, IndexError, KeyError, TypeError, AttributeError, RecursionError)


def compile_part(source: str, part: str) -> Program:
    """Parse one template part; `InvalidTemplate` when it is not valid Handlebars."""
    try:
        program = _compile_cached(source)
    except _PARSE_ERRORS as exc:
        raise InvalidTemplate(f"Invalid template in {part} part: {exc}", part=part) from None
    missing = sorted(_partials_used(program) - _partials_defined(program))
    if missing:
        # The model's own words for InvalidTemplate: "a partial that does not exist".
        raise InvalidTemplate(
            f"The partial {missing[0]} could not be found in the {part} part.", part=part
        )
    return program


@lru_cache(maxsize=256)
def _compile_cached(source: str) -> Program:
    program: Program = engine_internals.compile_template(
        _SPACED_INLINE.sub(r"{{\1#*inline", source), max_depth=MAX_NESTING
    )
    _drop_newline_after_inline(program)
    return program


def _drop_newline_after_inline(nodes: Program) -> None:
    """SES: "The newline character (\\n) is required to separate the {{inline}} block
    from the content in your template. The newline isn't rendered in the final output."
    (Developer Guide, Advanced email personalization, Creating inline partials.)"""
    for index, node in enumerate(nodes):
        for child in _children(node):
            _drop_newline_after_inline(child)
        if isinstance(node, engine.InlinePartial) and index + 1 < len(nodes):
            following = nodes[index + 1]
            if isinstance(following, engine.Text):
                value = following.value
                if value.startswith("\r\n"):
                    following.value = value[2:]
                elif value.startswith("\n"):
                    following.value = value[1:]


def _children(node: Any) -> list[Program]:
    if isinstance(node, engine.Block):
        return [node.body, node.inverse]
    if isinstance(node, (engine.InlinePartial, engine.PartialBlock, engine.ElseNode)):
        return [node.body]
    return []


def _walk(nodes: Program) -> list[Any]:
    found: list[Any] = []
    stack = [nodes]
    while stack:
        for node in stack.pop():
            found.append(node)
            stack.extend(_children(node))
    return found


def _partials_used(program: Program) -> set[str]:
    # Dynamic names `{{> (expr)}}` are only known when rendered; a partial block
    # `{{#> name}}fallback{{/name}}` renders its fallback when the partial is missing.
    return {
        node.name
        for node in _walk(program)
        if isinstance(node, engine.Partial) and not node.name.startswith("(")
    }


def _partials_defined(program: Program) -> set[str]:
    return {node.name for node in _walk(program) if isinstance(node, engine.InlinePartial)}


_MISSING_HELPER = re.compile(r'^Missing helper: "(.*)"$', re.DOTALL)
_MISSING_PARTIAL = re.compile(r"^The partial (.*) could not be found$", re.DOTALL)


def render_part(program: Program, data: Mapping[str, Any], part: str, limits: RenderLimits) -> str:
    """Render one parsed part with SES's semantics (strict lookups, no HTML escaping)."""
    token = _BUDGET.set(_Budget(limits))
    try:
        return _render_program(program, data)
    except engine.StrictModeError as exc:
        raise _missing_attribute(exc.path, part) from None
    except _BudgetExceeded as exc:
        raise InvalidRenderingParameter(_budget_message(exc.what, limits), part=part) from None
    except engine.TemplateRecursionError:
        raise InvalidRenderingParameter(
            f"The {part} part nests blocks or partials deeper than {MAX_NESTING} levels.",
            part=part,
        ) from None
    except RecursionError:
        raise InvalidRenderingParameter(
            f"The data is nested too deeply to render the {part} part.", part=part
        ) from None
    except ValueError as exc:
        raise _render_error(str(exc), part) from None
    finally:
        _BUDGET.reset(token)


def _render_program(program: Program, data: Mapping[str, Any]) -> str:
    render: Callable[..., str] = engine_internals.render_program
    return render(
        program,
        data,
        data=None,
        helpers=_HELPERS,
        partials={},
        escape_html=False,
        strict=True,
        max_depth=MAX_NESTING,
    )


def _missing_attribute(name: str, part: str) -> MissingRenderingAttribute:
    # SES's text, as quoted in its Rendering Failure event example.
    return MissingRenderingAttribute(
        f"Attribute '{name}' is not present in the rendering data.", part=part
    )


def _render_error(message: str, part: str) -> Exception:
    helper = _MISSING_HELPER.match(message)
    if helper:
        # SES reports `{{#IF x}}` (no such helper) as "Attribute 'IF' is not present ...".
        return _missing_attribute(helper.group(1), part)
    partial = _MISSING_PARTIAL.match(message)
    if partial:
        return InvalidTemplate(f"The partial {partial.group(1)} could not be found.", part=part)
    return InvalidRenderingParameter(f"Cannot render the {part} part: {message}", part=part)


def _budget_message(what: str, limits: RenderLimits) -> str:
    if what == "chars":
        return f"The rendered message would be longer than {limits.max_chars} characters."
    return f"Rendering takes more than {limits.max_steps} steps."
