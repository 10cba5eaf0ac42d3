"""Easy DKIM building blocks: tokens, signing as SES does, DNS status, rotation, and the
zone-file records for `postroom identities dns-records` (issue 3, items 0 and 5)."""

from __future__ import annotations

import base64
import dataclasses
import re
from collections.abc import Callable, Iterator

import dkim
import dkim.util
import dns.name
import dns.rdatatype
import dns.resolver
import dns.zone
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from postroom.domain.dkim import (
    SES_SIGNED_HEADERS,
    DkimKey,
    dkim_status,
    header_names_to_sign,
    is_token,
    new_key,
    new_tokens,
    record_name,
    record_public_key,
    seen_selectors,
    sign_message,
    signing_key,
    txt_record_value,
)
from postroom.domain.dns_records import txt_strings, zone_records
from postroom.testing.dns import TestDnsServer
from postroom.wire.addresses import parse_address
from postroom.wire.mime import Content, build_simple_message

NOW = 1_704_067_200.0  # 2024-01-01T00:00:00Z
DOMAIN = "example.com"
KOREAN_SUBJECT = "안녕하세요, 이번 주 회의 일정 안내드립니다. 참석 여부를 회신해 주세요."
KOREAN_TEXT = "김철수 님께,\n\n이번 주 회의는 목요일 오후 3시입니다.\n감사합니다."
KOREAN_HTML = "<p>김철수 님께,</p><p>이번 주 회의는 <b>목요일 오후 3시</b>입니다.</p>"
MAIL_FROM_MX = "feedback-smtp.us-east-1.amazonses.com"

DnsFunc = Callable[..., bytes | None]


# --- fixtures and helpers -------------------------------------------------------------------


@pytest.fixture(scope="module")
def tokens() -> list[DkimKey]:
    """The three Easy DKIM tokens, generated once: 2048-bit RSA takes a while."""
    return new_tokens(NOW)


@pytest.fixture(scope="module")
def key(tokens: list[DkimKey]) -> DkimKey:
    return tokens[0]


@pytest.fixture(scope="module")
def other_key() -> DkimKey:
    return new_key(NOW + 1)


def korean_message(**overrides: object) -> bytes:
    args: dict[str, object] = {
        "source": parse_address("김철수 <kim@example.com>"),
        "to": [parse_address("이영희 <lee@example.org>")],
        "cc": [parse_address("cc@example.net")],
        "reply_to": [parse_address("reply@example.com")],
        "subject": Content(KOREAN_SUBJECT),
        "text": Content(KOREAN_TEXT),
        "html": Content(KOREAN_HTML),
        "message_id": "0100018c5e1c4a11-2f7a1b0e-9c3d-4e5f-8a6b-1c2d3e4f5a6b-000000",
        "mail_domain": "email.amazonses.com",
        "date": NOW,
    }
    args.update(overrides)
    return build_simple_message(**args)  # type: ignore[arg-type]


def raw_utf8_message() -> bytes:
    """What SendRawEmail may carry: raw UTF-8 headers (RFC 6532) and an 8-bit body."""
    return (
        "From: 김철수 <kim@example.com>\r\n"
        "To: 이영희 <lee@example.org>\r\n"
        "Subject: 회의 일정 (raw UTF-8)\r\n"
        "Date: Mon, 01 Jan 2024 00:00:00 +0000\r\n"
        "Message-ID: <raw-1@example.com>\r\n"
        "X-Campaign: 겨울\r\n"
        "MIME-Version: 1.0\r\n"
        "Content-Type: text/plain; charset=utf-8\r\n"
        "Content-Transfer-Encoding: 8bit\r\n"
        "\r\n"
        "이번 주 회의는 목요일입니다.\r\n"
    ).encode()


def dns_from(*keys: DkimKey, domain: str = DOMAIN) -> DnsFunc:
    """A dkimpy dnsfunc answering the key records of `keys` and nothing else."""
    records = {f"{record_name(k.selector, domain)}.": txt_record_value(k) for k in keys}
    asked: list[str] = []

    def dnsfunc(name: bytes, timeout: int = 5) -> bytes | None:
        asked.append(name.decode())
        value = records.get(name.decode().lower())
        return value.encode() if value is not None else None

    dnsfunc.asked = asked  # type: ignore[attr-defined]
    return dnsfunc


