"""What happened to each recipient of a delivery attempt, as values (SES's Delivered,
Deferred, Bounced, Complained). Reading SMTP replies into outcomes is delivery's work
(`delivery/outcomes.py`, `bounce_table`); what an outcome means for the account
(events, statistics, reputation, suppression, simulator replies) is the core's
(`domain/recording.py`)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

Kind = Literal["delivered", "deferred", "bounced", "complained"]
_EMBEDDED_STATUS = re.compile(r"#([245]\.[0-7]\.[0-9]{1,3})(?![0-9.])")


@dataclass(frozen=True)
class Outcome:
    """One recipient's result. `rule` names the table rule that classified the reply;
    `suppress` says the address should go on the suppression list (a hard bounce that is
    not a policy block); `delay_type` is SES's delayType for a deferral; `policy` marks a
    refusal aimed at the sender (reputation, authentication, content), not the mailbox."""

    recipient: str
    kind: Kind
    code: int
    enhanced: str
    text: str
    bounce_type: str = ""
    bounce_sub_type: str = ""
    diagnostic: str = ""
    rule: str = ""
    suppress: bool = False
    delay_type: str = ""
    policy: bool = False

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
        """The RFC 3463 status for the event: the enhanced code, one embedded in the text
        (qmail's "(#5.1.1)"), else the reply class's generic X.0.0 (5.0.0 for a reply
        outside 2yz/4yz/5yz, which RFC 5321 4.2.1 treats as a failure)."""
        reply_class = str(self.code)[0] if str(self.code)[0] in "245" else "5"
        return reply_status(self.code, self.enhanced, self.text) or f"{reply_class}.0.0"


def reply_status(code: int, enhanced: str, text: str) -> str:
    """The reply's RFC 3463 status: the enhanced code, else one embedded as `#x.y.z` in the
    text (qmail), if its class agrees with the reply code; '' when there is none."""
    if enhanced:
        return enhanced
    found = _EMBEDDED_STATUS.search(text)
    if found and found.group(1)[0] == str(code)[:1]:
        return found.group(1)
    return ""
