"""SES's enforcement thresholds over representative volume."""

from __future__ import annotations

import pytest

from postroom.domain.reputation import PROBATION, SHUTDOWN, Counts, assess


@pytest.mark.parametrize(
    "counts,current,expected",
    [
        (Counts(1000, 49, 0), "HEALTHY", "HEALTHY"),  # 4.9 % bounces
        (Counts(1000, 50, 0), "HEALTHY", PROBATION),  # 5 %: review
        (Counts(1000, 100, 0), "HEALTHY", SHUTDOWN),  # 10 %: pause
        (Counts(1000, 0, 1), "HEALTHY", PROBATION),  # 0.1 % complaints: review
        (Counts(1000, 0, 5), PROBATION, SHUTDOWN),  # 0.5 %: pause
        (Counts(1000, 10, 0), PROBATION, "HEALTHY"),  # back under the review line
        (Counts(1000, 0, 0), SHUTDOWN, SHUTDOWN),  # a pause lasts until resumed
        (Counts(99, 50, 50), "HEALTHY", "HEALTHY"),  # not representative volume yet
    ],
)
def test_thresholds(counts: Counts, current: str, expected: str) -> None:
    assert assess(counts, current, min_volume=100) == expected


def test_rates() -> None:
    counts = Counts(200, 10, 1)
    assert counts.bounce_rate == 0.05 and counts.complaint_rate == 0.005
    assert Counts(0, 0, 0).bounce_rate == 0.0