def signature_tags(signed: bytes) -> dict[bytes, bytes]:
    """The tags of the first DKIM-Signature header, unfolded."""
    head = signed.split(b"\r\n\r\n", 1)[0]
    match = re.match(rb"DKIM-Signature:(.*?)\r\n(?=\S)", head, re.DOTALL)
    assert match is not None
    return dict(dkim.util.parse_tag_value(re.sub(rb"\r\n[ \t]", b" ", match.group(1))))


def signed_names(signed: bytes) -> list[str]:
    return [n.strip().decode() for n in signature_tags(signed)[b"h"].split(b":")]


# --- keys and tokens ------------------------------------------------------------------------


def test_three_tokens_of_ses_shape(tokens: list[DkimKey]) -> None:
    assert len(tokens) == 3
    assert len({t.selector for t in tokens}) == 3
    for token in tokens:
        assert re.fullmatch(r"[a-z0-9]{32}", token.selector)
        assert is_token(token.selector)
        assert token.created_at == NOW
    assert not is_token("Abc") and not is_token("a" * 33)


def test_key_pair_is_pkcs8_rsa_2048_and_p_is_its_public_key(key: DkimKey) -> None:
    assert key.private_key_pem.startswith(b"-----BEGIN PRIVATE KEY-----\n")
    private = serialization.load_pem_private_key(key.private_key_pem, password=None)
    assert isinstance(private, rsa.RSAPrivateKey)
    assert private.key_size == 2048
    public = serialization.load_der_public_key(base64.b64decode(key.public_key_b64))
    assert isinstance(public, rsa.RSAPublicKey)
    assert public.public_numbers() == private.public_key().public_numbers()


def test_keys_below_1024_bits_are_refused() -> None:
    with pytest.raises(ValueError, match="RFC 8301"):
        new_key(NOW, bits=512)


def test_txt_record_value(key: DkimKey) -> None:
    value = txt_record_value(key)
    assert value == f"v=DKIM1; k=rsa; p={key.public_key_b64}"
    assert record_public_key(value) == key.public_key_b64
    # dkimpy reads it as a key record
    pk, keysize, ktag, _ = dkim.evaluate_pk(b"x._domainkey.example.com.", value.encode())
    assert (keysize, ktag) == (2048, b"rsa")


def test_record_name_uses_a_labels() -> None:
    assert record_name("abc", "Example.COM.") == "abc._domainkey.example.com"
    assert record_name("abc", "한국.example") == "abc._domainkey.xn--3e0b707e.example"


# --- signing --------------------------------------------------------------------------------


def test_signed_korean_multipart_message_verifies(key: DkimKey) -> None:
    message = korean_message()
    assert b"multipart/alternative" in message
    signed = sign_message(message, domain=DOMAIN, key=key, now=NOW)
    dnsfunc = dns_from(key)
    assert dkim.verify(signed, dnsfunc=dnsfunc)
    assert dnsfunc.asked == [f"{key.selector}._domainkey.example.com."]  # type: ignore[attr-defined]


def test_signature_is_prepended_and_message_untouched(key: DkimKey) -> None:
    message = korean_message()
    signed = sign_message(message, domain=DOMAIN, key=key, now=NOW)
    assert signed.startswith(b"DKIM-Signature: v=1; ")
    assert signed.endswith(message)
    header = signed[: len(signed) - len(message)]
    assert header.endswith(b"\r\n")
    assert b"\n" not in header.replace(b"\r\n", b"")  # CRLF only, no bare CR or LF
    assert all(len(line) <= 78 for line in header.split(b"\r\n"))  # RFC 5322 2.1.1


def test_tags_are_sess_with_relaxed_relaxed(key: DkimKey) -> None:
    signed = sign_message(korean_message(), domain="Example.COM", key=key, now=NOW)
    tags = signature_tags(signed)
    assert [t for t in tags] == [b"v", b"a", b"q", b"c", b"s", b"d", b"t", b"h", b"bh", b"b"]
    assert tags[b"v"] == b"1"
    assert tags[b"a"] == b"rsa-sha256"
    assert tags[b"q"] == b"dns/txt"
    assert tags[b"c"] == b"relaxed/relaxed"
    assert tags[b"s"] == key.selector.encode()
    assert tags[b"d"] == b"example.com"
    assert tags[b"t"] == b"1704067200"


