"""Templates against hostile input: nesting, blow-ups, recursion, and a seeded fuzz loop."""

from __future__ import annotations

import json
import random
import time

import pytest

from postroom.domain.templates import (
    EmailTemplate,
    check_template,
    new_template,
    parse_template_data,
    render_template,
)
from postroom.errors import (
    InvalidParameterValue,
    InvalidRenderingParameter,
    InvalidTemplate,
    MissingRenderingAttribute,
)


def html_only(source: str) -> EmailTemplate:
    return new_template("t", None, None, source)


def test_moderate_nesting_renders() -> None:
    source = "{{#if a}}" * 40 + "deep" + "{{/if}}" * 40
    assert render_template(html_only(source), {"a": True}).html == "deep"


def test_deep_nesting_is_an_invalid_template() -> None:
    with pytest.raises(InvalidTemplate):
        html_only("{{#if a}}" * 5000 + "x" + "{{/if}}" * 5000)


def test_deeply_nested_data_is_bounded() -> None:
    deep: object = "x"
    for _ in range(50):
        deep = [deep]
    assert render_template(html_only("{{v}}"), {"v": deep}).html == "x"
    for _ in range(5000):  # JSON can nest this deep within 262,144 characters
        deep = [deep]
    with pytest.raises(InvalidRenderingParameter) as caught:
        render_template(html_only("{{v}}"), {"v": deep})
    assert "nested too deeply" in caught.value.message


def test_nested_each_over_a_large_array_is_refused_quickly() -> None:
    data = {"xs": list(range(100_000))}
    source = "{{#each xs}}{{#each ../xs}}{{#each ../../xs}}{{/each}}{{/each}}{{/each}}"
    started = time.monotonic()
    with pytest.raises(InvalidRenderingParameter):
        render_template(html_only(source), data)
    assert time.monotonic() - started < 10


def test_rendered_size_is_capped() -> None:
    data = {"big": "x" * 100_000, "xs": list(range(200))}
    with pytest.raises(InvalidRenderingParameter) as caught:
        render_template(html_only("{{#each xs}}{{../big}}{{/each}}"), data)
    assert "longer than" in caught.value.message
    small = render_template(html_only("{{#each xs}}{{../big}}{{/each}}"), {**data, "xs": [1, 2]})
    assert len(small.html or "") == 200_000


def test_the_cap_counts_all_parts_in_utf8_bytes() -> None:
    template = new_template("t", "{{v}}", "{{v}}", "{{v}}")
    data = {"v": "가" * 1000}  # 3000 bytes a part
    with pytest.raises(InvalidRenderingParameter):
        render_template(template, data, max_bytes=8000)
    assert render_template(template, data, max_bytes=9000).html == "가" * 1000


def test_exponential_partials_are_refused() -> None:
    # p1 renders p0 twice, p2 renders p1 twice, ...: 2**40 copies without any data.
    definitions = '{{#*inline "p0"}}xxxxxxxx{{/inline}}'
    for level in range(1, 41):
        call = "{{> p" + str(level - 1) + "}}"
        definitions += '{{#*inline "p' + str(level) + '"}}' + call + call + "{{/inline}}"
    started = time.monotonic()
    with pytest.raises(InvalidRenderingParameter):
        render_template(html_only(definitions + "{{> p40}}"), {}, max_steps=100_000)
    assert time.monotonic() - started < 10


def test_indented_partials_are_charged() -> None:
    lines = "\n".join(["{{#each xs}}", "{{this}}", "{{/each}}"])
    source = '{{#*inline "rows"}}' + lines + "{{/inline}}\n" + " " * 50_000 + "{{> rows}}\n"
    with pytest.raises(InvalidRenderingParameter):
        render_template(html_only(source), {"xs": list(range(500))}, max_bytes=1_000_000)


@pytest.mark.parametrize(
    "source",
    [
        '{{#*inline "me"}}x{{> me}}{{/inline}}{{> me}}',
        '{{#*inline "a"}}{{> b}}{{/inline}}{{#*inline "b"}}{{> a}}{{/inline}}{{> a}}',
        '{{#*inline "tree"}}{{name}}{{#each kids}}{{> tree}}{{/each}}{{/inline}}{{> tree}}',
    ],
)
def test_recursive_partials_stop_at_the_nesting_limit(source: str) -> None:
    node: dict[str, object] = {"name": "leaf", "kids": []}
    for _ in range(200):
        node = {"name": "n", "kids": [node]}
    with pytest.raises(InvalidRenderingParameter):
        render_template(html_only(source), node)


def test_tree_recursion_within_the_limit_renders() -> None:
    source = '{{#*inline "tree"}}({{name}}{{#each kids}}{{> tree}}{{/each}}){{/inline}}{{> tree}}'
    data = {"name": "a", "kids": [{"name": "b", "kids": []}, {"name": "c", "kids": []}]}
    assert render_template(html_only(source), data).html == "(a(b)(c))"


