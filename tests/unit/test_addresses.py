"""Address validation with SES's (JavaMail's) rules and texts (ses-spec.md section 4.2)."""

from __future__ import annotations

import base64

import pytest

from postroom.errors import InvalidParameterValue
from postroom.wire.addresses import (
    Address,
    base_address,
    encode_words,
    format_phrase,
    parse_address,
    parse_address_header,
    parse_address_list,
)


def b_word(text: str) -> str:
    return f"=?utf-8?B?{base64.b64encode(text.encode()).decode()}?="


@pytest.mark.parametrize(
    ("text", "name", "local", "domain"),
    [
        ("a@example.com", "", "a", "example.com"),
        ("Ann Mathon <contact@annmathon.com.au>", "Ann Mathon", "contact", "annmathon.com.au"),
        ('"Mathon, Ann" <contact@annmathon.com.au>', "Mathon, Ann", "contact", "annmathon.com.au"),
        ("<a@example.com>", "", "a", "example.com"),
        ("  a@example.com\t", "", "a", "example.com"),
        ("a@example.com (Ann Mathon)", "Ann Mathon", "a", "example.com"),
        ('"john doe"@example.com', "", '"john doe"', "example.com"),
        ("user+label@Example.COM", "", "user+label", "Example.COM"),
        ('"Say \\"hi\\"" <a@example.com>', 'Say "hi"', "a", "example.com"),
        ('"a\\"b"@example.com', "", '"a\\"b"', "example.com"),
    ],
)
def test_valid_addresses(text: str, name: str, local: str, domain: str) -> None:
    addr = parse_address(text)
    assert (addr.raw, addr.display_name, addr.local, addr.domain) == (text, name, local, domain)
    assert addr.addr_spec == f"{local}@{domain}"


def test_domain_is_compared_lowercase_but_kept_as_given() -> None:
    addr = parse_address("a@Example.COM")
    assert addr.domain == "Example.COM"
    assert addr.domain_lower == "example.com"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "Invalid email address ."),
        ("   ", "Invalid email address ."),
        ("<>", "Invalid email address ."),
        ("@gmail.com", "Invalid email address ."),  # awsdocs/aws-doc-sdk-examples#1725
        ("a@b.com, c@d.com", "Illegal address"),
        ("Doe, John <j@example.com>", "Illegal address"),
        ("Ann <a@example.com> trailing", "Illegal address"),
        ("DEBUG: Bob <test@test.com>", "Local address contains illegal character"),  # botocore#1774
        ("github:haiodo", "Local address contains illegal character"),  # hcengineering#7864
        ("a[b]@example.com", "Local address contains illegal character"),
        ("bob", "Missing final '@domain'"),
        ("Bob <bob>", "Missing final '@domain'"),
        ("a b@example.com", "Local address contains control or whitespace"),
        ("jörg@example.com", "Local address contains illegal character"),
        ("a..b@example.com", "Local address contains dot-dot"),
        (".a@example.com", "Local address starts with dot"),
        ("a.@example.com", "Local address ends with dot"),
        ("a@exa mple.com", "Domain contains control or whitespace"),
        ("a@b_c.com", "Domain contains illegal character"),
        ("fromname@gmail.com%!", "Domain contains illegal character"),
        ("a@b@c.com", "Domain contains illegal character"),
        ("a@", "Missing domain"),
        ("a@.example.com", "Domain starts with dot"),
        ("a@example..com", "Domain contains dot-dot"),
        ("a@example.com.", "Domain ends with dot"),
        ("Ann <a@example.com", "Missing '>'"),
        ('"Ann <a@example.com>', "Missing '\"'"),
        ("a@example.com (Ann", "Missing ')'"),
        ("Ann> a@example.com", "Missing '<'"),
        ("a@example.com;", "Illegal semicolon, not in group"),
        ("a\\ b@example.com", "Local address contains illegal character"),
        (
            "=?utf-8?B?DQpCY2M6IHhAeS5jb20=?=@example.com",
            "Local address contains illegal character",
        ),
    ],
)
def test_invalid_addresses_use_ses_texts(text: str, message: str) -> None:
    with pytest.raises(InvalidParameterValue) as caught:
        parse_address(text)
    assert caught.value.message == message
    assert caught.value.code == "InvalidParameterValue"


def test_idn_domain_becomes_punycode() -> None:
    addr = parse_address("김철수 <kim@도메인.한국>")
    assert addr.domain == "xn--hq1bm8jm9l.xn--3e0b707e"
    assert addr.addr_spec == "kim@xn--hq1bm8jm9l.xn--3e0b707e"
    assert addr.display_name == "김철수"
    assert parse_address("a@Bücher.Example").domain == "xn--bcher-kva.Example"


def test_unicode_domain_can_be_refused_like_real_ses() -> None:
    with pytest.raises(InvalidParameterValue, match="Domain contains illegal character"):
        parse_address("a@bücher.example", allow_unicode_domain=False)
    assert parse_address("a@xn--bcher-kva.example", allow_unicode_domain=False)


