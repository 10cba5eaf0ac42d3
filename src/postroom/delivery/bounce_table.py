"""The bounce classification table (`bounce_rules.json`): load, validate strictly, match.

The table is an ordered list of rules; the first rule whose `match` fits an SMTP reply
decides what happened to the recipient:

    {"name": "no-such-user",
     "note": "why, with the RFC or SES doc it follows",
     "match": {"code": "5xx", "enhanced": ["5.1.1", "5.1.*"], "text": "user unknown"},
     "result": {"kind": "bounced", "bounce_type": "Permanent", "bounce_sub_type": "NoEmail",
                "suppress": true, "policy": false}}

`match` (every given field must fit; a list means any of its patterns):
    code      reply code pattern, digits or `x`: "550", "55x", "5xx"
    enhanced  RFC 3463 status pattern, each part digits or `*`: "5.1.1", "5.7.*", "*.2.2"
    text      regular expression searched (case-insensitively) in the reply text

`result` by kind (SES DG "Amazon SES notification contents" for the types):
    delivered  nothing else
    deferred   delay_type (SES DeliveryDelay `delayType`); bounce_type "Transient" and
               bounce_sub_type: what the recipient becomes when the retry window closes
               (default Transient/General); policy
    bounced    bounce_type, bounce_sub_type (a pair SES defines), suppress; policy

The table is checked when it is loaded (at import of `outcomes`), so a typo fails fast:
unknown keys or values, a rule whose kind contradicts the reply class (RFC 5321 4.2.1:
2yz done, 4yz transient, 5yz permanent), unreachable rules, and a table that does not
classify every reply are all errors.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from dataclasses import dataclass
from importlib import resources
from importlib.abc import Traversable
from pathlib import Path
from typing import Any, Literal, cast

from postroom.domain.outcomes import reply_status

TABLE_FILE = "bounce_rules.json"

ResultKind = Literal["delivered", "deferred", "bounced"]
KIND_OF_CLASS: dict[str, ResultKind] = {"2": "delivered", "4": "deferred", "5": "bounced"}

# SES bounce types and the subtypes each allows (SES DG "Amazon SES notification contents",
# "Bounce types").
SUBTYPES: dict[str, frozenset[str]] = {
    "Undetermined": frozenset({"Undetermined"}),
    "Permanent": frozenset({"General", "NoEmail", "Suppressed", "OnAccountSuppressionList"}),
    "Transient": frozenset(
        {"General", "MailboxFull", "MessageTooLarge", "ContentRejected", "AttachmentRejected"}
    ),
}
# SES DeliveryDelay `delayType` values (SES DG "Contents of event data", DeliveryDelay object).
DELAY_TYPES = frozenset(
    {
        "InternalFailure", "General", "MailboxFull", "SpamDetected", "RecipientServerError",
        "IPFailure", "TransientCommunicationFailure", "Undetermined", "SendingDeferral",
    }
)  # fmt: skip

_NAME = re.compile(r"[a-z0-9]+(?:-[a-z0-9]+)*")
_CODE = re.compile(r"[2-5](?:xx|[0-9]x|[0-9]{2})")
_ENHANCED = re.compile(r"(?:[245]|\*)\.(?:[0-9]{1,3}|\*)\.(?:[0-9]{1,3}|\*)")
# qmail and vpopmail put the RFC 3463 status at the end of the text: "... (#5.1.1)".


class BounceTableError(ValueError):
    """The bounce table is malformed; the message says where and why."""


@dataclass(frozen=True)
class Result:
    kind: ResultKind
    bounce_type: str = ""
    bounce_sub_type: str = ""
    suppress: bool = False
    policy: bool = False
    delay_type: str = ""


@dataclass(frozen=True)
class Rule:
    name: str
    result: Result
    codes: tuple[str, ...] = ()
    statuses: tuple[tuple[str, str, str], ...] = ()
    text: re.Pattern[str] | None = None
    note: str = ""

    def matches(self, code: str, status: str, text: str) -> bool:
        """`code` as three digits, `status` the reply's RFC 3463 code ('' when none)."""
        if self.codes and not any(_fits(p, code) for p in self.codes):
            return False
        if self.statuses:
            parts = tuple(status.split("."))
            if len(parts) != 3 or not any(_fits_parts(p, parts) for p in self.statuses):
                return False
        return self.text is None or self.text.search(text) is not None

    @property
    def reply_class(self) -> str | None:
        """'2', '4' or '5' when the match pins the reply class, else None."""
        classes = {p[0] for p in self.codes} | {p[0] for p in self.statuses if p[0] != "*"}
        return classes.pop() if len(classes) == 1 else None

    @property
    def catch_all(self) -> bool:
        """Matches every reply of its class: {"code": "5xx"} and nothing else."""
        return self.codes == (f"{self.reply_class}xx",) and not self.statuses and not self.text