def test_h_lists_the_headers_ses_signs_in_message_order(key: DkimKey) -> None:
    signed = sign_message(korean_message(), domain=DOMAIN, key=key, now=NOW)
    assert signed_names(signed) == [
        "From",
        "Reply-To",
        "To",
        "Cc",
        "Subject",
        "Message-ID",
        "Date",
        "MIME-Version",
        "Content-Type",
    ]
    single = sign_message(korean_message(html=None), domain=DOMAIN, key=key, now=NOW)
    assert signed_names(single)[-2:] == ["Content-Type", "Content-Transfer-Encoding"]


def test_every_ses_header_is_signed_and_others_are_not(key: DkimKey) -> None:
    extra = [(name, "x") for name in SES_SIGNED_HEADERS if name != "From"]
    extra += [
        ("Feedback-ID", "1.us-east-1.abc:AmazonSES"),
        ("X-SES-Outgoing", "x"),
        ("Return-Path", "<b@example.com>"),
        ("Received", "from x"),
    ]
    head = "From: a@example.com\r\n" + "".join(f"{n}: {v}\r\n" for n, v in reversed(extra))
    signed = sign_message((head + "\r\nbody\r\n").encode(), domain=DOMAIN, key=key, now=NOW)
    names = signed_names(signed)
    assert sorted(names) == sorted(SES_SIGNED_HEADERS)
    assert names[0] == "From" and names[1] == "List-Unsubscribe-Post"  # message order
    assert dkim.verify(signed, dnsfunc=dns_from(key))


def test_header_names_keep_ses_spelling_and_repeats() -> None:
    headers = [
        (b"from", b"a"),
        (b"MESSAGE-ID", b"<x>"),
        (b"X-Other", b"y"),
        (b"To", b"b"),
        (b"to", b"c"),
    ]
    assert header_names_to_sign(headers) == [b"From", b"Message-ID", b"To", b"To"]


@pytest.mark.parametrize(
    ("old", "new"),
    [
        (b"Subject: =?utf-8?", b"Subject: =?UTF-8?"),  # signed header fields
        (b"<kim@example.com>", b"<kim@example.net>"),  # From
        (b"To: ", b"To: x@example.com, "),
        (b"Date: Mon", b"Date: Tue"),
        (b"Reply-To: reply@", b"Reply-To: attacker@"),
    ],
)
def test_tampering_a_signed_header_breaks_the_signature(
    key: DkimKey, old: bytes, new: bytes
) -> None:
    signed = sign_message(korean_message(), domain=DOMAIN, key=key, now=NOW)
    head, body = signed.split(b"\r\n\r\n", 1)
    tampered = head.replace(old, new, 1) + b"\r\n\r\n" + body
    assert tampered != signed
    assert not dkim.verify(tampered, dnsfunc=dns_from(key))


def test_tampering_the_body_breaks_the_signature(key: DkimKey) -> None:
    signed = sign_message(korean_message(), domain=DOMAIN, key=key, now=NOW)
    head, body = signed.split(b"\r\n\r\n", 1)
    # one character of the first part's encoded Korean text
    start = body.index(b"\r\n\r\n") + 4
    flipped = b"A" if body[start : start + 1] != b"A" else b"B"
    changed = body[:start] + flipped + body[start + 1 :]
    assert not dkim.verify(head + b"\r\n\r\n" + changed, dnsfunc=dns_from(key))
    assert not dkim.verify(signed + b"P.S. added\r\n", dnsfunc=dns_from(key))


def test_text_body_tampering_breaks_the_signature(key: DkimKey) -> None:
    message = korean_message(html=None, text=Content("plain ascii body\nline two"))
    signed = sign_message(message, domain=DOMAIN, key=key, now=NOW)
    assert dkim.verify(signed, dnsfunc=dns_from(key))
    assert not dkim.verify(signed.replace(b"line two", b"line 2"), dnsfunc=dns_from(key))


def test_relaxed_canonicalization_survives_refolding(key: DkimKey) -> None:
    """RFC 6376 3.4.2 / 3.4.4: whitespace changes relays make do not break it."""
    message = korean_message(html=None, text=Content("plain body\nline two"))
    signed = sign_message(message, domain=DOMAIN, key=key, now=NOW)
    refolded = signed.replace(b"MIME-Version: 1.0", b"MIME-Version:   1.0")
    refolded = refolded.replace(b"line two", b"line two   ")
    refolded = b"X-Added-By-Relay: yes\r\n" + refolded  # unsigned header
    assert dkim.verify(refolded, dnsfunc=dns_from(key))


