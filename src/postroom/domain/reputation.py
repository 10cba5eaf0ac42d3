"""Reputation as SES enforces it (DG faqs-enforcement.md, ses-spec.md section 5).

Over a window of representative volume: bounce rate >= 5 % or complaint rate >= 0.1 %
puts the account under review (PROBATION); >= 10 % or >= 0.5 % pauses its sending
(SHUTDOWN), until an operator resumes it. Only hard bounces count (not policy blocks,
transient bounces or the simulator), as on SES.
"""

from __future__ import annotations

from dataclasses import dataclass

HEALTHY = "HEALTHY"
PROBATION = "PROBATION"
SHUTDOWN = "SHUTDOWN"

BOUNCE_REVIEW = 0.05
BOUNCE_PAUSE = 0.10
COMPLAINT_REVIEW = 0.001
COMPLAINT_PAUSE = 0.005
WINDOW_SECONDS = 7 * 24 * 3600
MIN_VOLUME = 100  # below this, rates are not representative yet


@dataclass(frozen=True)
class Counts:
    sends: int
    hard_bounces: int
    complaints: int

    @property
    def bounce_rate(self) -> float:
        return self.hard_bounces / self.sends if self.sends else 0.0

    @property
    def complaint_rate(self) -> float:
        return self.complaints / self.sends if self.sends else 0.0


def assess(counts: Counts, current: str, min_volume: int = MIN_VOLUME) -> str:
    """The enforcement status after these counts; a pause stays until resumed."""
    if current == SHUTDOWN:
        return SHUTDOWN
    if counts.sends < min_volume:
        return current
    if counts.bounce_rate >= BOUNCE_PAUSE or counts.complaint_rate >= COMPLAINT_PAUSE:
        return SHUTDOWN
    if counts.bounce_rate >= BOUNCE_REVIEW or counts.complaint_rate >= COMPLAINT_REVIEW:
        return PROBATION
    return HEALTHY


def describe(counts: Counts) -> str:
    return (
        f"bounce rate {counts.bounce_rate:.2%} ({counts.hard_bounces}/{counts.sends}), "
        f"complaint rate {counts.complaint_rate:.2%} ({counts.complaints}/{counts.sends})"
    )
