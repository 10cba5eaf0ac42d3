"""What happened to each recipient, as values: Delivered, Deferred or Bounced (SES types).

This issue's classifier is deliberately small (2xx delivered, 4xx deferred, 5xx permanent);
the table-driven classifier with SES's bounce subtypes comes with direct delivery.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Kind = Literal["delivered", "deferred", "bounced", "complained"]


@dataclass(frozen=True)
class Outcome:
    recipient: str
    kind: Kind
    code: int
    enhanced: str
    text: str
    bounce_type: str = ""
    bounce_sub_type: str = ""
    diagnostic: str = ""

    @property
    def reply(self) -> str:
        parts = [str(self.code)]
        if self.enhanced:
            parts.append(self.enhanced)
        if self.text:
            parts.append(self.text)
        return " ".join(parts)

    @property
    def status(self) -> str:
        if self.enhanced:
            return self.enhanced
        return f"{str(self.code)[0]}.0.0"


def classify(recipient: str, code: int, enhanced: str, text: str) -> Outcome:
    if 200 <= code < 300:
        return Outcome(recipient, "delivered", code, enhanced, text)
    if 400 <= code < 500:
        return Outcome(recipient, "deferred", code, enhanced, text)
    reply = " ".join(str(x) for x in (code, enhanced, text) if x)
    return Outcome(
        recipient, "bounced", code, enhanced, text, "Permanent", "General", f"smtp; {reply}"
    )


def expired(outcome: Outcome) -> Outcome:
    """A deferral whose retry window has closed becomes a Transient bounce."""
    return Outcome(
        outcome.recipient,
        "bounced",
        outcome.code,
        outcome.enhanced,
        outcome.text,
        "Transient",
        "General",
        f"smtp; {outcome.reply}",
    )
