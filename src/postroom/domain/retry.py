"""Retry policy, pure: exponential backoff with jitter, up to a maximum age."""

from __future__ import annotations

import random

MAX_DELAY = 3600.0


def next_delay(attempts: int, initial: float, rng: random.Random | None = None) -> float:
    """Delay before attempt `attempts + 1`: initial * 2^(attempts-1), capped, +-20% jitter."""
    base = min(MAX_DELAY, initial * (2 ** max(0, attempts - 1)))
    jitter = (rng or random).uniform(0.8, 1.2)
    return base * jitter


def gives_up(created_at: float, now: float, next_at: float, max_age: float) -> bool:
    return next_at - created_at > max_age or now - created_at > max_age
