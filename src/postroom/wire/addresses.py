"""Email-address parsing and validation with Amazon SES's rules and error texts (pure, no I/O).

SES validates addresses with JavaMail's `InternetAddress` (its error texts are JavaMail's:
`Missing final '@domain'`, `Local address contains illegal character`, `Domain contains
control or whitespace`, `Illegal address`, ...), so this module follows JavaMail's
`checkAddress` rules (RFC 822 / RFC 5322 section 3.4) and reuses its texts. On top of that:

* the local part must be 7-bit ASCII: SES does not support SMTPUTF8 (RFC 6531);
* IDN domains are accepted and converted to Punycode (RFC 3492, stdlib `idna` codec);
  real SES rejects raw Unicode domains (`Domain contains illegal character`), which
  `allow_unicode_domain=False` reproduces;
* display names may be any Unicode, raw or RFC 2047 encoded-words; they are decoded on
  input and re-encoded (RFC 2047, UTF-8 "B") by `Address.header_value`;
* CR, LF, NUL and other controls are refused everywhere, so no field can inject a header;
* the domain must be a host name (`wire/hostnames.check_domain`, also asked by delivery):
  no domain literal such as `[127.0.0.1]`, no all-digit top label, LDH labels of at most 63
  octets, at most 255 octets; the local part at most 64 octets (RFC 5321 4.5.3.1).

Error texts (all `InvalidParameterValue`), by case:

    ''  / '<>' / '@example.com'          Invalid email address .      (AWS, empty local part)
    'a@b.com, c@d.com' / 'Doe, John <j@x>'   Illegal address          (more than one address)
    'DEBUG: Bob <a@b.com>' / 'github:x'  Local address contains illegal character
    'bob', 'Bob <bob>'                   Missing final '@domain'
    'a b@c.com', 'a\\r\\n@b.com'           Local address contains control or whitespace
    'jörg@example.com', 'a\\ b@c.com',    Local address contains illegal character  (guess;
    '=?utf-8?B?..?=@c.com'               stricter than JavaMail: 7-bit, RFC 2047 section 5)
    'a@exa mple.com', 'a@b.com\\r\\n'      Domain contains control or whitespace
    'a@b_c.com', 'a@b.com%!'             Domain contains illegal character
    'a@[127.0.0.1]', 'u@[a;b<c>]',       Domain contains illegal character  (no literals:
    'a@-b.com', 'a@127.0.0.1'            SES sends to domains only; host names only)
    'a@', 'a@.b', 'a@b..c', 'a@b.'       Missing domain / Domain starts with dot /
                                         Domain contains dot-dot / Domain ends with dot
    'Ann\\r\\n <a@b.com>', control in name Illegal address
    local part > 64, domain > 255 or a   Illegal address  (guess; RFC 5321 4.5.3.1 limits,
    label > 63 octets                    so an addr-spec has at most 320)
    unbalanced '<', '"', '(' , '['       Missing '>' / Missing '"' / Missing ')' / Missing ']'
"""

from __future__ import annotations

import base64
import contextlib
import email.policy
import functools
import re
from collections.abc import Sequence
from dataclasses import dataclass

from postroom.errors import InvalidParameterValue
from postroom.wire.hostnames import check_domain

