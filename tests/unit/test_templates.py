"""Templates: SES's documented examples, Handlebars constructs, errors and limits."""

from __future__ import annotations

import json

import pytest

from postroom.domain.templates import (
    MAX_TEMPLATE_BYTES,
    EmailTemplate,
    check_template,
    merge_template_data,
    new_template,
    parse_template_data,
    render_template,
    render_template_data,
)
from postroom.errors import (
    InvalidParameterValue,
    InvalidRenderingParameter,
    InvalidTemplate,
    InvalidTemplateData,
    MissingRenderingAttribute,
)


def html_only(source: str) -> EmailTemplate:
    return new_template("t", None, None, source)


def render_html(source: str, data: dict[str, object]) -> str:
    html = render_template(html_only(source), data).html
    assert html is not None
    return html


# --- SES's documented examples -------------------------------------------------------------

# Developer Guide, "Using templates to send personalized email with the Amazon SES API".
MY_TEMPLATE = new_template(
    "MyTemplate",
    "Greetings, {{name}}!",
    "Dear {{name}},\r\nYour favorite animal is {{favoriteanimal}}.",
    "<h1>Hello {{name}},</h1><p>Your favorite animal is {{favoriteanimal}}.</p>",
)


def test_documented_favoriteanimal_example() -> None:
    data = '{ "name":"Alejandro", "favoriteanimal": "alligator" }'
    rendered = render_template_data(MY_TEMPLATE, data)
    assert rendered.subject == "Greetings, Alejandro!"
    assert rendered.text == "Dear Alejandro,\r\nYour favorite animal is alligator."
    assert rendered.html == "<h1>Hello Alejandro,</h1><p>Your favorite animal is alligator.</p>"


def test_documented_missing_attribute_is_missing_rendering_attribute() -> None:
    with pytest.raises(MissingRenderingAttribute) as caught:
        render_template_data(MY_TEMPLATE, '{"name": "John"}')
    assert caught.value.code == "MissingRenderingAttribute"
    assert caught.value.message == (
        "Attribute 'favoriteanimal' is not present in the rendering data."
    )
    assert caught.value.part == "text"


# "Advanced email personalization": the guide's templates with the line breaks and extra
# spaces removed, as the guide tells its readers to do.
ANAYA = {
    "meta": {"userId": "51806220607"},
    "contact": {"firstName": "Anaya", "lastName": "Iyengar"},
    "subscription": [{"interest": "Sports"}, {"interest": "Travel"}, {"interest": "Cooking"}],
}
SHIRLEY_PREFERENCES2 = {
    "meta": {"userId": "1981624758263"},
    "contact": {"firstName": "Shirley", "lastName": "Rodriguez"},
}
DEFAULTS = {
    "meta": {"userId": ""},
    "contact": {"firstName": "Friend", "lastName": ""},
    "subscription": [],
}

PREFERENCES = new_template(
    "Preferences",
    "Subscription Preferences for {{contact.firstName}} {{contact.lastName}}",
    "Your Preferences\n\nYou have indicated that you are interested in receiving information "
    "about the following subjects:\n{{#each subscription}}- {{interest}}\n{{/each}}\nYou can "
    "change these settings at any time by visiting the Preference Center at "
    "https://www.example.com/prefererences/i.aspx?id={{meta.userId}}",
    "<h1>Your Preferences</h1><p>You have indicated that you are interested in receiving "
    "information about the following subjects:</p><ul>{{#each subscription}}<li>{{interest}}"
    "</li>{{/each}}</ul><p>You can change these settings at any time by visiting the <a "
    "href=https://www.example.com/prefererences/i.aspx?id={{meta.userId}}>Preference "
    "Center</a>.</p>",
)


def test_documented_nested_attribute() -> None:
    assert render_html("Hello {{contact.firstName}}!", ANAYA) == "Hello Anaya!"


def test_documented_each_over_a_list() -> None:
    rendered = render_template(PREFERENCES, merge_template_data(DEFAULTS, ANAYA))
    assert rendered.subject == "Subscription Preferences for Anaya Iyengar"
    assert rendered.html == (
        "<h1>Your Preferences</h1><p>You have indicated that you are interested in receiving "
        "information about the following subjects:</p><ul><li>Sports</li><li>Travel</li>"
        "<li>Cooking</li></ul><p>You can change these settings at any time by visiting the "
        "<a href=https://www.example.com/prefererences/i.aspx?id=51806220607>Preference "
        "Center</a>.</p>"
    )
    assert rendered.text == (
        "Your Preferences\n\nYou have indicated that you are interested in receiving "
        # `{{/each}}` stands alone on its line, so Handlebars drops that line.
        "information about the following subjects:\n- Sports\n- Travel\n- Cooking\nYou can "
        "change these settings at any time by visiting the Preference Center at "
        "https://www.example.com/prefererences/i.aspx?id=51806220607"
    )


