"""The /status body, rendered once per change instead of once per request.

Building the StatusView and encoding it costs tens of microseconds of loop time; under a
dashboard's (or a load test's) hundreds of requests a second that is loop time the ticks and
the exits wait behind. Everything /status shows changes either on an event or continuously:

* events call :meth:`StatusCache.invalidate` (``EngineController.status_changed``), so the
  next request renders afresh: every broker event (order, fill, trade, rejection, expiry,
  entries paused; through ``Outcomes``' after-report hook) and every forced status publish
  (the feed connecting, lost or recovered, pause, resume, flatten, a detected sleep);
* continuous fields (ages, uptime, loop lag, prices, equity and unrealized PnL, counters) and
  gate changes found by a timer (stale prices, the kill file, warm-up done) are re-rendered
  at most once per loop-lag sample and never served older than ``max_age`` (50 ms, the
  sampling interval): every lag sample still reaches some answer.

docs/api.md ("GET /status") states the same rule for clients.
"""

from __future__ import annotations

import time
from collections.abc import Callable

MAX_AGE_S = 0.05


class StatusCache:
    def __init__(self, render: Callable[[], bytes], samples: Callable[[], int],
                 max_age: float | None = None) -> None:
        self._render = render
        self._samples = samples  # loop-lag samples taken so far
        self._max_age = MAX_AGE_S if max_age is None else max_age
        self._body: bytes | None = None
        self._rendered_at = 0.0
        self._rendered_samples = -1

    def invalidate(self) -> None:
        """Something /status shows changed: the next request renders afresh."""
        self._body = None

    def body(self) -> bytes:
        now = time.monotonic()
        samples = self._samples()
        if self._body is None or samples != self._rendered_samples \
                or now - self._rendered_at >= self._max_age:
            # Render first: a render that raises leaves nothing half-updated behind.
            self._body = self._render()
            self._rendered_at, self._rendered_samples = now, samples
        return self._body
