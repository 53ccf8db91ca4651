"""An asyncio sliding-window rate limiter (no thread, no time.sleep)."""

from __future__ import annotations

import asyncio
import time
from collections import deque


class SlidingWindowLimiter:
    """At most ``max_events`` acquisitions in any ``period`` seconds (monotonic clock).

    Callers are served in arrival order. ``margin`` widens the window a little so a server that
    measures the same window with its own clock never sees one event too many.
    """

    def __init__(self, max_events: int, period: float = 1.0, margin: float = 0.02) -> None:
        if max_events < 1:
            raise ValueError("max_events must be >= 1")
        self.max_events = max_events
        self.window = period + margin
        self._times: deque[float] = deque()
        self._lock = asyncio.Lock()

    async def acquire(self) -> None:
        async with self._lock:
            while True:
                now = time.monotonic()
                while self._times and now - self._times[0] >= self.window:
                    self._times.popleft()
                if len(self._times) < self.max_events:
                    self._times.append(now)
                    return
                await asyncio.sleep(self.window - (now - self._times[0]))
