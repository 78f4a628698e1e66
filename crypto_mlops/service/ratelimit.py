"""Per-client rate limit of the heavy calls: a token bucket per client address, bounded in memory.

REST (ml-signal, compare, chart) and GraphQL draw from the limiter of their app; a refused call gets
429 with Retry-After. `rate_per_min=0` turns it off.
"""

from __future__ import annotations

import math
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass

MAX_TRACKED_CLIENTS = 10_000  # oldest idle clients are forgotten first (a full bucket again)


@dataclass
class _Bucket:
    tokens: float
    updated: float


class RateLimiter:
    """`burst` calls at once, then `rate_per_min` a minute, per client key."""

    def __init__(self, rate_per_min: float, burst: int, max_clients: int = MAX_TRACKED_CLIENTS) -> None:
        self.rate_per_s = rate_per_min / 60.0
        self.burst = max(1, burst)
        self.max_clients = max_clients
        self._buckets: OrderedDict[str, _Bucket] = OrderedDict()
        self._lock = threading.Lock()
        self.refused = 0

    @property
    def enabled(self) -> bool:
        return self.rate_per_s > 0

    def acquire(self, client: str, cost: float = 1.0) -> float:
        """0 when the call may proceed, else the seconds to wait before retrying."""
        if not self.enabled:
            return 0.0
        now = time.monotonic()
        with self._lock:
            bucket = self._buckets.pop(client, None) or _Bucket(float(self.burst), now)
            bucket.tokens = min(float(self.burst), bucket.tokens + (now - bucket.updated) * self.rate_per_s)
            bucket.updated = now
            self._buckets[client] = bucket  # most recently seen last
            while len(self._buckets) > self.max_clients:
                self._buckets.popitem(last=False)
            if bucket.tokens >= cost:
                bucket.tokens -= cost
                return 0.0
            self.refused += 1
            return (cost - bucket.tokens) / self.rate_per_s


def retry_after_header(wait_s: float) -> str:
    """Retry-After in whole seconds (at least 1)."""
    return str(max(1, math.ceil(wait_s)))
