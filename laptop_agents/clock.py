"""Exchange time.

Against the real exchange, exchange time is the wall clock. Against the simulator it runs
``speed`` times faster, so every timer that waits for "the next candle boundary" must convert
exchange milliseconds to wall seconds through :meth:`Clock.wall_seconds_until`.
"""

from __future__ import annotations

import time
from typing import Protocol


class Clock(Protocol):
    @property
    def speed(self) -> float:
        """Exchange milliseconds per wall millisecond (1.0 for the real exchange)."""
        ...

    def now_ms(self) -> int:
        """Current exchange time in epoch milliseconds."""
        ...


class WallClock:
    """The real exchange's clock: the local wall clock."""

    speed = 1.0

    def now_ms(self) -> int:
        return time.time_ns() // 1_000_000


def wall_seconds_until(clock: Clock, exchange_ms: int) -> float:
    """Wall seconds until ``clock`` reaches ``exchange_ms`` (0 if already past)."""
    remaining = exchange_ms - clock.now_ms()
    return max(0.0, remaining / 1000.0 / clock.speed)
