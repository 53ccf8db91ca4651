"""Event-loop lag: how late a timer that asked to wake up in ``interval`` seconds actually woke.

Lag is the one number that tells whether something is blocking the loop (a slow strategy run
inline, a synchronous write, a CPU-bound parse). The heartbeat reports it and refuses to pet the
service watchdog while it is not sane.
"""

from __future__ import annotations

import asyncio
from collections import deque

from laptop_agents.metrics import Metrics


class LoopLagSampler:
    def __init__(self, interval: float = 0.05, window: int = 1200,
                 metrics: Metrics | None = None) -> None:
        self.interval = interval
        self._samples: deque[float] = deque(maxlen=window)
        self._metrics = metrics
        self.last = 0.0
        self.taken = 0  # samples recorded so far (the window forgets, this does not)
        self.max_seen = 0.0
        self._since_mark = 0.0
        self._sorted: list[float] | None = None  # the window sorted, until the next sample

    def record(self, lag: float) -> None:
        lag = max(0.0, lag)
        self.last = lag
        self.taken += 1
        self.max_seen = max(self.max_seen, lag)
        self._since_mark = max(self._since_mark, lag)
        self._samples.append(lag)
        self._sorted = None
        if self._metrics is not None:
            self._metrics.loop_lag.set(lag)

    @property
    def count(self) -> int:
        return len(self._samples)

    def percentile(self, pct: float) -> float:
        """The ``pct`` percentile (0-100) over the recent window; 0.0 with no samples."""
        if not self._samples:
            return 0.0
        # /status asks for it hundreds of times a second under load; the window changes 20
        # times a second: sort once per sample, not once per request.
        if self._sorted is None:
            self._sorted = sorted(self._samples)
        ordered = self._sorted
        index = min(len(ordered) - 1, max(0, round(pct / 100 * (len(ordered) - 1))))
        return ordered[index]

    def recent_max(self) -> float:
        return max(self._samples, default=0.0)

    def take_max_since_mark(self) -> float:
        """The worst lag since the previous call (the heartbeat's period), then start over."""
        worst, self._since_mark = self._since_mark, 0.0
        return worst

    def reset(self) -> None:
        self._samples.clear()
        self._sorted = None
        self.max_seen = 0.0

    async def run(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            expected = loop.time() + self.interval
            await asyncio.sleep(self.interval)
            self.record(loop.time() - expected)
