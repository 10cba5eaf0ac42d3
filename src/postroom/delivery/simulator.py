"""The mailbox simulator (`*@simulator.amazonses.com`, ses-spec.md section 7): the outcome
of each simulated recipient. Its auto-replies are an outcome rule of the core
(`domain/recording.py`)."""

from __future__ import annotations

from postroom.delivery.outcomes import Outcome

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