PREFERENCES2_HTML = (
    "<h1>Your Preferences</h1><p>Dear {{contact.firstName}},</p>{{#if subscription}}<p>You "
    "have indicated that you are interested in receiving information about the following "
    "subjects:</p><ul>{{#each subscription}}<li>{{interest}}</li>{{/each}}</ul><p>You can "
    "change these settings at any time by visiting the <a href=https://www.example.com/"
    "prefererences/i.aspx?id={{meta.userId}}>Preference Center</a>.</p>{{else}}<p>Please "
    "update your subscription preferences by visiting the <a href=https://www.example.com/"
    "prefererences/i.aspx?id={{meta.userId}}>Preference Center</a>.{{/if}}"
)


@pytest.mark.parametrize("defaults", [DEFAULTS, None], ids=["with-defaults", "no-defaults"])
def test_documented_if_else(defaults: dict[str, object] | None) -> None:
    template = new_template("Preferences2", "x", None, PREFERENCES2_HTML)
    data = merge_template_data(defaults, SHIRLEY_PREFERENCES2)
    assert render_template(template, data).html == (
        "<h1>Your Preferences</h1><p>Dear Shirley,</p><p>Please update your subscription "
        "preferences by visiting the <a href=https://www.example.com/prefererences/"
        "i.aspx?id=1981624758263>Preference Center</a>."
    )
    with_interests = render_template(template, {**ANAYA, "subscription": ANAYA["subscription"][:1]})
    assert "<ul><li>Sports</li></ul>" in (with_interests.html or "")


def test_documented_inline_partial() -> None:
    # The guide's Preferences3, collapsed; its `{{/inline~}}\n` and the space in `{{#* inline`.
    html = (
        '{{#* inline "fullName"}}{{firstName}}{{#if lastName}} {{lastName}}{{/if}}'
        "{{/inline~}}\n<h1>Hello {{> fullName}}!</h1><p>You have listed the following people "
        "as your friends:</p><ul>{{#each friends}}<li>{{> fullName}}</li>{{/each}}</ul>"
    )
    text = (
        '{{#* inline "fullName"}}{{firstName}}{{#if lastName}} {{lastName}}{{/if}}'
        "{{/inline~}}\nHello {{> fullName}}! You have listed the following people as your "
        "friends:\n{{#each friends}}- {{> fullName}}\n{{/each}}"
    )
    template = new_template("Preferences3", "{{firstName}}'s Subscription Preferences", text, html)
    data = {
        "firstName": "Anaya",
        "lastName": "Iyengar",
        "friends": [{"firstName": "Shirley", "lastName": "Rodriguez"}, {"firstName": "Jo"}],
    }
    rendered = render_template(template, data)
    assert rendered.subject == "Anaya's Subscription Preferences"
    assert rendered.html == (
        "<h1>Hello Anaya Iyengar!</h1><p>You have listed the following people as your "
        "friends:</p><ul><li>Shirley Rodriguez</li><li>Jo</li></ul>"
    )
    assert rendered.text == (
        "Hello Anaya Iyengar! You have listed the following people as your friends:\n"
        "- Shirley Rodriguez\n- Jo\n"
    )


def test_the_newline_after_an_inline_block_is_not_rendered() -> None:
    source = '{{#* inline "p"}}{{a}}{{/inline}}\nHi {{> p}}'
    assert render_html(source, {"a": "A"}) == "Hi A"
    assert render_html(source.replace("\n", "\r\n"), {"a": "A"}) == "Hi A"