def test_raw_utf8_headers_and_8bit_body_verify(key: DkimKey) -> None:
    message = raw_utf8_message()
    signed = sign_message(message, domain=DOMAIN, key=key, now=NOW)
    assert signed.endswith(message)
    assert "Subject" in signed_names(signed)
    assert dkim.verify(signed, dnsfunc=dns_from(key))
    tampered = signed.replace("회의 일정".encode(), "회의 취소".encode())
    assert not dkim.verify(tampered, dnsfunc=dns_from(key))


def test_wrong_key_or_missing_record_fails(key: DkimKey, other_key: DkimKey) -> None:
    signed = sign_message(korean_message(), domain=DOMAIN, key=key, now=NOW)
    wrong = dataclasses.replace(other_key, selector=key.selector)
    assert not dkim.verify(signed, dnsfunc=dns_from(wrong))
    assert not dkim.verify(signed, dnsfunc=dns_from(other_key))


def test_idn_and_long_domains(key: DkimKey) -> None:
    idn = sign_message(korean_message(), domain="한국.example", key=key, now=NOW)
    assert signature_tags(idn)[b"d"] == b"xn--3e0b707e.example"
    assert dkim.verify(idn, dnsfunc=dns_from(key, domain="xn--3e0b707e.example"))
    long_domain = "a" * 63 + ".b" * 5 + ".example.com"
    signed = sign_message(korean_message(), domain=long_domain, key=key, now=NOW)
    assert signature_tags(signed)[b"d"] == long_domain.encode()
    assert dkim.verify(signed, dnsfunc=dns_from(key, domain=long_domain))


def test_message_without_from_cannot_be_signed(key: DkimKey) -> None:
    with pytest.raises(ValueError, match="From"):
        sign_message(b"To: a@example.com\r\n\r\nbody\r\n", domain=DOMAIN, key=key, now=NOW)


def test_default_time_is_now(key: DkimKey) -> None:
    import time

    before = int(time.time())
    signed = sign_message(korean_message(), domain=DOMAIN, key=key)
    assert before <= int(signature_tags(signed)[b"t"]) <= int(time.time())


# --- DNS status and rotation ----------------------------------------------------------------


def published_for(*keys: DkimKey, domain: str = DOMAIN) -> dict[str, list[str]]:
    return {record_name(k.selector, domain): [txt_record_value(k)] for k in keys}


def test_status_success_only_when_every_token_is_published(tokens: list[DkimKey]) -> None:
    assert dkim_status({}, []) == "NotStarted"
    assert dkim_status({}, tokens) == "Pending"
    assert dkim_status(published_for(*tokens[:2]), tokens) == "Pending"
    assert dkim_status(published_for(*tokens), tokens) == "Success"
    assert dkim_status(published_for(*tokens), tokens, domain=DOMAIN) == "Success"
    assert dkim_status(published_for(*tokens), tokens, domain="example.org") == "Pending"


def test_status_reads_names_and_records_loosely(tokens: list[DkimKey]) -> None:
    several: dict[str, list[str]] = {}
    chunked: dict[str, list[str]] = {}
    for k in tokens:
        value = txt_record_value(k)
        name = f"{k.selector}._domainkey.Example.com.".upper()
        several[name] = ["v=spf1 -all", value]  # several records, one of them the key
        chunked[name] = [value[:255], value[255:]]  # one record's strings, not joined
    assert dkim_status(several, tokens, domain=DOMAIN) == "Success"
    assert dkim_status(chunked, tokens, domain=DOMAIN) == "Success"
    spaced = {
        record_name(k.selector, DOMAIN): [
            f"k=rsa;  p = {k.public_key_b64[:100]} {k.public_key_b64[100:]} ;"
        ]
        for k in tokens
    }
    assert dkim_status(spaced, tokens) == "Success"  # RFC 6376 3.6.1: FWS in p=


def test_status_pending_when_record_has_another_key(
    tokens: list[DkimKey], other_key: DkimKey
) -> None:
    published = published_for(*tokens)
    published[record_name(tokens[1].selector, DOMAIN)] = [txt_record_value(other_key)]
    assert seen_selectors(published, tokens) == {tokens[0].selector, tokens[2].selector}
    assert dkim_status(published, tokens) == "Pending"
    revoked = published_for(*tokens)
    revoked[record_name(tokens[2].selector, DOMAIN)] = ["v=DKIM1; k=rsa; p="]  # RFC 6376 3.6.1
    assert dkim_status(revoked, tokens) == "Pending"


