"""Per-client token buckets, shared by the WHOIS and RDAP servers.

Each source address has a bucket of `burst` tokens refilled at `rate_per_second`; a query takes one token or is
refused with the number of seconds until the next token (RDAP sends it as Retry-After). The table of buckets is
bounded: full buckets are dropped first (they carry no state worth keeping), so an attacker cycling through
addresses cannot grow memory without bound.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass

MAX_TRACKED_CLIENTS = 100_000


@dataclass(slots=True)
class _Bucket:
    tokens: float
    stamp: float


class RateLimiter:
    def __init__(
        self, rate_per_second: float, burst: int, *, clock: Callable[[], float] = time.monotonic,
        max_clients: int = MAX_TRACKED_CLIENTS,
    ) -> None:  # fmt: skip
        self.rate = rate_per_second
        self.burst = burst
        self._clock = clock
        self._max = max_clients
        self._buckets: dict[str, _Bucket] = {}

    def acquire(self, client: str) -> float:
        """Take a token for `client`: 0.0 if allowed, else the seconds to wait before the next one."""
        now = self._clock()
        bucket = self._buckets.get(client)
        if bucket is None:
            if len(self._buckets) >= self._max:
                self._evict(now)
            bucket = self._buckets[client] = _Bucket(float(self.burst), now)
        else:
            bucket.tokens = min(float(self.burst), bucket.tokens + (now - bucket.stamp) * self.rate)
            bucket.stamp = now
        if bucket.tokens >= 1.0:
            bucket.tokens -= 1.0
            return 0.0
        return (1.0 - bucket.tokens) / self.rate

    def retry_after_seconds(self, wait: float) -> int:
        """A whole number of seconds for Retry-After (never 0: the client must wait)."""
        return max(1, math.ceil(wait))

    def _evict(self, now: float) -> None:
        full = [k for k, b in self._buckets.items() if b.tokens + (now - b.stamp) * self.rate >= self.burst]
        for key in full or list(self._buckets)[: len(self._buckets) // 2]:
            del self._buckets[key]