# --- Handlebars constructs -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("source", "data", "expected"),
    [
        (
            "{{#each xs}}{{@index}}:{{this}}{{#if @first}}^{{/if}}{{#if @last}}${{/if}} {{/each}}",
            {"xs": ["a", "b", "c"]},
            "0:a^ 1:b 2:c$ ",
        ),
        ("{{#each o}}{{@key}}={{this}};{{/each}}", {"o": {"x": 1, "y": 2}}, "x=1;y=2;"),
        ("{{#each xs}}x{{else}}none{{/each}}", {"xs": []}, "none"),
        ("{{#each missing}}x{{else}}none{{/each}}", {}, "none"),
        (
            "{{#each rows}}{{#each cells}}{{#if this}}{{this}}{{else}}-{{/if}}{{/each}}|{{/each}}",
            {"rows": [{"cells": [1, 0]}, {"cells": ["", "b"]}]},
            "1-|-b|",
        ),
        ("{{#each xs}}{{../label}}{{this}}{{/each}}", {"xs": [1, 2], "label": "#"}, "#1#2"),
        (
            "{{#with user}}{{name}} ({{../site}}){{/with}}",
            {"user": {"name": "N"}, "site": "S"},
            "N (S)",
        ),
        ("{{#with missing}}x{{else}}empty{{/with}}", {}, "empty"),
        ("{{#unless paid}}due{{/unless}}", {"paid": False}, "due"),
        ("{{#unless missing}}shown{{/unless}}", {}, "shown"),
        ("{{#if a}}A{{else if b}}B{{else}}C{{/if}}", {"b": 1}, "B"),
        ("{{#if zero}}y{{else}}n{{/if}}{{#if obj}}y{{/if}}", {"zero": 0, "obj": {}}, "ny"),
        ("a{{! short }}b{{!-- has }} inside --}}c", {}, "abc"),
        ("{{{x}}}|{{x}}|{{&x}}", {"x": "<b>"}, "<b>|<b>|<b>"),
        ("{{lookup o k}}", {"o": {"a": "A"}, "k": "a"}, "A"),
        (
            "{{t}} {{f}} {{n}} {{one}} {{half}} {{xs}}",
            {"t": True, "f": False, "n": None, "one": 1.0, "half": 0.5, "xs": [1, 2]},
            "true false  1 0.5 1,2",
        ),
        ("{{@root.top}}{{#each xs}}{{@root.top}}{{/each}}", {"top": "T", "xs": [1]}, "TT"),
        ("  {{~x~}}  ", {"x": "X"}, "X"),
        ("\\{{x}}", {}, "{{x}}"),
        ("{{log 'quiet'}}ok", {}, "ok"),
    ],
)
def test_constructs(source: str, data: dict[str, object], expected: str) -> None:
    assert render_html(source, data) == expected


def test_no_html_escaping_of_any_character() -> None:
    value = "<b>&amp;\"'`=</b>"
    assert render_html("{{v}}", {"v": value}) == value


def test_korean_text_utf8_throughout() -> None:
    template = new_template("ko", "{{name}}님, 임시 비밀번호", "{{name}}님: {{pw}}", None)
    rendered = render_template_data(template, '{"name": "김민수", "pw": "가나다"}')
    assert rendered.subject == "김민수님, 임시 비밀번호"
    assert rendered.text == "김민수님: 가나다"
    assert rendered.html is None


def test_absent_subject_renders_empty() -> None:
    assert render_template(new_template("t", None, "x", None), {}).subject == ""


def test_control_characters_pass_through() -> None:
    value = "a\x00b\x07c\x1bd\u2028e"
    assert render_html("[{{v}}]\x01", {"v": value}) == f"[{value}]\x01"


# --- errors ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("source", "data", "attribute"),
    [
        ("{{missing}}", {}, "missing"),
        ("{{contact.firstName}}", {"contact": {}}, "contact.firstName"),
        ("{{contact.firstName}}", {}, "contact.firstName"),
        ("{{#each xs}}{{name}}{{/each}}", {"xs": [{"name": "a"}, {}]}, "name"),
        ("{{#IF x}}y{{/IF}}", {"x": 1}, "IF"),
        ("{{shout x}}", {"x": 1}, "shout"),
        ('{{#*inline "p"}}{{gone}}{{/inline}}{{> p}}', {}, "gone"),
    ],
)
def test_missing_attribute(source: str, data: dict[str, object], attribute: str) -> None:
    with pytest.raises(MissingRenderingAttribute) as caught:
        render_html(source, data)
    assert caught.value.message == f"Attribute '{attribute}' is not present in the rendering data."
    assert caught.value.part == "html"