def test_record_public_key_rejects_non_dkim_records() -> None:
    assert record_public_key("v=spf1 include:amazonses.com ~all") is None
    assert record_public_key("v=DKIM1; k=ed25519; p=abc") is None
    assert record_public_key("p=abc") == "abc"


def test_signing_key_moves_to_a_new_key_only_once_it_is_seen(
    key: DkimKey, other_key: DkimKey
) -> None:
    old = dataclasses.replace(key, created_at=NOW)
    new = dataclasses.replace(other_key, created_at=NOW + 86_400)
    assert signing_key([old], set()) is None  # nothing published: do not sign
    assert signing_key([old], {old.selector}) == old
    # the new key is announced, not yet in DNS: keep signing with the old one (no gap)
    assert signing_key([new, old], {old.selector}) == old
    # once it is seen, signing moves to it, whatever the list order
    assert signing_key([new, old], {old.selector, new.selector}) == new
    assert signing_key([old, new], {old.selector, new.selector}) == new
    # the old record may go away afterwards
    assert signing_key([old, new], {new.selector}) == new


def test_rotation_signatures_verify_against_what_dns_holds(
    key: DkimKey, other_key: DkimKey
) -> None:
    old = dataclasses.replace(key, created_at=NOW)
    new = dataclasses.replace(other_key, created_at=NOW + 1)
    published = published_for(old)
    for step in ("before", "after"):
        seen = seen_selectors(published, [old, new], domain=DOMAIN)
        chosen = signing_key([old, new], seen)
        assert chosen is not None
        signed = sign_message(korean_message(), domain=DOMAIN, key=chosen, now=NOW)
        in_dns = [k for k in (old, new) if k.selector in seen]
        assert dkim.verify(signed, dnsfunc=dns_from(*in_dns))
        assert chosen == (old if step == "before" else new)
        published.update(published_for(new))


# --- zone-file records ----------------------------------------------------------------------


def parse_zone(lines: list[str], origin: str = DOMAIN) -> dns.zone.Zone:
    text = f"$ORIGIN {origin}.\n" + "\n".join(lines) + "\n"
    return dns.zone.from_text(text, origin=origin, relativize=False, check_origin=False)


def txt_of(zone: dns.zone.Zone, name: str) -> list[list[bytes]]:
    rdataset = zone.find_rdataset(dns.name.from_text(name), dns.rdatatype.TXT)
    return [list(rdata.strings) for rdata in rdataset]


def all_records(tokens: list[DkimKey], **overrides: object) -> list[str]:
    args: dict[str, object] = {
        "verification_token": "eoEmxw+YaYhb3h3iVJHuXMJXqeu1q1/wwmvjuEXAMPLE",
        "dkim_keys": tokens,
        "mail_from_domain": "bounce.example.com",
        "mail_from_mx": MAIL_FROM_MX,
        "spf_include": "amazonses.com",
        "dmarc_rua": "dmarc-reports@example.com",
    }
    args.update(overrides)
    return zone_records(DOMAIN, **args)  # type: ignore[arg-type]


def test_zone_records_parse_back(tokens: list[DkimKey]) -> None:
    lines = all_records(tokens)
    zone = parse_zone(lines)
    assert txt_of(zone, "_amazonses.example.com.") == [
        [b"eoEmxw+YaYhb3h3iVJHuXMJXqeu1q1/wwmvjuEXAMPLE"]
    ]
    for token in tokens:
        (strings,) = txt_of(zone, f"{token.selector}._domainkey.example.com.")
        assert len(strings) == 2  # a 2048-bit key record is longer than 255 octets
        assert all(len(s) <= 255 for s in strings) and len(strings[0]) == 255
        assert b"".join(strings).decode() == txt_record_value(token)
    mx = zone.find_rdataset(dns.name.from_text("bounce.example.com."), dns.rdatatype.MX)
    assert [(r.preference, r.exchange.to_text()) for r in mx] == [(10, MAIL_FROM_MX + ".")]
    assert txt_of(zone, "bounce.example.com.") == [[b"v=spf1 include:amazonses.com ~all"]]
    assert txt_of(zone, "_dmarc.example.com.") == [
        [b"v=DMARC1; p=none; rua=mailto:dmarc-reports@example.com"]
    ]
    for rdataset_name in ("_amazonses", "_dmarc", "bounce"):
        node = zone.find_node(dns.name.from_text(f"{rdataset_name}.example.com."))
        assert all(r.ttl == 1800 for r in node.rdatasets)


