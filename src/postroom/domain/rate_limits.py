"""Rate limits on side effects: token buckets kept in the shared database (issue 8).

A side effect that a caller can repeat (a verification mail, later a production-access
request or an SMTP AUTH failure) takes a token from the bucket named by its `Limit` and
subject, in the same write transaction as the side effect, so the limit holds across every
node and process sharing the database. A bucket holds at most `burst` tokens and gains
`per_second` tokens a second; without a token, the caller is refused or the effect skipped.
The SQL is in `store/rate_limits.py`; times come from the injected clock.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Limit:
    kind: str
    per_second: float
    burst: float = 1.0

    def key(self, *subject: str) -> str:
        return ":".join((self.kind, *subject))

    def full_after(self, tokens: float) -> float:
        """Seconds until a bucket holding `tokens` is full again (it may then be forgotten)."""
        return max(0.0, self.burst - tokens) / self.per_second


def refill(tokens: float, updated_at: float, now: float, per_second: float, cap: float) -> float:
    """A token bucket's tokens at `now` (a clock that went back adds nothing)."""
    return min(cap, tokens + max(0.0, now - updated_at) * per_second)


# VerifyEmailIdentity / VerifyEmailAddress: SES allows one request a second per account.
VERIFY_REQUESTS = Limit("verify-request", per_second=1.0)
# At most one verification mail to an address every 5 minutes per account (any region):
# a repeated request succeeds and mails nothing; the link already sent stays valid.
VERIFY_MAIL = Limit("verify-mail", per_second=1 / 300)
RATE_EXCEEDED = "Rate exceeded"
