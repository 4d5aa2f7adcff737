"""Per-key rate limits: a token bucket per key in each worker process.

A bucket holds up to ``burst`` tokens and refills at ``rate`` per second; a request takes one
or is answered 429 with ``Retry-After`` (whole seconds until a token is back). With N workers,
each holds 1/N of the key's rate, so the limit holds across the server as a whole.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable


class RateLimiter:
    def __init__(
        self,
        rate_per_s: float,
        burst: int,
        share: float = 1.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.rate_per_s = rate_per_s
        self.burst = burst
        self.share = share
        self._clock = clock
        self._buckets: dict[str, tuple[float, float]] = {}

    def take(self, key: str, rate_per_s: float | None = None, burst: int | None = None) -> float:
        """Take a token: 0.0 when granted, else the seconds until one is available."""
        rate = (rate_per_s or self.rate_per_s) * self.share
        size = max(1.0, (burst or self.burst) * self.share)
        now = self._clock()
        tokens, last = self._buckets.get(key, (size, now))
        tokens = min(size, tokens + (now - last) * rate)
        if tokens >= 1.0:
            self._buckets[key] = (tokens - 1.0, now)
            return 0.0
        self._buckets[key] = (tokens, now)
        return (1.0 - tokens) / rate


def retry_after(wait_s: float) -> str:
    return str(max(1, math.ceil(wait_s)))