def test_zone_records_have_comments_and_absolute_names(tokens: list[DkimKey]) -> None:
    lines = all_records(tokens)
    comments = [line for line in lines if line.startswith(";")]
    assert len(comments) == 4  # verification, DKIM, MAIL FROM, DMARC
    records = [line for line in lines if not line.startswith(";")]
    assert len(records) == 1 + 3 + 2 + 1
    assert all(line.split()[0].endswith(".example.com.") for line in records)
    assert records[1].startswith(f"{tokens[0].selector}._domainkey.example.com. 1800 IN TXT ")


def test_zone_records_leave_out_groups_not_configured(tokens: list[DkimKey]) -> None:
    lines = all_records([], verification_token=None, mail_from_domain=None, dmarc_rua=None)
    assert [line for line in lines if not line.startswith(";")] == [
        '_dmarc.example.com. 1800 IN TXT "v=DMARC1; p=none"'
    ]
    zone = parse_zone(all_records(tokens[:1], mail_from_domain=None))
    assert zone.get_node(dns.name.from_text("bounce.example.com.")) is None


def test_txt_strings_split_by_octets_and_escape() -> None:
    data = 'a"b\\c ' + "한" * 100 + "x" * 300
    strings = txt_strings(data)
    zone = parse_zone([f"t 60 IN TXT {' '.join(strings)}"])
    (parsed,) = txt_of(zone, "t.example.com.")
    assert all(len(s) <= 255 for s in parsed)
    assert b"".join(parsed).decode("utf-8") == data
    assert txt_strings("") == ['""']


# --- with a real DNS server on loopback -----------------------------------------------------


@pytest.fixture
def resolver(dns_server: TestDnsServer) -> Iterator[dns.resolver.Resolver]:
    res = dns.resolver.Resolver(configure=False)
    res.nameservers = [dns_server.address[0]]
    res.port = dns_server.address[1]
    res.lifetime = 5
    yield res


def resolver_dnsfunc(res: dns.resolver.Resolver) -> DnsFunc:
    """dkimpy's dnsfunc over dnspython: the TXT strings joined (RFC 6376 3.6.2.2)."""

    def dnsfunc(name: bytes, timeout: int = 5) -> bytes | None:
        try:
            answer = res.resolve(name.decode(), "TXT")
        except (dns.resolver.NXDOMAIN, dns.resolver.NoAnswer):
            return None
        return b"".join(answer[0].strings)

    return dnsfunc


def published_in(res: dns.resolver.Resolver, keys: list[DkimKey]) -> dict[str, list[str]]:
    published: dict[str, list[str]] = {}
    for k in keys:
        name = record_name(k.selector, DOMAIN)
        try:
            answer = res.resolve(name, "TXT")
        except (dns.resolver.NXDOMAIN, dns.resolver.NoAnswer):
            continue
        published[name] = [b"".join(r.strings).decode() for r in answer]
    return published


def test_verify_against_test_dns_server(
    dns_server: TestDnsServer, resolver: dns.resolver.Resolver, tokens: list[DkimKey]
) -> None:
    assert dkim_status(published_in(resolver, tokens), tokens) == "Pending"
    for token in tokens:
        dns_server.add(record_name(token.selector, DOMAIN), "TXT", txt_record_value(token))
    assert dkim_status(published_in(resolver, tokens), tokens, domain=DOMAIN) == "Success"
    seen = seen_selectors(published_in(resolver, tokens), tokens, domain=DOMAIN)
    chosen = signing_key(tokens, seen)
    assert chosen is not None
    signed = sign_message(korean_message(), domain=DOMAIN, key=chosen, now=NOW)
    assert dkim.verify(signed, dnsfunc=resolver_dnsfunc(resolver))
    assert (f"{chosen.selector}._domainkey.example.com.", "TXT") in dns_server.queries
    dns_server.remove(record_name(chosen.selector, DOMAIN))
    assert not dkim.verify(signed, dnsfunc=resolver_dnsfunc(resolver))