@pytest.mark.parametrize(
    "text",
    [
        "=?utf-8?B?7ZWc6rWt7Ja0?= <kim@example.com>",
        '"=?utf-8?B?7ZWc6rWt7Ja0?=" <kim@example.com>',
        "=?UTF-8?Q?=ED=95=9C=EA=B5=AD=EC=96=B4?= <kim@example.com>",
        "한국어 <kim@example.com>",
    ],
)
def test_rfc2047_display_names_are_decoded(text: str) -> None:
    assert parse_address(text).display_name == "한국어"


def test_header_value_encodes_non_ascii_names() -> None:
    addr = parse_address("김철수 <kim@example.com>")
    assert addr.header_value == f"{b_word('김철수')} <kim@example.com>"
    assert addr.header_value.isascii()


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("Ann Mathon", "Ann Mathon"),
        ("Mathon, Ann", '"Mathon, Ann"'),
        ('Say "hi"', '"Say \\"hi\\""'),
        ("a\\b", '"a\\\\b"'),
    ],
)
def test_format_phrase_quotes_when_needed(name: str, expected: str) -> None:
    assert format_phrase(name) == expected


def test_long_or_encoded_looking_names_are_encoded() -> None:
    assert format_phrase("x" * 100).startswith("=?utf-8?B?")
    assert format_phrase("=?not really?=").startswith("=?utf-8?B?")


def test_encode_words_keeps_each_line_short_and_characters_whole() -> None:
    text = "가나다라마바사아자차카타파하" * 10
    words = encode_words(text).split(" ")
    assert all(len("Reply-To: " + w) <= 76 for w in words)
    decoded = b"".join(base64.b64decode(w[10:-2]) for w in words)
    assert decoded.decode("utf-8") == text  # every word decodes on its own, too
    for w in words:
        base64.b64decode(w[10:-2]).decode("utf-8")


@pytest.mark.parametrize(
    "text",
    [
        "Ann\r\nBcc: evil@example.com <a@example.com>",
        '"Ann\r\nBcc: evil@example.com" <a@example.com>',
        '"Ann\x00" <a@example.com>',
        f"{b_word('Ann' + chr(13) + chr(10) + 'Bcc: evil@example.com')} <a@example.com>",
        "a@example.com\r\nBcc: evil@example.com",
        "a@example.com\r\n",
        "\r\na@example.com",
        "a\r\n@example.com",
        "a@example.com\x00",
        "a@exam\nple.com",
    ],
)
def test_header_injection_is_refused(text: str) -> None:
    with pytest.raises(InvalidParameterValue):
        parse_address(text)


def test_parse_address_list_stops_at_the_first_bad_one() -> None:
    good = parse_address_list(["a@example.com", "B <b@example.com>"])
    assert [a.addr_spec for a in good] == ["a@example.com", "b@example.com"]
    with pytest.raises(InvalidParameterValue, match="Invalid email address ."):
        parse_address_list(["a@example.com", ""])


@pytest.mark.parametrize(
    ("value", "specs"),
    [
        ("a@example.com", ["a@example.com"]),
        ('a@example.com, "Doe, John" <j@example.com>,, ', ["a@example.com", "j@example.com"]),
        ("undisclosed-recipients:;", []),
        ("team: a@example.com, c@example.com; e@example.com", ["a", "c", "e"]),
        ("", []),
    ],
)
def test_address_headers(value: str, specs: list[str]) -> None:
    found = [a.addr_spec for a in parse_address_header(value)]
    assert found == [s if "@" in s else f"{s}@example.com" for s in specs]


def test_address_header_with_unterminated_group_fails_like_ses() -> None:
    with pytest.raises(InvalidParameterValue, match="Local address contains illegal character"):
        parse_address_header("DEBUG: Bob <test@test.com>")


@pytest.mark.parametrize(
    ("text", "base"),
    [
        ("user+label@example.com", "user@example.com"),
        ("user+a+b@example.com", "user@example.com"),
        ("user@example.com", "user@example.com"),
        ("+label@example.com", "+label@example.com"),
        ("Ann <ann+news@Example.com>", "ann@Example.com"),
    ],
)
def test_base_address(text: str, base: str) -> None:
    assert base_address(parse_address(text)) == base


def test_address_is_a_frozen_value() -> None:
    addr = parse_address("a@example.com")
    assert addr == Address("a@example.com", "", "a", "example.com")
    with pytest.raises(AttributeError):
        addr.local = "b"  # type: ignore[misc]


def test_overlong_addresses_are_refused() -> None:
    assert parse_address("a" * 64 + "@" + "b" * 63 + ".example")
    with pytest.raises(InvalidParameterValue, match="Illegal address"):
        parse_address("a" * 300 + "@" + "b" * 63 + ".example")
