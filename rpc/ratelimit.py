"""Per-client token buckets."""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable


class TokenBucketLimiter:
    """`rate_per_s` tokens per second up to `burst`, one bucket per key (remote IP). rate <= 0 disables."""

    def __init__(
        self,
        rate_per_s: float,
        burst: float,
        *,
        clock: Callable[[], float] = time.monotonic,
        max_clients: int = 10_000,
    ) -> None:
        self.rate = float(rate_per_s)
        self.burst = max(float(burst), 1.0)
        self._clock = clock
        self._max_clients = max_clients
        # key -> (tokens, last refill time); LRU order bounds memory under many source IPs
        self._buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()

    @property
    def enabled(self) -> bool:
        return self.rate > 0

    def _refill(self, key: str) -> float:
        now = self._clock()
        tokens, last = self._buckets.pop(key, (self.burst, now))
        tokens = min(self.burst, tokens + (now - last) * self.rate)
        self._buckets[key] = (tokens, now)
        if len(self._buckets) > self._max_clients:
            self._buckets.popitem(last=False)
        return tokens

    def take(self, key: str, cost: float = 1.0) -> float:
        """Spend `cost` tokens; returns 0.0 if allowed, else seconds until it would be."""
        if not self.enabled:
            return 0.0
        tokens = self._refill(key)
        if tokens >= cost:
            self._buckets[key] = (tokens - cost, self._buckets[key][1])
            return 0.0
        return (cost - tokens) / self.rate

    def charge(self, key: str, cost: float) -> None:
        """Spend tokens unconditionally (may go into debt): used for the rest of a batch."""
        if not self.enabled or cost <= 0:
            return
        tokens = self._refill(key)
        self._buckets[key] = (tokens - cost, self._buckets[key][1])