class BounceTable:
    def __init__(self, rules: Iterable[Rule]) -> None:
        self.rules = tuple(rules)
        self._by_name = {rule.name: rule for rule in self.rules}

    def first_match(self, code: int, enhanced: str, text: str) -> Rule:
        code_text, status = f"{code:03d}", reply_status(code, enhanced, text)
        for rule in self.rules:
            if rule.matches(code_text, status, text):
                return rule
        raise AssertionError("unreachable: the last rule of a valid table matches everything")

    def get(self, name: str) -> Rule | None:
        return self._by_name.get(name)

    @property
    def names(self) -> list[str]:
        return [rule.name for rule in self.rules]


def load_default(source: Traversable | Path | None = None) -> BounceTable:
    """The packaged table (or `source`), validated; raises BounceTableError."""
    path = source or resources.files("postroom.delivery").joinpath(TABLE_FILE)
    return loads(path.read_text(encoding="utf-8"), str(path))


def loads(source: str, origin: str = "<table>") -> BounceTable:
    try:
        data = json.loads(source, object_pairs_hook=_no_duplicate_keys)
    except (json.JSONDecodeError, BounceTableError) as exc:
        raise BounceTableError(f"{origin}: {exc}") from exc
    return parse(data, origin)


def parse(data: Any, origin: str = "<table>") -> BounceTable:
    if not isinstance(data, list) or not data:
        raise BounceTableError(f"{origin}: the table must be a non-empty list of rules")
    rules: list[Rule] = []
    for index, item in enumerate(data):
        rule = _rule(item, f"{origin}: rule {index}")
        if any(r.name == rule.name for r in rules):
            raise BounceTableError(f"{origin}: rule {index}: duplicate name {rule.name!r}")
        rules.append(rule)
    _check_order(rules, origin)
    return BounceTable(rules)


def _no_duplicate_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    keys = [key for key, _ in pairs]
    duplicates = sorted({key for key in keys if keys.count(key) > 1})
    if duplicates:
        raise BounceTableError(f"duplicate key(s) {duplicates}")
    return dict(pairs)


def _fits(pattern: str, value: str) -> bool:
    return len(pattern) == len(value) and all(
        p in ("x", v) for p, v in zip(pattern, value, strict=True)
    )


def _fits_parts(pattern: tuple[str, str, str], parts: tuple[str, ...]) -> bool:
    return all(p in ("*", v) for p, v in zip(pattern, parts, strict=True))


def _keys(obj: Any, where: str, required: set[str], optional: set[str]) -> dict[str, Any]:
    if not isinstance(obj, dict):
        raise BounceTableError(f"{where}: must be an object")
    unknown = sorted(set(obj) - required - optional)
    if unknown:
        raise BounceTableError(f"{where}: unknown key(s) {unknown}")
    missing = sorted(required - set(obj))
    if missing:
        raise BounceTableError(f"{where}: missing key(s) {missing}")
    return cast(dict[str, Any], obj)


def _rule(item: Any, where: str) -> Rule:
    obj = _keys(item, where, {"name", "match", "result"}, {"note"})
    name = obj["name"]
    if not isinstance(name, str) or not _NAME.fullmatch(name):
        raise BounceTableError(f"{where}: name must be lower-case words joined by '-'")
    where = f"{where} ({name})"
    note = obj.get("note", "")
    if not isinstance(note, str):
        raise BounceTableError(f"{where}: note must be a string")
    codes, statuses, text = _match(obj["match"], f"{where}: match")
    rule = Rule(name, _result(obj["result"], f"{where}: result"), codes, statuses, text, note)
    _check_class(rule, where)
    return rule


def _patterns(value: Any, where: str, shape: re.Pattern[str]) -> tuple[str, ...]:
    values = value if isinstance(value, list) else [value]
    if not values or not all(isinstance(v, str) and shape.fullmatch(v) for v in values):
        raise BounceTableError(f"{where}: {value!r} is not a pattern like {shape.pattern}")
    return tuple(values)