# --- seeded fuzz -----------------------------------------------------------------------------

SEEDS = [
    "Hello {{name}}, {{user.city}}!",
    "{{#each items}}<li>{{@index}} {{this.label}}{{#if @last}}.{{/if}}</li>{{else}}none{{/each}}",
    "{{#if flag}}yes {{{raw}}}{{else if other}}maybe{{else}}no{{/if}}",
    "{{#unless paid}}due{{/unless}}{{#with user}}{{name}} {{../name}}{{/with}}",
    '{{#* inline "full"}}{{first}} {{last}}{{/inline}}\n'
    "{{> full}} {{#each people}}{{> full}}{{/each}}",
    "{{!-- comment --}}{{! short }}{{lookup map key}} {{@root.name}} \\{{escaped}}",
    "{{#each map}}{{@key}}={{this}}&{{/each}} {{~name~}} {{{{raw}}}}{{x}}{{{{/raw}}}}",
    "{{name}}님, 임시 비밀번호 {{pw}} \x00\x1f\u2028",
]
TOKENS = [
    "{{",
    "}}",
    "{{{",
    "}}}",
    "{{#",
    "{{/",
    "{{else}}",
    "{{#if",
    "{{#each",
    "{{/each}}",
    "{{/if}}",
    "{{>",
    '"',
    "'",
    "~",
    "@index",
    "../",
    "this",
    ".",
    "[",
    "]",
    "(",
    ")",
    "=",
    "|",
    " as |x|",
    "{{!--",
    "--}}",
    "\\",
    "*",
    "inline",
    "\n",
    "{{{{",
    "}}}}",
    "\x00",
    "가",
]
EXPECTED = (
    InvalidTemplate,
    MissingRenderingAttribute,
    InvalidRenderingParameter,
    InvalidParameterValue,
)


def mutate(rng: random.Random, source: str) -> str:
    chars = list(source)
    for _ in range(rng.randint(1, 6)):
        position = rng.randint(0, len(chars))
        choice = rng.random()
        if choice < 0.4:
            chars[position:position] = list(rng.choice(TOKENS))
        elif choice < 0.7 and chars:
            del chars[min(position, len(chars) - 1)]
        elif choice < 0.85 and chars:
            start = rng.randint(0, len(chars) - 1)
            chars[position:position] = chars[start : start + rng.randint(1, 20)]
        else:
            chars[position:position] = [chr(rng.randint(0, 0x2FFF))]
    return "".join(chars)


def random_value(rng: random.Random, depth: int = 0) -> object:
    kind = rng.randint(0, 7 if depth < 3 else 4)
    scalars: list[object] = [None, True, False, 0, -1, 1.5, 1e300, "", "<b>&", "가나"]
    if kind <= 4:
        return rng.choice(scalars)
    if kind == 5:
        return [random_value(rng, depth + 1) for _ in range(rng.randint(0, 4))]
    keys = ["name", "items", "user", "flag", "map", "key", "first", "this", "@index", "0"]
    return {rng.choice(keys): random_value(rng, depth + 1) for _ in range(rng.randint(0, 5))}


def random_data(rng: random.Random) -> str:
    base: dict[str, object] = {
        "name": "N",
        "user": {"name": "U", "city": "C"},
        "items": [{"label": "a"}, "b"],
        "flag": True,
        "map": {"k": 1},
        "key": "k",
        "people": [{"first": "F", "last": "L"}],
        "first": "F",
        "last": "L",
        "pw": "p",
        "raw": "<i>",
        "paid": False,
    }
    for _ in range(rng.randint(0, 4)):
        base[rng.choice(list(base) + ["x", "other"])] = random_value(rng)
    text = json.dumps(base, ensure_ascii=rng.random() < 0.5)
    if rng.random() < 0.1:  # broken or non-object JSON now and then
        text = rng.choice([text[: rng.randint(0, len(text))], "[1]", '"s"', "nul", "{"])
    return text


def test_fuzz_raises_only_template_errors() -> None:
    rng = random.Random(20240909)
    outcomes: dict[str, int] = {}
    for _ in range(3000):
        source = mutate(rng, rng.choice(SEEDS))
        try:
            template = new_template("fuzz", source, source, None)
            rendered = render_template(
                template, parse_template_data(random_data(rng)), max_steps=20_000, max_bytes=200_000
            )
            assert isinstance(rendered.subject, str)
            outcome = "rendered"
        except EXPECTED as exc:
            outcome = type(exc).__name__
        outcomes[outcome] = outcomes.get(outcome, 0) + 1
    # The loop exercised every path, not just one kind of failure.
    assert {"rendered", "InvalidTemplate", "MissingRenderingAttribute"} <= set(outcomes)


def test_fuzz_unmutated_seeds_parse() -> None:
    for source in SEEDS:
        check_template(EmailTemplate("seed", None, source, None))