# RFC 822 specials except '.', as in JavaMail's InternetAddress.checkAddress.
_SPECIALS_NO_DOT = '()<>,;:\\"[]@'
# RFC 5322 section 3.2.3 atext: characters a display-name word may use unquoted.
_ATEXT = re.compile(r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+")
_CONTROL = re.compile(r"[\x00-\x08\x0a-\x1f\x7f]")
# RFC 2047 section 2: a line holding encoded-words is at most 76 characters. Words are sized
# so that the longest header name we write ("Reply-To: ") plus one word fits.
_EW_LINE = 76 - len("Reply-To: ")
_LONGEST_PLAIN_WORD = 60  # longer words are encoded so the header can still be folded
# RFC 5321 4.5.3.1.1; with a domain of at most 255 octets (hostnames.py) an addr-spec has
# at most 320, which keeps header lines far below 998.
_MAX_LOCAL = 64

EMPTY_ADDRESS = "Invalid email address ."


def _invalid(message: str) -> InvalidParameterValue:
    return InvalidParameterValue(message)


@dataclass(frozen=True)
class Address:
    """One mailbox, validated. `domain` is ASCII (Punycode for IDNs), case as given."""

    raw: str
    display_name: str
    local: str
    domain: str

    @property
    def domain_lower(self) -> str:
        return self.domain.lower()

    @property
    def addr_spec(self) -> str:
        return f"{self.local}@{self.domain}"

    @property
    def header_value(self) -> str:
        """`Name <local@domain>` or `local@domain`, 7-bit and safe for any header."""
        if not self.display_name:
            return self.addr_spec
        return f"{format_phrase(self.display_name)} <{self.addr_spec}>"


@functools.lru_cache(maxsize=4096)  # senders repeat on every request; Address is frozen
def parse_address(text: str, *, allow_unicode_domain: bool = True) -> Address:
    """Parse one address as SES does (`a@b`, `Name <a@b>`, `a@b (Name)`)."""
    s = text.strip(" \t")
    if not s:
        raise _invalid(EMPTY_ADDRESS)
    marks = _scan(s)
    kinds = [kind for _, kind in marks]
    if "," in kinds:
        raise _invalid("Illegal address")
    if ":" in kinds:
        # JavaMail reads 'Name: x <a@b>' as an unterminated group; ':' lands in the local part.
        raise _invalid("Local address contains illegal character")
    if ";" in kinds:
        raise _invalid("Illegal semicolon, not in group")
    if kinds.count("<") > 1:
        raise _invalid("Extra route-addr")
    if "<" in kinds:
        lt = next(i for i, kind in marks if kind == "<")
        gt = next(i for i, kind in marks if kind == ">")
        tail, _ = _strip_comments(s[gt + 1 :])
        if tail.strip(" \t"):
            raise _invalid("Illegal address")
        spec, name = s[lt + 1 : gt].strip(" \t"), _phrase_text(s[:lt].strip(" \t"))
    else:
        spec, name = _strip_comments(s)
        spec = spec.strip(" \t")
    local, domain = _check_addr_spec(spec)
    if len(local) > _MAX_LOCAL:
        raise _invalid("Illegal address")
    domain = check_domain(domain, allow_unicode=allow_unicode_domain)
    return Address(raw=text, display_name=_decode_display_name(name), local=local, domain=domain)


def parse_address_list(texts: Sequence[str], *, allow_unicode_domain: bool = True) -> list[Address]:
    """Parse API address lists (one address per member); the first bad one raises."""
    return [parse_address(t, allow_unicode_domain=allow_unicode_domain) for t in texts]


def parse_address_header(value: str) -> list[Address]:
    """Parse an address-list header value (RFC 5322 section 3.4), groups included.

    `undisclosed-recipients:;` gives no address; a ':' without a closing ';' is not a group
    and fails as JavaMail does (`Local address contains illegal character`).
    """
    members: list[str] = []
    start = 0
    in_group = False
    marks = _scan(value)
    for pos, (index, kind) in enumerate(marks):
        if kind == ":":
            if in_group:
                raise _invalid("Nested group")
            if not any(k == ";" for _, k in marks[pos:]):
                raise _invalid("Local address contains illegal character")
            in_group, start = True, index + 1
        elif kind == ";" and not in_group:
            raise _invalid("Illegal semicolon, not in group")
        elif kind in ",;":
            members.append(value[start:index])
            start = index + 1
            in_group = in_group and kind == ","
    members.append(value[start:])
    return [parse_address(m) for m in members if _strip_comments(m)[0].strip(" \t")]


def base_address(addr: Address) -> str:
    """`user+label@domain` -> `user@domain`, for verified-identity inheritance (SES DG)."""
    user, plus, _ = addr.local.partition("+")
    if not plus or not user:
        return addr.addr_spec
    return f"{user}@{addr.domain}"


def format_phrase(name: str) -> str:
    """A display name as an RFC 5322 phrase: atoms, a quoted-string, or RFC 2047 words."""
    words = name.split(" ")
    if (
        not name.isascii()
        or _CONTROL.search(name)
        or "=?" in name
        or any(len(w) > _LONGEST_PLAIN_WORD for w in words)
    ):
        return encode_words(name)
    if all(_ATEXT.fullmatch(w) for w in words):
        return name
    escaped = name.replace("\\", "\\\\").replace('"', '\\"')
    return f'"{escaped}"'


def encode_words(text: str, charset: str = "utf-8") -> str:
    """RFC 2047 "B" encoded-words, split on character boundaries and separated by a space,
    so a folder may break the line between them (RFC 2047 sections 2 and 5)."""
    b64_room = _EW_LINE - len(f"=?{charset}?B??=")
    max_bytes = max(3, b64_room // 4 * 3)
    words: list[str] = []
    chunk = ""
    for char in text:
        candidate = chunk + char
        if chunk and len(candidate.encode(charset)) > max_bytes:
            words.append(chunk)
            candidate = char
        chunk = candidate
    if chunk or not words:
        words.append(chunk)
    return " ".join(
        f"=?{charset}?B?{base64.b64encode(w.encode(charset)).decode('ascii')}?=" for w in words
    )


# --- scanning -----------------------------------------------------------------------------


def _scan(s: str) -> list[tuple[int, str]]:
    """Positions of the top-level `, ; : < >` (outside quotes, comments, literals)."""
    marks: list[tuple[int, str]] = []
    i, n = 0, len(s)
    while i < n:
        c = s[i]
        if c == '"':
            i = _skip_delimited(s, i, '"', "Missing '\"'")
            continue
        if c == "(":
            i = _skip_comment(s, i)
            continue
        if c == "[":
            i = _skip_delimited(s, i, "]", "Missing ']'")
            continue
        if c == "<":
            close = _find_close_angle(s, i)
            marks += [(i, "<"), (close, ">")]
            i = close
        elif c == ")":
            raise _invalid("Missing '('")
        elif c == ">":
            raise _invalid("Missing '<'")
        elif c in ",;:":
            marks.append((i, c))
        i += 1
    return marks


def _skip_delimited(s: str, i: int, close: str, error: str) -> int:
    """Index after the `close` matching the opener at `i` (backslash escapes honoured)."""
    j = i + 1
    while j < len(s):
        if s[j] == "\\":
            j += 2
            continue
        if s[j] == close:
            return j + 1
        j += 1
    raise _invalid(error)


def _skip_comment(s: str, i: int) -> int:
    depth, j = 0, i
    while j < len(s):
        c = s[j]
        if c == "\\":
            j += 2
            continue
        depth += (c == "(") - (c == ")")
        j += 1
        if depth == 0:
            return j
    raise _invalid("Missing ')'")


def _find_close_angle(s: str, i: int) -> int:
    j = i + 1
    while j < len(s):
        if s[j] == "\\":
            j += 2
            continue
        if s[j] == '"':
            j = _skip_delimited(s, j, '"', "Missing '\"'")
            continue
        if s[j] == ">":
            return j
        j += 1
    raise _invalid("Missing '>'")


def _strip_comments(s: str) -> tuple[str, str]:
    """(`s` without top-level comments, text of the first comment) - RFC 5322 3.2.2 CFWS."""
    out: list[str] = []
    first = ""
    i = 0
    while i < len(s):
        if s[i] == '"':
            j = _skip_delimited(s, i, '"', "Missing '\"'")
            out.append(s[i:j])
            i = j
        elif s[i] == "(":
            j = _skip_comment(s, i)
            if not first:
                first = re.sub(r"\\(.)", r"\1", s[i + 1 : j - 1]).strip(" \t")
            out.append(" ")
            i = j
        else:
            out.append(s[i])
            i += 1
    return "".join(out), first


def _phrase_text(phrase: str) -> str:
    """Display text of an RFC 5322 phrase: quotes removed, quoted-pairs unescaped."""
    out: list[str] = []
    in_quote = False
    i = 0
    while i < len(phrase):
        c = phrase[i]
        if c == "\\" and in_quote and i + 1 < len(phrase):
            out.append(phrase[i + 1])
            i += 2
            continue
        if c == '"':
            in_quote = not in_quote
        else:
            out.append(c)
        i += 1
    return "".join(out).strip(" \t")


# --- checks -------------------------------------------------------------------------------


def _check_addr_spec(spec: str) -> tuple[str, str]:
    """JavaMail `checkAddress(addr, routeAddr, validate=true)` for the local part; returns
    (local, domain), the domain still to be checked by `check_domain`."""
    if not spec or spec[0] == "@":
        # AWS answers '@example.com' and '' alike; source routes are not supported.
        raise _invalid(EMPTY_ADDRESS)
    at = _check_local(spec)
    if re.search(r"=\?.*\?=", spec[:at]):
        # RFC 2047 section 5: no encoded-word in an addr-spec (readers would decode it).
        raise _invalid("Local address contains illegal character")
    return spec[:at], spec[at + 1 :]


def _check_local(spec: str) -> int:
    """Index of the '@' ending the local part (RFC 5322 3.4.1 dot-atom or quoted-string)."""
    last = ""
    in_quote = escaped = False
    for i, c in enumerate(spec):
        if ord(c) < 0x20 or c == "\x7f":
            raise _invalid("Local address contains control or whitespace")
        if not c.isascii():
            raise _invalid("Local address contains illegal character")
        if escaped or (c == "\\" and in_quote):  # quoted-pair, only inside quotes
            escaped, last = not escaped, c
            continue
        if c == '"':
            if in_quote and i + 1 < len(spec) and spec[i + 1] != "@":
                raise _invalid("Quote not at end of local address")
            if not in_quote and i != 0:
                raise _invalid("Quote not at start of local address")
            in_quote, last = not in_quote, c
            continue
        if c == "." and not in_quote:
            if i == 0:
                raise _invalid("Local address starts with dot")
            if last == ".":
                raise _invalid("Local address contains dot-dot")
        if in_quote:
            last = c
            continue
        if c == "@":
            if last == ".":
                raise _invalid("Local address ends with dot")
            return i
        if c == " ":
            raise _invalid("Local address contains control or whitespace")
        if c in _SPECIALS_NO_DOT:
            raise _invalid("Local address contains illegal character")
        last = c
    if in_quote:
        raise _invalid("Unterminated quote")
    raise _invalid("Missing final '@domain'")


def _decode_display_name(name: str) -> str:
    """Decode RFC 2047 encoded-words (as JavaMail's getPersonal does); refuse controls."""
    if _CONTROL.search(name):
        raise _invalid("Illegal address")
    if "=?" in name:
        with contextlib.suppress(Exception):  # undecodable words stay as written
            name = str(email.policy.default.header_factory("x-display-name", name))
        if _CONTROL.search(name):
            raise _invalid("Illegal address")
    return name
