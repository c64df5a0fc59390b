"""Per-client token buckets: `per_minute` requests, refilled continuously, bursts up to the
same number. The server is one process, so the buckets live in memory."""

from __future__ import annotations

import math
import time
from collections.abc import Callable


class RateLimiter:
    def __init__(
        self,
        per_minute: int,
        clock: Callable[[], float] = time.monotonic,
        max_clients: int = 10_000,
    ) -> None:
        self.per_minute = per_minute
        self.clock = clock
        self.max_clients = max_clients
        self._buckets: dict[str, tuple[float, float]] = {}  # client -> (tokens, last time)

    def acquire(self, client: str) -> float:
        """0.0 when the request may go ahead, else the seconds until it may."""
        if self.per_minute <= 0:
            return 0.0
        now = self.clock()
        rate = self.per_minute / 60.0
        tokens, last = self._buckets.get(client, (float(self.per_minute), now))
        tokens = min(float(self.per_minute), tokens + (now - last) * rate)
        if tokens >= 1.0:
            self._remember(client, (tokens - 1.0, now))
            return 0.0
        self._remember(client, (tokens, now))
        return (1.0 - tokens) / rate

    def wait(self, client: str) -> float:
        """Seconds until `client` may go ahead, without spending anything (0.0: now)."""
        if self.per_minute <= 0 or client not in self._buckets:
            return 0.0
        tokens, last = self._buckets[client]
        rate = self.per_minute / 60.0
        tokens = min(float(self.per_minute), tokens + (self.clock() - last) * rate)
        return 0.0 if tokens >= 1.0 else (1.0 - tokens) / rate

    def _remember(self, client: str, state: tuple[float, float]) -> None:
        if client not in self._buckets and len(self._buckets) >= self.max_clients:
            full = [c for c, (t, _) in self._buckets.items() if t >= self.per_minute - 1]
            for stale in full or list(self._buckets)[: len(self._buckets) // 2]:
                del self._buckets[stale]
        self._buckets[client] = state


def retry_after_header(seconds: float) -> dict[str, str]:
    return {"Retry-After": str(max(1, math.ceil(seconds)))}
