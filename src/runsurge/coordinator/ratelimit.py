"""Request rate per consumer token: a token bucket per consumer, in memory.

Each consumer's bucket holds up to `burst` requests and refills at `rate` per second;
a request finding it empty is refused with RESOURCE_EXHAUSTED naming the limit. The
buckets live in the coordinator process (a restart refills them), which is enough to
keep one tenant from starving the others on one coordinator.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from runsurge.errors import LimitExceeded


@dataclass
class _Bucket:
    tokens: float
    updated: float


class RateLimiter:
    """Token buckets keyed by consumer id; rate 0 means no limit."""

    def __init__(
        self, rate: float, burst: int, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._rate = rate
        self._burst = burst
        self._clock = clock
        self._buckets: dict[str, _Bucket] = {}

    def take(self, key: str) -> None:
        """Spend one request of `key`'s bucket, or raise LimitExceeded."""
        if self._rate <= 0:
            return
        now = self._clock()
        bucket = self._buckets.setdefault(key, _Bucket(float(self._burst), now))
        bucket.tokens = min(self._burst, bucket.tokens + (now - bucket.updated) * self._rate)
        bucket.updated = now
        if bucket.tokens < 1:
            wait = (1 - bucket.tokens) / self._rate
            raise LimitExceeded(
                f"request rate limit exceeded: {self._rate:g} requests/s "
                f"(rate_limit_per_second), burst {self._burst} (rate_limit_burst); "
                f"retry in {wait:.2f}s"
            )
        bucket.tokens -= 1
