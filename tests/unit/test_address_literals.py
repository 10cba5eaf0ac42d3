"""One address validator for the API, verification and delivery (issue 8, item 5).

Domain literals (`user@[127.0.0.1]`) are refused as SES refuses them, so that neither a
send nor a verification mail can aim direct delivery at an IP address of the server's own
network; what is accepted is a mailbox at a valid host name, within RFC 5321's lengths.
"""

from __future__ import annotations

import pytest

from postroom.errors import InvalidParameterValue
from postroom.wire.addresses import parse_address, parse_address_header, parse_address_list


def refusal(text: str) -> str:
    with pytest.raises(InvalidParameterValue) as caught:
        parse_address(text)
    assert caught.value.code == "InvalidParameterValue"
    return caught.value.message


@pytest.mark.parametrize(
    "text",
    [
        "user@[127.0.0.1]",
        "user@[192.0.2.1]",
        "user@[IPv6:::1]",
        "user@[IPv6:2001:db8::1]",
        "u@[a;b<c>]",
        "u@[]",
        "Ann <user@[127.0.0.1]>",
        "user@[127.0.0.1] (comment)",
        "user@x.[127.0.0.1]",
        "user@[127.0.0.1].example",
    ],
)
def test_domain_literals_are_refused(text: str) -> None:
    assert refusal(text) == "Domain contains illegal character"


def test_literals_are_refused_in_headers_and_lists() -> None:
    with pytest.raises(InvalidParameterValue, match="Domain contains illegal character"):
        parse_address_header("a@example.com, b@[10.0.0.1]")
    with pytest.raises(InvalidParameterValue, match="Domain contains illegal character"):
        parse_address_list(["a@example.com", "b@[10.0.0.1]"])


@pytest.mark.parametrize(
    "text",
    [
        "user@127.0.0.1",  # a dotted quad is no host name: its top label is all digits
        "user@10.1",
        "user@-example.com",
        "user@example-.com",
        "user@sub.-example.com",
    ],
)
def test_domains_that_are_not_host_names_are_refused(text: str) -> None:
    assert refusal(text) == "Domain contains illegal character"


@pytest.mark.parametrize(
    "text",
    [
        "a" * 65 + "@example.com",  # local part > 64 (RFC 5321 4.5.3.1.1)
        "a@" + ".".join(["b" * 63] * 4) + ".c",  # domain > 255 (RFC 5321 4.5.3.1.2)
        "a@" + "b" * 64 + ".example",  # label > 63 (RFC 1035 2.3.4)
    ],
)
def test_overlong_parts_are_refused(text: str) -> None:
    assert refusal(text) == "Illegal address"


def test_longest_valid_parts_are_accepted() -> None:
    domain = ".".join(["b" * 63] * 3 + ["c" * 62])  # 254 characters
    assert parse_address("a" * 64 + "@" + domain).domain == domain
    assert parse_address("a@" + "b" * 63 + ".example").local == "a"
    assert parse_address("a@localhost").domain == "localhost"
    assert parse_address("a@x1.example-mail.com").domain == "x1.example-mail.com"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("a\tb@example.com", "Local address contains control or whitespace"),
        ("a\x7f@example.com", "Local address contains control or whitespace"),
        ("a@exam\tple.com", "Domain contains control or whitespace"),
        ("a@exam\x7fple.com", "Domain contains control or whitespace"),
        ("a@exam\x00ple.com", "Domain contains control or whitespace"),
        ("a@example.com\r\nRCPT TO:<b@example.com>", "Local address contains illegal character"),
        ("a@example.com\r\n", "Domain contains control or whitespace"),
    ],
)
def test_controls_and_whitespace_are_refused(text: str, message: str) -> None:
    assert refusal(text) == message


def test_idn_domains_are_checked_as_their_punycode() -> None:
    assert parse_address("a@bücher.example").domain == "xn--bcher-kva.example"
    # A label over 63 octets once in Punycode: the IDNA codec refuses it.
    assert refusal("a@" + "ü" * 60 + ".example") == "Domain contains illegal character"
