"""Sending quotas as SES applies them: recipients per second and per rolling 24 hours.

The rate is a token bucket holding at most one second of sending (never less than one
recipient). A message is admitted while the account is not already over its rate (at least
one recipient's worth of allowance is left), then all its recipients are charged, so one
message to To and Cc passes in the sandbox while sustained sending above the rate is
refused (ses-spec.md section 5; SES quotas.md).
Mailbox-simulator recipients count against the rate but not against the 24-hour quota.
"""

from __future__ import annotations

from dataclasses import dataclass

from postroom.domain.accounts import Account
from postroom.domain.rate_limits import refill
from postroom.errors import Throttling

DAY_SECONDS = 24 * 3600
MAX_RATE_TEXT = "Maximum sending rate exceeded."
DAILY_QUOTA_TEXT = "Daily message quota exceeded."


@dataclass(frozen=True)
class Charge:
    """What a message costs: all recipients against the rate, some against the day."""

    rate_recipients: int
    daily_recipients: int


def available_tokens(account: Account, now: float) -> float:
    capacity = max(1.0, account.max_rate)
    return refill(account.rate_tokens, account.rate_updated_at, now, account.max_rate, capacity)


def reserve(account: Account, charge: Charge, sent_last_24h: float, now: float) -> float:
    """Check both quotas; return the bucket's tokens after charging, or raise Throttling."""
    tokens = available_tokens(account, now)
    if tokens < 1.0:  # less than one recipient's worth left: over the rate
        raise Throttling(MAX_RATE_TEXT)
    if charge.daily_recipients and sent_last_24h + charge.daily_recipients > account.max_24h:
        raise Throttling(DAILY_QUOTA_TEXT)
    return tokens - charge.rate_recipients


def minute_of(epoch: float) -> int:
    return int(epoch // 60)


def stats_bucket(epoch: float) -> int:
    """Start (epoch seconds) of the 15-minute bucket GetSendStatistics reports."""
    return int(epoch // 900) * 900
