"""The injected clock: nothing else in Postroom reads the system time directly."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Protocol


class Clock(Protocol):
    def now(self) -> float:
        """Seconds since the Unix epoch (UTC)."""
        ...


class SystemClock:
    def now(self) -> float:
        return time.time()


class FakeClock:
    """A clock that moves only when told to, for tests in virtual time."""

    def __init__(self, start: float = 1_700_000_000.0) -> None:
        self._now = start

    def now(self) -> float:
        return self._now

    def advance(self, seconds: float) -> None:
        self._now += seconds

    def set(self, when: float) -> None:
        self._now = when


def to_datetime(epoch: float) -> datetime:
    return datetime.fromtimestamp(epoch, tz=UTC)


def iso_millis(epoch: float) -> str:
    """`2016-01-27T14:59:38.237Z`, the timestamp form of SES event JSON."""
    dt = to_datetime(epoch)
    return dt.strftime("%Y-%m-%dT%H:%M:%S.") + f"{dt.microsecond // 1000:03d}Z"


def iso_seconds(epoch: float) -> str:
    """`2011-08-03T19:23:00Z`, the timestamp form of SES v1 XML."""
    return to_datetime(epoch).strftime("%Y-%m-%dT%H:%M:%SZ")