def _match(
    obj: Any, where: str
) -> tuple[tuple[str, ...], tuple[tuple[str, str, str], ...], re.Pattern[str] | None]:
    match = _keys(obj, where, set(), {"code", "enhanced", "text"})
    codes = _patterns(match["code"], f"{where}.code", _CODE) if "code" in match else ()
    statuses: tuple[tuple[str, str, str], ...] = ()
    if "enhanced" in match:
        found = _patterns(match["enhanced"], f"{where}.enhanced", _ENHANCED)
        statuses = tuple(cast(tuple[str, str, str], tuple(s.split("."))) for s in found)
    text = None
    if "text" in match:
        if not isinstance(match["text"], str) or not match["text"]:
            raise BounceTableError(f"{where}.text: must be a non-empty regular expression")
        try:
            text = re.compile(match["text"], re.IGNORECASE)
        except re.error as exc:
            raise BounceTableError(f"{where}.text: bad regular expression: {exc}") from exc
    return codes, statuses, text


_RESULT_KEYS: dict[str, tuple[set[str], set[str]]] = {
    "delivered": ({"kind"}, set()),
    "deferred": ({"kind", "delay_type"}, {"bounce_type", "bounce_sub_type", "policy"}),
    "bounced": ({"kind", "bounce_type", "bounce_sub_type", "suppress"}, {"policy"}),
}


def _result(obj: Any, where: str) -> Result:
    kind = obj.get("kind") if isinstance(obj, dict) else None
    if kind not in _RESULT_KEYS:
        raise BounceTableError(f"{where}: kind must be one of {sorted(_RESULT_KEYS)}")
    required, optional = _RESULT_KEYS[kind]
    fields = _keys(obj, where, required, optional)
    for flag in ("suppress", "policy"):
        if not isinstance(fields.get(flag, False), bool):
            raise BounceTableError(f"{where}: {flag} must be true or false")
    result = Result(
        kind=kind,
        bounce_type=fields.get("bounce_type", "Transient" if kind == "deferred" else ""),
        bounce_sub_type=fields.get("bounce_sub_type", "General" if kind == "deferred" else ""),
        suppress=fields.get("suppress", False),
        policy=fields.get("policy", False),
        delay_type=fields.get("delay_type", ""),
    )
    _check_result(result, where)
    return result


def _check_result(result: Result, where: str) -> None:
    if result.kind == "delivered":
        return
    if result.bounce_type not in SUBTYPES:
        raise BounceTableError(f"{where}: bounce_type must be one of {sorted(SUBTYPES)}")
    if result.bounce_sub_type not in SUBTYPES[result.bounce_type]:
        allowed = sorted(SUBTYPES[result.bounce_type])
        raise BounceTableError(
            f"{where}: bounce_sub_type of a {result.bounce_type} bounce must be one of {allowed}"
        )
    if result.kind == "deferred":
        # A deferral that runs out of retries is a soft bounce (SES DG, bounce types).
        if result.bounce_type != "Transient":
            raise BounceTableError(f"{where}: a deferral can only expire as a Transient bounce")
        if result.delay_type not in DELAY_TYPES:
            raise BounceTableError(f"{where}: delay_type must be one of {sorted(DELAY_TYPES)}")
    if result.policy and result.suppress:
        raise BounceTableError(f"{where}: a policy block must not suppress the address")


def _check_class(rule: Rule, where: str) -> None:
    classes = {p[0] for p in rule.codes} | {p[0] for p in rule.statuses if p[0] != "*"}
    if len(classes) > 1:
        raise BounceTableError(f"{where}: code and enhanced patterns mix reply classes")
    if not classes:
        if rule.codes or rule.statuses or rule.text:
            raise BounceTableError(f"{where}: pin the reply class with a code or enhanced pattern")
        return  # the final catch-all (checked in _check_order)
    expected = KIND_OF_CLASS[classes.pop()]
    if rule.result.kind != expected:
        kind = rule.result.kind
        raise BounceTableError(f"{where}: a reply of this class is {expected}, not {kind}")


def _check_order(rules: list[Rule], origin: str) -> None:
    """Every reply class has a catch-all, nothing hides behind one, and the last rule
    (an empty match) classifies whatever is left: the table is total."""
    *body, last = rules
    if last.codes or last.statuses or last.text:
        raise BounceTableError(f"{origin}: the last rule must have an empty match")
    closed: dict[str, str] = {}
    for rule in body:
        reply_class = rule.reply_class
        if reply_class is None:
            raise BounceTableError(f"{origin}: only the last rule may have an empty match")
        if reply_class in closed:
            raise BounceTableError(
                f"{origin}: rule {rule.name!r} is unreachable after {closed[reply_class]!r}"
            )
        if rule.catch_all:
            closed[reply_class] = rule.name
    missing = sorted(set(KIND_OF_CLASS) - set(closed))
    if missing:
        raise BounceTableError(f"{origin}: no catch-all rule for {[c + 'xx' for c in missing]}")
