"""The per-consumer token bucket: a burst, then the rate; buckets are per key."""

from __future__ import annotations

import pytest

from runsurge.coordinator.ratelimit import RateLimiter
from runsurge.errors import LimitExceeded


class Clock:
    """A clock the test moves by hand, so refills are exact."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_burst_then_refused_naming_the_limit_then_refilled_at_the_rate() -> None:
    clock = Clock()
    limiter = RateLimiter(rate=2.0, burst=3, clock=clock)
    for _ in range(3):
        limiter.take("a")
    with pytest.raises(LimitExceeded, match=r"2 requests/s \(rate_limit_per_second\), burst 3"):
        limiter.take("a")
    clock.now += 0.5  # one request's worth at 2/s
    limiter.take("a")
    with pytest.raises(LimitExceeded):
        limiter.take("a")


def test_one_keys_exhaustion_leaves_another_key_alone() -> None:
    limiter = RateLimiter(rate=1.0, burst=1, clock=Clock())
    limiter.take("a")
    with pytest.raises(LimitExceeded):
        limiter.take("a")
    limiter.take("b")


def test_rate_zero_never_refuses() -> None:
    limiter = RateLimiter(rate=0.0, burst=1, clock=Clock())
    for _ in range(100):
        limiter.take("a")