def test_the_failing_part_is_named() -> None:
    template = new_template("t", "{{a}}", "{{b}}", "{{c}}")
    with pytest.raises(MissingRenderingAttribute) as caught:
        render_template(template, {"a": 1, "b": 2})
    assert caught.value.part == "html"


@pytest.mark.parametrize(
    "source",
    [
        "{{#if}}x{{/if}}",
        "{{#if a b}}x{{/if}}",
        "{{#each}}x{{/each}}",
        "{{#with a b}}x{{/with}}",
        "{{#lookup o 'k'}}x{{/lookup}}",
    ],
)
def test_helper_used_wrongly_is_invalid_rendering_parameter(source: str) -> None:
    with pytest.raises(InvalidRenderingParameter) as caught:
        render_html(source, {"a": 1, "b": 2, "o": {"k": 1}})
    assert caught.value.code == "InvalidRenderingParameter"


@pytest.mark.parametrize(
    "raw",
    [
        "",
        "not json",
        "{'single': 1}",
        '{"a": 1',
        "[1, 2]",
        '"text"',
        "3",
        "null",
        "[" * 100_000,
        "1" * 5000,
    ],
)
def test_template_data_that_is_not_a_json_object(raw: str) -> None:
    with pytest.raises(InvalidTemplateData) as caught:
        parse_template_data(raw)
    assert isinstance(caught.value, InvalidParameterValue)


def test_template_data_length_limit() -> None:
    assert parse_template_data('{"a": "' + "x" * 262_130 + '"}')["a"]
    with pytest.raises(InvalidTemplateData):
        parse_template_data('{"a": "' + "x" * 262_140 + '"}')


def test_bulk_merge_replacement_wins_shallowly() -> None:
    default = {"name": "Friend", "contact": {"city": "Seoul", "zip": "1"}, "plan": "free"}
    replacement = {"name": "Anaya", "contact": {"city": "Bengaluru"}}
    assert merge_template_data(default, replacement) == {
        "name": "Anaya",
        "contact": {"city": "Bengaluru"},
        "plan": "free",
    }
    assert merge_template_data(default, {}) == default
    assert merge_template_data(None, None) == {}
    assert default["name"] == "Friend"  # inputs untouched


@pytest.mark.parametrize(
    "source",
    [
        "{{#if a}}x",
        "{{/if}}",
        "{{x",
        "{{#each xs}}x{{/with}}",
        "{{else}}",
        "{{}}",
        "{{#*inline}}x{{/inline}}",
        "{{* decorator}}",
        "{{{{raw}}}}x",
        "{{> nowhere}}",
        '{{#*inline "a"}}x{{/inline}}{{> b}}',
    ],
)
def test_invalid_template_syntax(source: str) -> None:
    with pytest.raises(InvalidTemplate) as caught:
        new_template("t", None, None, source)
    assert caught.value.code == "InvalidTemplate"
    assert caught.value.part == "html"


def test_partial_block_with_fallback_is_valid() -> None:
    assert render_html("{{#> nowhere}}fallback{{/nowhere}}", {}) == "fallback"


@pytest.mark.parametrize("name", ["", "a" * 65, "has space", "dot.ted", "slash/x", "ünï"])
def test_invalid_template_names(name: str) -> None:
    with pytest.raises(InvalidParameterValue):
        new_template(name, "s", "t", None)


def test_valid_template_name_limits() -> None:
    assert new_template("A-z_09" + "x" * 58, "s", "t", None).name.endswith("x")


def test_a_text_or_html_part_is_required() -> None:
    with pytest.raises(InvalidParameterValue):
        new_template("t", "subject only", None, None)


def test_template_size_limit_counts_utf8_bytes_of_all_parts() -> None:
    half = MAX_TEMPLATE_BYTES // 2
    check_template(EmailTemplate("t", "s", "a" * (half - 1), "b" * half))
    with pytest.raises(InvalidParameterValue):
        check_template(EmailTemplate("t", "s", "a" * half, "b" * half))
    with pytest.raises(InvalidParameterValue):
        check_template(EmailTemplate("t", None, "가" * (MAX_TEMPLATE_BYTES // 3 + 1), None))


def test_template_is_frozen() -> None:
    with pytest.raises(AttributeError):
        MY_TEMPLATE.name = "other"  # type: ignore[misc]


def test_json_round_trip_of_documented_bulk_data() -> None:
    raw = json.dumps(ANAYA)
    assert render_template(PREFERENCES, parse_template_data(raw)).subject.endswith("Iyengar")
