"""The mailbox simulator (`*@simulator.amazonses.com`, ses-spec.md section 7)."""

from __future__ import annotations

from postroom.delivery.outcomes import Outcome
from postroom.domain.events import MailRecord
from postroom.domain.sending import Caller, Submission, internal_mail

SUPPRESSED_TEXT = (
    "Amazon SES has suppressed sending to this address because it has a recent history of "
    "bouncing as an invalid address. For more information about how to remove an address "
    "from the suppression list, see the Amazon SES Developer Guide: "
    "http://docs.aws.amazon.com/ses/latest/DeveloperGuide/remove-from-suppressionlist.html "
)


def simulate(recipient: str) -> Outcome:
    """success@, bounce@, ooto@, complaint@, suppressionlist@ (with optional +label)."""
    local = recipient.rpartition("@")[0].split("+", 1)[0].lower()
    if local == "bounce":
        return Outcome(
            recipient,
            "bounced",
            550,
            "5.1.1",
            "user unknown",
            "Permanent",
            "General",
            "smtp; 550 5.1.1 user unknown",
        )
    if local == "suppressionlist":
        return Outcome(
            recipient,
            "bounced",
            550,
            "5.1.1",
            "suppressed",
            "Permanent",
            "Suppressed",
            SUPPRESSED_TEXT,
        )
    if local == "complaint":
        return Outcome(recipient, "complained", 250, "2.6.0", "Message received")
    return Outcome(recipient, "delivered", 250, "2.6.0", "Message received")


def wants_auto_reply(recipient: str) -> bool:
    return recipient.rpartition("@")[0].split("+", 1)[0].lower() == "ooto"


def auto_reply(
    record: MailRecord, envelope_from: str, recipient: str, now: float
) -> Submission | None:
    """ooto@'s out-of-office answer (RFC 3834), sent to the message's Return-Path with a
    null envelope sender, so that it can never loop."""
    if not envelope_from:
        return None
    return internal_mail(
        Caller(record.account_id, record.region),
        "SimulatorAutoReply",
        recipient,
        envelope_from,
        "Out of the Office",
        "I am out of the office and will reply when I return.\n"
        "(Postroom mailbox simulator auto-reply.)\n",
        now,
        envelope_from="",
        extra_headers=[("Auto-Submitted", "auto-replied")],
    )
