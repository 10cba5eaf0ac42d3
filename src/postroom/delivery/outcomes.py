"""What happened to each recipient, as values: Delivered, Deferred or Bounced (SES types).

`classify` reads an SMTP reply (or a transport failure, which the transport reports as a
local 4xx reply) through the ordered rules of `bounce_rules.json` (see `bounce_table`):
the first rule that fits decides the kind, SES's bounceType/bounceSubType or delayType,
whether the address belongs on the suppression list, and its name is kept on the outcome
so that events and logs can say why. A policy block (reputation, authentication, content)
is not a dead mailbox and is never suppressed.

The table is loaded and validated once, at import: a malformed table fails loudly here.
"""

from __future__ import annotations

from dataclasses import replace

from postroom.delivery.bounce_table import BounceTable, load_default
from postroom.domain.outcomes import Kind as Kind  # the value types live in the core
from postroom.domain.outcomes import Outcome as Outcome
from postroom.errors import InvalidParameterValue
from postroom.wire.addresses import parse_address

TABLE: BounceTable = load_default()

# SES's diagnostic for a recipient on the account-level suppression list (SES DG "Using the
# account-level suppression list"): no delivery is attempted.
ACCOUNT_SUPPRESSED_TEXT = (
    "Amazon SES did not send the message to this address because it is on the suppression "
    "list for your account. For more information about removing addresses from the "
    "suppression list, see the Amazon SES Developer Guide at "
    "https://docs.aws.amazon.com/ses/latest/DeveloperGuide/sending-email-suppression-list.html"
)


def classify(recipient: str, code: int, enhanced: str, text: str) -> Outcome:
    """The outcome of one reply, by the first matching rule of the table."""
    rule = TABLE.first_match(code, enhanced, text)
    result = rule.result
    if result.kind == "bounced":
        return Outcome(
            recipient,
            "bounced",
            code,
            enhanced,
            text,
            result.bounce_type,
            result.bounce_sub_type,
            f"smtp; {_reply(code, enhanced, text)}",
            rule=rule.name,
            suppress=result.suppress,
            policy=result.policy,
        )
    return Outcome(
        recipient,
        result.kind,
        code,
        enhanced,
        text,
        rule=rule.name,
        delay_type=result.delay_type,
        policy=result.policy,
    )


def expired(outcome: Outcome) -> Outcome:
    """A deferral whose retry window has closed becomes a Transient bounce (SES sends
    "soft bounces SES stopped retrying", ses-spec 8.1) with the last reply as diagnostic;
    the subtype is the one its rule names (MailboxFull for a full mailbox), else General."""
    rule = TABLE.get(outcome.rule)
    sub_type = "General"
    if rule is not None and rule.result.kind == "deferred":
        sub_type = rule.result.bounce_sub_type
    return Outcome(
        outcome.recipient,
        "bounced",
        outcome.code,
        outcome.enhanced,
        outcome.text,
        "Transient",
        sub_type,
        f"smtp; {outcome.reply}",
        rule=outcome.rule,
        policy=outcome.policy,
    )


def delay_type(outcome: Outcome) -> str:
    """SES's delayType for a deferral's DeliveryDelay event ('' for other kinds); outcomes
    built by hand rather than by `classify` are classified from their reply."""
    if outcome.kind != "deferred":
        return ""
    if outcome.delay_type:
        return outcome.delay_type
    found = classify(outcome.recipient, outcome.code, outcome.enhanced, outcome.text)
    return found.delay_type or "Undetermined"


def account_suppressed(recipient: str) -> Outcome:
    """The bounce for an address on the account's suppression list (no delivery attempt):
    Permanent/OnAccountSuppressionList with SES's own diagnostic text."""
    outcome = classify(recipient, 550, "5.1.1", ACCOUNT_SUPPRESSED_TEXT)
    return replace(outcome, diagnostic=ACCOUNT_SUPPRESSED_TEXT)


def undeliverable(recipient: str) -> Outcome | None:
    """A permanent bounce (553 5.1.3, RFC 3463 "bad destination mailbox address syntax")
    for a queued recipient that the API's own validator would refuse now, such as a domain
    literal from a row queued before literals were refused: no connection is made and no
    RCPT carries it. None when the address is a mailbox at a host name, written as one."""
    try:
        valid = parse_address(recipient).addr_spec == recipient
        reason = "not a bare address"
    except InvalidParameterValue as exc:
        valid, reason = False, exc.message
    if valid:
        return None
    return classify(recipient, 553, "5.1.3", f"Invalid recipient address: {reason}")


def _reply(code: int, enhanced: str, text: str) -> str:
    return " ".join(str(x) for x in (code, enhanced, text) if x)
